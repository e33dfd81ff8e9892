"""vpclab's pytest plugin, loaded through the `pytest11` entry point `vpclab` wherever
the package is installed (`-p no:vpclab` turns it off).

Fixtures:
- `vpclab` (session): one `Lab` for the whole run, made on first use and removed at
  the end of the run (`lab()`), data plane as `--vpclab-dataplane` says;
- `vpclab_account` (function): a fresh 12-digit account on it for each test, so tests
  are isolated without a restart (accounts cannot see each other);
- `aws_environ` (function): AWS_ENDPOINT_URL, the keys of `vpclab_account` and the
  region in os.environ for the test (and what would override them taken away),
  restored after it.

The `dataplane` marker skips a test where the data plane cannot run, with the server's
own reason (`dataplane.runtime.unavailable_reason`: not root, a missing library, a
kernel that refuses namespaces), or where `--vpclab-dataplane=off` turned it off.

Nothing heavy is imported until a fixture or the marker needs it: the plugin loads in
every pytest run of an environment that has vpclab.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .lab import Lab

MARKER = "dataplane"
MODES = {"auto": None, "on": True, "off": False}
_REASON = pytest.StashKey[str]()  # why dataplane-marked tests skip ("" when they run)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vpclab")
    help_text = ("vpclab's data plane for the `vpclab` fixture: auto (where this process may make "
                 "network namespaces), on (required), off (control plane only; dataplane-marked tests skip)")
    group.addoption("--vpclab-dataplane", choices=sorted(MODES), default=None, help=help_text)
    parser.addini("vpclab_dataplane", help_text, default="auto")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: needs vpclab's data plane (root and network namespaces); skipped, with the "
                   "reason, where it cannot run")


def dataplane_mode(config: pytest.Config) -> str:
    mode = config.getoption("--vpclab-dataplane") or str(config.getini("vpclab_dataplane")).strip() or "auto"
    if mode not in MODES:
        raise pytest.UsageError(f"vpclab_dataplane = {mode!r}: want one of {', '.join(sorted(MODES))}")
    return mode


def skip_reason(config: pytest.Config) -> str | None:
    """Why dataplane-marked tests skip in this run, or None if they run (asked once)."""
    if _REASON not in config.stash:
        if dataplane_mode(config) == "off":
            where = "--vpclab-dataplane=off" if config.getoption("--vpclab-dataplane") else "vpclab_dataplane = off"
            config.stash[_REASON] = f"vpclab's data plane is off ({where})"
        else:
            from ..dataplane.runtime import unavailable_reason

            why = unavailable_reason()
            config.stash[_REASON] = f"needs vpclab's data plane, which cannot run here: {why}" if why else ""
    return config.stash[_REASON] or None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker(MARKER) is not None]
    if not marked:
        return
    reason = skip_reason(config)
    if reason is not None:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def vpclab(pytestconfig: pytest.Config) -> Iterator[Lab]:
    """One vpclab for the test run: a server on a thread of this process, on a free
    loopback port, with a temporary state directory; all it made is removed at the end."""
    from .lab import lab

    with lab(dataplane=MODES[dataplane_mode(pytestconfig)]) as running:
        yield running


@pytest.fixture
def vpclab_account(vpclab: Lab) -> str:
    """A 12-digit account no other test of the run uses."""
    return vpclab.new_account()


@pytest.fixture
def aws_environ(vpclab: Lab, vpclab_account: str) -> Iterator[dict[str, str]]:
    """The AWS_* variables of `vpclab_account` on the lab, set for the test; yields them."""
    with vpclab.patch_environ(vpclab_account) as variables:
        yield variables
