"""A vpclab server for the lab: the one already running on the state directory, or a new
one started in the background (left running with --keep, stopped and torn down after).

Every way this can fail is a `LabServerError` whose text is one line for the user: the
state directory unusable, the new server's own one-line refusal (its log's last line:
another server took the state directory, a port in use), nothing answering at
`--endpoint-url`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from ..server import read_server_info
from ..state_lock import StateDirError, prepare

#: Health checks in the lab run 20x faster than their configured intervals, so the
#: target turns healthy in seconds instead of AWS's minutes; the API still reports the
#: configured values.
LAB_HEALTH_CHECK_SCALE = "0.05"


#: The pid of a server the lab started and left running (--keep, or a failed run), so that
#: `--cleanup` knows the server is the lab's to stop.
LAB_SERVER_FILE = "lab-server.json"


def started_by_lab(state_dir: Path, pid: int | None) -> bool:
    try:
        return pid is not None and json.loads((state_dir / LAB_SERVER_FILE).read_text()).get("pid") == pid
    except (OSError, ValueError, AttributeError):
        return False


def forget_lab_server(state_dir: Path) -> None:
    (state_dir / LAB_SERVER_FILE).unlink(missing_ok=True)


class LabServerError(Exception):
    """No server the lab can use; `str()` is one line."""


@dataclass
class Server:
    url: str
    state_dir: Path
    pid: int | None
    started_here: bool
    dataplane: bool
    dataplane_off: str | None = None  # why not, as the server said it

    @classmethod
    def of(cls, info: dict, state_dir: Path, started_here: bool) -> "Server":
        return cls(info["url"], state_dir, info["pid"], started_here, bool(info.get("dataplane")),
                   info.get("dataplane_off"))


def _wait_ready(state_dir: Path, pid: int, timeout: float) -> dict | None:
    """The server info once server `pid` of `state_dir` is ready, or None if it went away."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_server_info(state_dir, ready_only=False)
        if info is None or info.get("pid") != pid:
            return None
        if info.get("ready"):
            return info
        time.sleep(0.05)
    raise LabServerError(f"the vpclab server pid {pid} on {state_dir} did not become ready in "
                         f"{timeout:.0f} s; see {state_dir / 'server.log'}")


def ensure_server(state_dir: Path, timeout: float = 30.0) -> Server:
    """The server running (or starting) on `state_dir`, or a new one the lab starts."""
    info = read_server_info(state_dir, ready_only=False)
    if info is not None:
        ready = _wait_ready(state_dir, info["pid"], timeout)
        if ready is not None:
            return Server.of(ready, state_dir, started_here=False)
    try:
        prepare(state_dir)
    except StateDirError as exc:
        raise LabServerError(str(exc)) from None
    log_path = state_dir / "server.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    env = {**os.environ, "VPCLAB_HEALTH_CHECK_SCALE": os.environ.get(
        "VPCLAB_HEALTH_CHECK_SCALE", LAB_HEALTH_CHECK_SCALE)}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            # Port 0: the kernel picks a free one and server.json says which.
            [sys.executable, "-m", "vpclab.cli", "server", "--port", "0", "--state-dir", str(state_dir)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,  # survives the lab with --keep; stopped by `vpclab down`
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = read_server_info(state_dir, ready_only=False)
        if info is not None and info.get("ready") and info.get("pid") == proc.pid:
            (state_dir / LAB_SERVER_FILE).write_text(json.dumps({"pid": proc.pid}))
            return Server.of(info, state_dir, started_here=True)
        if proc.poll() is not None:
            # Another server may have taken the state directory first: use that one.
            other = read_server_info(state_dir, ready_only=False)
            if other is not None and other.get("pid") != proc.pid:
                ready = _wait_ready(state_dir, other["pid"], timeout)
                if ready is not None:
                    return Server.of(ready, state_dir, started_here=False)
            raise LabServerError(_last_line(log_path, offset) or
                                 f"the vpclab server exited with {proc.returncode}; see {log_path}")
        time.sleep(0.05)
    raise LabServerError(f"the vpclab server pid {proc.pid} did not become ready in {timeout:.0f} s; "
                         f"see {log_path}; stop it with `vpclab down --state-dir {state_dir}`")


def _last_line(log_path: Path, offset: int) -> str:
    """The server's own one-line reason (without its `vpclab: `), from what it logged."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            lines = [line for line in f.read().decode(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    if not lines:
        return ""
    return lines[-1].removeprefix("vpclab: ")


def _answers(endpoint_url: str) -> bool:
    """Whether an AWS endpoint answers at `endpoint_url` (an STS call, signed as SDKs sign)."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        sts = boto3.client("sts", endpoint_url=endpoint_url, region_name="ap-south-1",
                           aws_access_key_id="111111111111", aws_secret_access_key="vpclab",
                           config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10))
    except ValueError as exc:  # botocore: "Invalid endpoint: …"
        raise LabServerError(f"--endpoint-url {endpoint_url}: {exc}") from None
    try:
        sts.get_caller_identity()
    except ClientError:
        return True  # something answered, in AWS's words
    except (EndpointConnectionError, BotoCoreError):
        return False
    return True


def attach(endpoint_url: str, state_dir: Path) -> Server:
    """The server at `endpoint_url`, which must be the one of `state_dir` (the lab enters
    instances through the state directory)."""
    if not _answers(endpoint_url):
        raise LabServerError(f"nothing answers at {endpoint_url}: start a server there with "
                             f"`vpclab server --state-dir {state_dir}`, or leave out --endpoint-url "
                             "and the lab starts its own")
    info = read_server_info(state_dir)
    port = urlparse(endpoint_url).port
    if info is None:
        raise LabServerError(f"no vpclab server runs on {state_dir}; give the --state-dir of the "
                             f"server at {endpoint_url}")
    if port is not None and info.get("port") != port:
        raise LabServerError(f"the server of {state_dir} listens on {info['url']}, not {endpoint_url}; "
                             "give the --state-dir of the server at that address")
    return Server.of(info, state_dir, started_here=False)
