"""`vpclab lab privatelink` as a user runs it, and what of a state directory still runs."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vpclab.kernel import naming, netns


def processes_of(state_dir: Path) -> list[int]:
    """Pids whose command line names the state directory (its server), or that live in
    one of its namespaces."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if str(state_dir).encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    prefix = naming.prefix_for_state_dir(state_dir)
    for name in netns.list_namespaces(prefix):
        inode = netns.inode_of(name)
        if inode:
            pids.extend(netns.tasks_in(inode))
    return pids


def run_lab(state_dir: Path, *extra: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vpclab.cli", "lab", "privatelink", "--state-dir",
                           str(state_dir), *extra], capture_output=True, text=True, timeout=timeout)
