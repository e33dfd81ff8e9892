"""A real vpclab server per test module, driven through real boto3."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

REGION = "ap-south-1"
ACCOUNT_1 = "111111111111"
ACCOUNT_2 = "222222222222"


def code_of(err) -> str:
    """The AWS error code of a `pytest.raises(ClientError)` result."""
    return err.value.response["Error"]["Code"]


def message_of(err) -> str:
    return err.value.response["Error"]["Message"]


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met in {timeout}s")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerProcess:
    """A `vpclab server` subprocess on a free port with its own state directory."""

    state_dir: Path
    port: int
    proc: subprocess.Popen | None = None
    # Control-plane tests run without the data plane (states settle by timer); data-plane
    # tests (marked netns) turn it on.
    dataplane: bool = False
    output: list[str] | None = None
    # Extra environment variables for the server (e.g. VPCLAB_HEALTH_CHECK_SCALE).
    env: dict | None = None
    # The server's working directory (`python -m vpclab.cli` imports vpclab from there first).
    cwd: Path | None = None
    # Descriptors the server inherits (same numbers), e.g. to start it with many open.
    pass_fds: tuple[int, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> "ServerProcess":
        """Start and wait for the ready line; output goes to a log file (a pipe nobody
        reads would fill and block the server)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir / "server.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vpclab.cli", "server", "--port", str(self.port),
             "--state-dir", str(self.state_dir),
             "--dataplane" if self.dataplane else "--no-dataplane"],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **self.env} if self.env else None,
            pass_fds=self.pass_fds, cwd=self.cwd,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log_path.read_bytes()[offset:].decode(errors="replace")
            if "vpclab ready" in text:
                self.output = text.splitlines()
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"vpclab server did not start (exit {self.proc.poll()}): "
                           f"{log_path.read_bytes()[offset:].decode(errors='replace')[-2000:]}")

    def log(self) -> str:
        return (self.state_dir / "server.log").read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    def client(self, service: str, account: str = ACCOUNT_1, region: str = REGION):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=account,
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )


@pytest.fixture
def server(tmp_path):
    srv = ServerProcess(tmp_path / "state", free_port()).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server for a module of tests that do not care about each other's resources."""
    srv = ServerProcess(tmp_path_factory.mktemp("state"), free_port()).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def ec2(shared_server):
    return shared_server.client("ec2")


@pytest.fixture
def ec2_2(shared_server):
    return shared_server.client("ec2", ACCOUNT_2)


def _is_root() -> bool:
    return os.geteuid() == 0


def _dataplane_server(state_dir: Path, env: dict | None = None):
    """A server with the data plane on (root only); everything it made is removed after."""
    if not _is_root():
        pytest.skip("the data plane needs root")
    from vpclab.commands.down import tear_down
    from vpclab.kernel import naming, netns

    srv = ServerProcess(state_dir, free_port(), dataplane=True, env=env)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        tear_down(srv.state_dir)
        assert netns.list_namespaces(naming.prefix_for_state_dir(srv.state_dir)) == []


@pytest.fixture
def dataplane_server(tmp_path):
    """A server with the data plane on; torn down (`vpclab down`) after the test."""
    yield from _dataplane_server(tmp_path / "state")


@pytest.fixture
def fast_dataplane_server(tmp_path):
    """`dataplane_server` with health checks 20x faster (VPCLAB_HEALTH_CHECK_SCALE=0.05)."""
    yield from _dataplane_server(tmp_path / "state", {"VPCLAB_HEALTH_CHECK_SCALE": "0.05"})


def pytest_collection_modifyitems(config, items):
    """Tests that use the data plane are marked `netns` (so `-m "not netns"` skips them),
    and skipped where namespaces cannot be made."""
    reason = None
    if not _is_root():
        reason = "needs root (creates network namespaces)"
    elif shutil.which("ip") is None:
        reason = "needs iproute2"
    for item in items:
        if {"dataplane_server", "fast_dataplane_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.netns)
        if reason is not None and "netns" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def prefix(tmp_path) -> str:
    """A per-test kernel prefix; a fake state dir under tmp_path makes it unique per run."""
    from vpclab.kernel import naming

    return naming.prefix_for_state_dir(tmp_path / "state")


@pytest.fixture
def owned(prefix: str):
    """Yield the prefix; afterwards delete every namespace carrying it (and check none is left)."""
    from vpclab.kernel import netns

    yield prefix
    for name in netns.list_namespaces(prefix):
        try:
            netns.delete(name, timeout=10)
        except netns.NamespaceBusy:
            pass
    assert netns.list_namespaces(prefix) == []


@pytest.fixture
def backend(owned: str):  # type: ignore[no-untyped-def]
    """A real `Backend` for the test's prefix; everything it made is destroyed after."""
    from vpclab.kernel import Backend

    b = Backend.linux(owned)
    try:
        yield b
    finally:
        try:
            b.destroy()
        finally:
            b.close()
