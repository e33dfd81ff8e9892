"""A vpclab server for the lab: the one already running on the state directory, or a new
one started in the background (left running with --keep, stopped and torn down after)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..server import read_server_info

#: Health checks in the lab run 20x faster than their configured intervals, so the
#: target turns healthy in seconds instead of AWS's minutes; the API still reports the
#: configured values.
LAB_HEALTH_CHECK_SCALE = "0.05"


@dataclass
class Server:
    url: str
    state_dir: Path
    pid: int | None
    started_here: bool
    dataplane: bool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_server(state_dir: Path, timeout: float = 30.0) -> Server:
    info = read_server_info(state_dir)
    if info is not None:
        return Server(info["url"], state_dir, info["pid"], False, bool(info.get("dataplane")))
    state_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = open(state_dir / "server.log", "ab")
    env = {**os.environ, "VPCLAB_HEALTH_CHECK_SCALE": os.environ.get(
        "VPCLAB_HEALTH_CHECK_SCALE", LAB_HEALTH_CHECK_SCALE)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vpclab.cli", "server", "--port", str(port), "--state-dir", str(state_dir)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        start_new_session=True,  # survives the lab with --keep; stopped by `vpclab down`
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_server_info(state_dir)
        if info is not None and info.get("pid") == proc.pid:
            return Server(info["url"], state_dir, proc.pid, True, bool(info.get("dataplane")))
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"the vpclab server did not start; see {state_dir / 'server.log'}")
