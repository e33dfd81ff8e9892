"""What a namespace costs the process: no thread or socket kept per leaf namespace, and
libnftables working however many descriptors the process holds (it select()s on its socket).

Real namespaces and nftables; no packet is sent. Each test has its own prefix (`owned`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from tests.helpers.netns_lab import leaf_plan
from vpclab.kernel import Backend, linux, netns
from vpclab.kernel.linux import LinuxKernel
from vpclab.kernel.seam import ApplyTable

pytestmark = pytest.mark.netns

REPOSITORY = Path(__file__).resolve().parents[2]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def namespace_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("netns-"))


def test_leaf_namespaces_do_not_each_keep_a_thread(owned: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve namespaces through a kernel keeping four threads: at most four threads (and
    their sockets) stay, and a namespace whose thread was closed still gets element
    updates (what was applied there outlives its thread)."""
    monkeypatch.setattr(linux, "MAX_THREADS", 4, raising=False)
    backend = Backend(LinuxKernel(owned))
    threads_before, fds_before = namespace_threads(), open_fds()
    try:
        backend.apply(leaf_plan(owned, 12, ["172.31.0.10"]))
        assert namespace_threads() - threads_before <= 4
        assert open_fds() - fds_before <= 4 * 5
        actions = backend.apply(leaf_plan(owned, 12, ["172.31.0.10", "172.31.0.11"]))
        assert len(actions) == 12 and all(isinstance(a, ApplyTable) and a.current is not None for a in actions)
        assert backend.apply(leaf_plan(owned, 12, ["172.31.0.10", "172.31.0.11"])) == []
        listing = netns.run(f"{owned}-i-000", ["nft", "list", "set", "inet", f"{owned}-sg", "members"],
                            check=True).stdout
        assert "172.31.0.11" in listing
        backend.destroy()
    finally:
        backend.close()
    assert namespace_threads() == threads_before


SCRIPT = textwrap.dedent('''
    import os, sys
    from tests.helpers.netns_lab import leaf_plan  # python -c: the repository (the cwd) is on sys.path
    from vpclab.kernel import Backend
    prefix = sys.argv[1]
    backend = Backend.linux(prefix)  # takes its low descriptors while few are open
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    assert held[-1] > 1024
    backend.apply(leaf_plan(prefix, 40, ["172.31.0.10"]))  # 40 > the threads kept: contexts come and go
    backend.apply(leaf_plan(prefix, 40, ["172.31.0.10", "172.31.0.12"]))
    assert backend.apply(leaf_plan(prefix, 40, ["172.31.0.10", "172.31.0.12"])) == []
    print("applied", os.open(os.devnull, os.O_RDONLY))
    backend.destroy()
    backend.close()
''')


def test_nft_applies_while_the_process_holds_more_than_fd_setsize_descriptors(owned: str) -> None:
    """libnftables select()s on its socket after a batch: with a socket numbered 1024 or
    more it aborted the process ("bit out of range 0 - FD_SETSIZE on fd_set")."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, owned], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 1024  # the process really held that many
    assert netns.list_namespaces(owned) == []


def test_a_closed_namespace_thread_refuses_calls(owned: str) -> None:
    name = f"{owned}-closed"
    netns.create(name)
    t = netns.NamespaceThread(name)
    assert t.call(netns.current_inode) == netns.inode_of(name)
    t.close()
    outcome: list[BaseException | int] = []

    def late_call() -> None:
        try:
            outcome.append(t.call(netns.current_inode))
        except BaseException as exc:  # noqa: BLE001 - inspected below
            outcome.append(exc)

    caller = threading.Thread(target=late_call, daemon=True)
    caller.start()
    caller.join(timeout=5)
    assert outcome and isinstance(outcome[0], netns.NamespaceError)  # raised, not left waiting forever
    netns.delete(name)
