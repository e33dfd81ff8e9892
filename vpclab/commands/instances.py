"""`vpclab exec INSTANCE -- CMD...` and `vpclab ssh INSTANCE`: enter a running instance.

Both read the store read-only (the server may be running or not), find the instance by
id or Name tag, and replace themselves with the command inside the instance (the
namespaces of its init: network, mounts, host name, IPC, PIDs), confined like every
process of an instance (`vpclab.kernel.confinement`), and in its cgroup, so that
what the command leaves running ends when the instance stops. stdin/stdout/stderr, the
terminal and the exit code pass straight through (`nsenter` waits for the command).
`ssh` is a login shell as the image's default user (`aws_names.default_user`: ec2-user,
admin, ubuntu), who has passwordless sudo; `exec` runs as root unless `--user` says
otherwise.
"""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

# No Typer at import time: `vpclab exec` takes a fast path (see cli.main) that must start
# quickly, since scripts and the lab call it in loops.
from .options import fail, resolve_state_dir

if TYPE_CHECKING:
    import typer

    from ..model.ec2 import Instance


def _load(state_dir: Path) -> tuple[list[Instance], dict[str, str]]:
    """(instances, vpc id -> CIDR) from `state_dir/state.db`, opened read-only."""
    from ..model.ec2 import Instance, Vpc

    db_path = state_dir / "state.db"
    if not db_path.exists():
        fail(f"no vpclab state in {state_dir} (no state.db)")
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
        try:
            rows = db.execute("SELECT kind, body FROM resources WHERE kind IN (?, ?)",
                              (Instance.kind, Vpc.kind)).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        fail(f"cannot read {db_path}: {exc}")
    instances: list[Instance] = []
    cidrs: dict[str, str] = {}
    for kind, body in rows:
        if kind == Instance.kind:
            instances.append(Instance.from_json(body))
        else:
            vpc = Vpc.from_json(body)
            cidrs[vpc.id] = vpc.cidr_block
    return instances, cidrs


def find_instance(state_dir: Path, ref: str, account: Optional[str]) -> tuple[Instance, str | None]:
    """The instance `ref` (an id or a Name tag) and its VPC's CIDR; one-line errors."""
    instances, cidrs = _load(state_dir)
    if account:
        instances = [i for i in instances if i.account == account]
    if ref.startswith("i-"):
        found = [i for i in instances if i.id == ref]
    else:
        found = [i for i in instances if i.tags.get("Name") == ref and i.state != "terminated"]
        if not found:
            found = [i for i in instances if i.tags.get("Name") == ref]
    where = f" in account {account}" if account else ""
    if not found:
        fail(f"no instance {ref!r}{where} in {state_dir}")
    if len(found) > 1:
        listed = ", ".join(f"{i.id} (account {i.account}, {i.state})" for i in found)
        fail(f"{len(found)} instances are named {ref!r}: {listed}; give an id or --account")
    inst = found[0]
    return inst, cidrs.get(inst.vpc_id)


def _enter(state_dir: Path, ref: str, account: Optional[str], argv: list[str], *,
           user: str | None = None, login: bool = False) -> None:
    """Replace this process with `argv` inside the instance, as root or `user`; `login`:
    as the image's default user, in a login shell's environment."""
    from ..dataplane.agents.instances import NoInit, cgroup_of, enter_command, instance_env, namespace_of
    from ..kernel import naming, netns
    from ..kernel.cgroups import CgroupUnavailable

    if os.geteuid() != 0:
        fail("entering an instance needs root (network namespaces)")
    from ..aws_names import default_user

    inst, _ = find_instance(state_dir, ref, account)
    if login:
        user = default_user(inst.distribution)
    user = user or "root"
    home = "/root" if user == "root" else f"/home/{user}"
    if inst.state != "running":
        fail(f"instance {inst.id} is {inst.state}, not running")
    prefix = naming.prefix_for_state_dir(state_dir)
    ns = namespace_of(prefix, inst.id)
    if not netns.exists(ns):
        fail(f"instance {inst.id} has no namespace {ns} (is the server with its data plane running?)")
    try:
        full = enter_command(prefix, inst.id, argv, user)
        # Into the instance's cgroup before exec: what the command starts is the
        # instance's, and ends with it.
        cgroup_of(prefix, inst.id).join()
    except NoInit:
        fail(f"instance {inst.id} has no init running in {ns} (the server's data plane boots "
             "it again; is the server running?)")
    except (OSError, CgroupUnavailable) as exc:
        fail(f"cannot enter instance {inst.id}: {exc}")
    env = instance_env(home=home, user=user)
    if login:
        env["PS1"] = r"[\u@\h \W]\$ "
    os.chdir("/")
    try:
        os.execvpe(full[0], full, env)
    except OSError as exc:
        fail(f"cannot run {full[0]}: {exc}")


