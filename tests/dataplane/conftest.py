"""Fixtures for data-plane tests.

Root tests (`@pytest.mark.netns`) get a fresh prefix per test (derived from the test's own
tmp_path, as a server derives it from its state dir), and a finalizer that removes every
namespace carrying it, even when the test failed half-way.
"""

from __future__ import annotations

import os
import shutil

import pytest

from vpclab.dataplane import naming, netns


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "netns: needs root and creates network namespaces")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if os.geteuid() != 0:
        reason = "needs root (creates network namespaces)"
    elif shutil.which("ip") is None:
        reason = "needs iproute2"
    if reason is None:
        return
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def prefix(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A per-test prefix; a fake state dir under tmp_path makes it unique per run."""
    return naming.prefix_for_state_dir(tmp_path / "state")


@pytest.fixture
def owned(prefix: str):  # type: ignore[no-untyped-def]
    """Yield the prefix; afterwards delete every namespace carrying it (and check none is left)."""
    yield prefix
    for name in netns.list_namespaces(prefix):
        try:
            netns.delete(name, timeout=10)
        except netns.NamespaceBusy:
            pass
    assert netns.list_namespaces(prefix) == []
