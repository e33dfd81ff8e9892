"""The one way a test (or a benchmark) starts a `vpclab server` and waits for it.

Readiness is the server's own "vpclab ready" line, which it prints once it listens and
has recorded itself in the state directory; `free_port` is the one source of ports.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.config import Config

from .accounts import ACCOUNT_1, REGION

READY = "vpclab ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_root() -> bool:
    return os.geteuid() == 0


@dataclass
class ServerProcess:
    """A `vpclab server` subprocess on a port with its own state directory."""

    state_dir: Path
    port: int
    proc: subprocess.Popen | None = None
    # Control-plane tests run without the data plane (states settle by timer); data-plane
    # tests (marked netns) turn it on.
    dataplane: bool = False
    # The log up to the ready line of the last start.
    output: list[str] | None = None
    # Extra environment variables for the server (e.g. VPCLAB_HEALTH_CHECK_SCALE).
    env: dict | None = None
    # The server's working directory (`python -m vpclab.cli` imports vpclab from there first).
    cwd: Path | None = None
    # Descriptors the server inherits (same numbers), e.g. to start it with many open.
    pass_fds: tuple[int, ...] = ()
    # Words before the interpreter, e.g. `unshare --user ...` to run it unprivileged.
    launcher: tuple[str, ...] = ()
    # Seconds `start` waits for the ready line.
    start_timeout: float = 30.0
    _log_offset: int = field(default=0, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "server.log"

    def start(self, timeout: float | None = None) -> ServerProcess:
        """Start and wait for the ready line; output goes to a log file (a pipe nobody
        reads would fill and block the server)."""
        timeout = self.start_timeout if timeout is None else timeout
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.launcher, sys.executable, "-m", "vpclab.cli", "server", "--port", str(self.port),
                 "--state-dir", str(self.state_dir),
                 "--dataplane" if self.dataplane else "--no-dataplane"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env} if self.env else None,
                pass_fds=self.pass_fds, cwd=self.cwd,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.output_since_start()
            if READY in text:
                self.output = text.splitlines()
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"vpclab server did not start (exit {self.proc.poll()}): "
                           f"{self.output_since_start()[-2000:]}")

    def output_since_start(self) -> str:
        return self.log_path.read_bytes()[self._log_offset:].decode(errors="replace")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the process this object started (by its pid), and nothing else."""
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

    # The data plane's reconcile passes --------------------------------------------------
    def passes(self, full: bool = False) -> int:
        """Reconcile passes the server's data plane has ended (full passes: those that read
        every namespace), from its health endpoint."""
        with urllib.request.urlopen(self.url + "/_vpclab/health", timeout=5) as resp:
            counters = json.load(resp)["dataplane"]
        if counters is None:
            raise AssertionError("the server runs without its data plane: no passes to wait for")
        return counters["full_passes" if full else "passes"]

    def wait_for_passes(self, n: int = 2, full: bool = False, timeout: float | None = None) -> None:
        """Wait until `n` more passes have ended than now. Call it after the change: the
        pass under way may have read the store before it, so n=2 means at least one whole
        pass saw it (the default). `full` counts full passes only."""
        start = self.passes(full)
        if timeout is None:
            timeout = 60.0 if full else 20.0
        deadline = time.monotonic() + timeout
        while self.passes(full) < start + n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{n} {'full ' if full else ''}data-plane passes not ended in {timeout}s")
            time.sleep(0.02)