EXEC_USAGE = "vpclab exec [--state-dir D] [--account A] [--user U] INSTANCE [--state-dir D] [--account A] [--user U] [--] CMD..."


def exec_fast(args: list[str]) -> None:
    """`vpclab exec` without Typer. Options may come before or after the instance (the
    lab prints `vpclab exec INSTANCE --state-dir D -- CMD`); the command starts after
    `--`, or at the first word after the instance that is not an option."""
    state_dir: Optional[Path] = None
    user: Optional[str] = None
    account: Optional[str] = None
    ref: Optional[str] = None
    rest = list(args)
    while rest:
        word = rest[0]
        if word == "--":
            rest.pop(0)
            break
        if not word.startswith("--"):
            if ref is not None:
                break  # the command
            ref = rest.pop(0)
            continue
        rest.pop(0)
        name, _, value = word.partition("=")
        if name not in ("--state-dir", "--account", "--user"):
            fail(f"exec: unknown option {name} (usage: {EXEC_USAGE})", 2)
        if not value:
            if not rest:
                fail(f"exec: {name} needs a value", 2)
            value = rest.pop(0)
        if name == "--state-dir":
            state_dir = Path(value)
        elif name == "--user":
            user = value
        else:
            account = value
    if ref is None:
        fail(f"exec: give an instance and a command: {EXEC_USAGE}", 2)
    if not rest:
        fail("exec: give a command after --", 2)
    _enter(resolve_state_dir(state_dir), ref, account, rest, user=user)


def register(app: typer.Typer) -> None:
    import typer

    from .options import state_dir_option

    @app.command("exec", context_settings={"ignore_unknown_options": True})
    def exec_(
        instance: str = typer.Argument(..., help="Instance id or Name tag."),
        command: List[str] = typer.Argument(..., help="Command to run (after --)."),
        account: Optional[str] = typer.Option(None, "--account", help="Only this account's instances."),
        user: Optional[str] = typer.Option(None, "--user", help="Run as this user of the instance (default root)."),
        state_dir: Optional[Path] = state_dir_option(),
    ) -> None:
        """Run a command inside a running instance: its network, mounts and host name.

        stdin, stdout and stderr pass through and the exit code is the command's.
        Example: vpclab exec web-1 -- curl -s http://127.0.0.1/
        """
        _enter(resolve_state_dir(state_dir), instance, account, list(command), user=user)

    @app.command("ssh")
    def ssh(
        instance: str = typer.Argument(..., help="Instance id or Name tag."),
        account: Optional[str] = typer.Option(None, "--account", help="Only this account's instances."),
        state_dir: Optional[Path] = state_dir_option(),
    ) -> None:
        """An interactive login shell inside a running instance, as its image's default
        user (ec2-user, admin, ubuntu) with passwordless sudo, as `ssh ec2-user@...`."""
        script = 'cd "$HOME" 2>/dev/null || cd /; if command -v bash >/dev/null; then exec bash -l; fi; exec sh -l'
        _enter(resolve_state_dir(state_dir), instance, account, ["sh", "-c", script], login=True)


__all__ = ["find_instance", "register"]
