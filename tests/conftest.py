"""Fixtures: real vpclab servers (driven through real boto3) and kernel prefixes.

The helpers they use live in `tests/helpers/` (tests/README.md); test modules import
those, not this file.
"""
from __future__ import annotations

import shutil

import pytest

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.dataplane_server import dataplane_server_in
from tests.helpers.server import ServerProcess, free_port, is_root

#: The console's browser fixtures (`browser`, `console_server`) for every test module.
pytest_plugins = ["tests.helpers.console"]


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


@pytest.fixture
def dataplane_server(tmp_path):
    """A server with the data plane on; torn down (`vpclab down`) after the test."""
    yield from dataplane_server_in(tmp_path / "state")


@pytest.fixture
def fast_dataplane_server(tmp_path):
    """`dataplane_server` with health checks 20x faster (VPCLAB_HEALTH_CHECK_SCALE=0.05)."""
    yield from dataplane_server_in(tmp_path / "state", {"VPCLAB_HEALTH_CHECK_SCALE": "0.05"})


def pytest_collection_modifyitems(config, items):
    """Tests that use the data plane are marked `netns` (so `-m "not netns"` skips them),
    and skipped where namespaces cannot be made."""
    reason = None
    if not is_root():
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
