"""`vpclab down`: stop a state directory's server and remove everything it made."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Optional

import typer

from .options import fail, resolve_state_dir, state_dir_option


def stop_server(state_dir: Path, timeout: float = 20.0) -> int | None:
    """SIGTERM the server recorded for `state_dir` (ready or still starting); its pid, or None."""
    from ..server import read_server_info

    info = read_server_info(state_dir, ready_only=False)
    if info is None:  # none recorded, or the pid is gone or reused by another program
        (state_dir / "server.json").unlink(missing_ok=True)
        return None
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (state_dir / "server.json").unlink(missing_ok=True)
    return pid


def _alive(pid: int) -> bool:
    """Running, as opposed to gone or exited-but-unreaped (the lab's embedded server is
    the lab's child: reap it here, or it stays a zombie until the lab exits)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_namespace_processes(prefix: str, timeout: float = 5.0) -> int:
    """End every process of `prefix`'s instances: those in its instance cgroups (even
    when an instance's namespace was deleted by hand) and any other inside a namespace
    carrying `prefix` (all were started by vpclab). Removes the cgroups; the number of
    processes ended."""
    from ..kernel import cgroups, netns

    groups = cgroups.instance_cgroups(prefix)

    def current() -> set[int]:
        pids = {p for g in groups for p in g.pids()}
        for name in netns.list_namespaces(prefix):
            inode = netns.inode_of(name)
            if inode is not None:
                pids.update(netns.tasks_in(inode))
        pids.discard(os.getpid())
        return pids

    ended: set[int] = set()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = current()
        if not left:
            break
        ended |= left
        if sig == signal.SIGKILL:
            for group in groups:
                group.kill()
        for pid in left:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and current():
            time.sleep(0.05)
    for group in groups:
        group.remove()
    cgroups.remove_prefix_dir(prefix)
    return len(ended)


def tear_down(state_dir: Path) -> dict:
    """Stop the server, end instance processes, remove namespaces, links and tables."""
    from ..dataplane.runtime import namespaces_unavailable
    from ..kernel import Backend, naming

    result = {"server_pid": stop_server(state_dir), "processes": 0, "namespaces": 0}
    if namespaces_unavailable() is not None:
        return result
    prefix = naming.prefix_for_state_dir(state_dir)
    from ..kernel import netns

    result["namespaces"] = len(netns.list_namespaces(prefix))
    result["processes"] = kill_namespace_processes(prefix)
    backend = Backend.linux(prefix)
    try:
        backend.destroy()
    finally:
        backend.close()
    return result


def _owner_hint(state_dir: Path) -> str:
    """Who can stop it: the state directory's owner (its server runs as that user)."""
    import pwd

    try:
        uid = state_dir.stat().st_uid
        owner = pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return "run it as the user the server runs as"
    if uid == 0:
        return f"the state directory belongs to root: run `sudo vpclab down --state-dir {state_dir}`"
    return f"the state directory belongs to {owner}: run `vpclab down` as {owner}"


def _check_namespaces_gone(state_dir: Path) -> None:
    """`tear_down` removes namespaces only where the data plane can run (root): say so
    when some are left rather than report success."""
    from ..kernel import naming, netns

    try:
        left = netns.list_namespaces(naming.prefix_for_state_dir(state_dir))
    except OSError:
        return
    if left:
        from ..dataplane.runtime import unavailable_reason

        why = unavailable_reason() or "they are still in use"
        hint = f"; run `sudo vpclab down --state-dir {state_dir}`" if os.geteuid() != 0 else ""
        fail(f"{len(left)} namespaces of {state_dir} remain ({why}){hint}")


def register(app: typer.Typer) -> None:
    @app.command()
    def down(state_dir: Optional[Path] = state_dir_option()) -> None:
        """Stop the server of a state directory and remove everything it made in the kernel.

        The stored state (the resources the APIs show) is kept; delete the state
        directory to forget it too.
        """
        sd = resolve_state_dir(state_dir)
        if sd.exists() and not sd.is_dir():
            fail(f"{sd} is not a state directory (not a directory)")
        try:
            result = tear_down(sd)
        except PermissionError as exc:
            fail(f"cannot stop what runs for {sd}: {exc.strerror} ({_owner_hint(sd)})")
        _check_namespaces_gone(sd)
        server = f"stopped server {result['server_pid']}" if result["server_pid"] else "no server running"
        typer.echo(f"vpclab down: {server}; ended {result['processes']} instance processes; "
                   f"removed {result['namespaces']} namespaces ({sd})")
