"""One server per state directory: a second one, on the same port or another, exits at
once with one line naming the first, writes nothing, and leaves the first serving and
findable by `status` and `down`; the lab does not start a second one either."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.server import ServerProcess, free_port
from vpclab import state_lock
from vpclab.lab.embedded import LabServerError, ensure_server


def vpclab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vpclab.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def snapshot(state_dir) -> tuple[set[str], str, str]:
    """The files of a state directory, and what server.json and the lock file say (the
    store itself the first server may write to at any time)."""
    return ({p.name for p in state_dir.iterdir()}, (state_dir / "server.json").read_text(),
            (state_dir / "server.lock").read_text())


@pytest.mark.parametrize("same_port", [True, False], ids=["same-port", "other-port"])
def test_second_server_on_a_state_directory_exits_with_one_line(tmp_path, same_port):
    first = ServerProcess(tmp_path / "state", free_port()).start()
    try:
        ec2 = first.client("ec2", ACCOUNT_1)
        vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
        before = snapshot(first.state_dir)
        port = first.port if same_port else free_port()
        t0 = time.monotonic()
        second = vpclab("server", "--no-dataplane", "--port", str(port), "--state-dir", str(first.state_dir))
        took = time.monotonic() - t0
        assert second.returncode != 0
        line = one_line(second.stderr)
        assert f"in use by the vpclab server pid {first.proc.pid} at {first.url}" in line, line
        assert "vpclab down" in line
        assert took < 10, took
        # It wrote nothing: no file new, server.json and the lock file as they were.
        assert snapshot(first.state_dir) == before
        # The first still serves, and status and down find it.
        assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"]] == [vpc]
        status = json.loads(vpclab("status", "--json", "--state-dir", str(first.state_dir)).stdout)
        assert status["server"]["pid"] == first.proc.pid
        down = vpclab("down", "--state-dir", str(first.state_dir))
        assert down.returncode == 0, down.stderr
        assert f"stopped server {first.proc.pid}" in down.stdout
        first.proc.wait(timeout=20)
    finally:
        first.stop()


def test_a_restarted_server_takes_the_state_directory_again(tmp_path):
    """The lock dies with its holder (here a kill -9): no stale lock to clean up."""
    srv = ServerProcess(tmp_path / "state", free_port()).start()
    srv.kill9()
    again = ServerProcess(srv.state_dir, free_port()).start()
    try:
        assert again.client("ec2").describe_vpcs()["Vpcs"]
        assert state_lock.holder(again.state_dir)["pid"] == again.proc.pid
    finally:
        again.stop()
    assert state_lock.holder(again.state_dir) == {}  # emptied on a clean exit


def test_lab_does_not_start_a_second_server(tmp_path):
    """A server holds the state directory but has not written server.json yet (it is
    starting): the lab's embedded server refuses in one line, and so does the lab."""
    state_dir = tmp_path / "state"
    lock = state_lock.acquire(state_dir, {"pid": os.getpid(), "url": "http://127.0.0.1:1"})
    try:
        with pytest.raises(LabServerError) as err:
            ensure_server(state_dir, timeout=30)
        assert f"in use by the vpclab server pid {os.getpid()}" in str(err.value)
        t0 = time.monotonic()
        lab = vpclab("lab", "privatelink", "--state-dir", str(state_dir))
        assert lab.returncode != 0
        assert f"in use by the vpclab server pid {os.getpid()}" in one_line(lab.stderr)
        assert time.monotonic() - t0 < 20
        assert not (state_dir / "server.json").exists()
    finally:
        lock.release()
