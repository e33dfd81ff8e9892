"""A data-plane server for a fixture: started, and after the test, all it made removed."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vpclab.commands.down import tear_down
from vpclab.kernel import naming, netns

from .server import ServerProcess, free_port, is_root


def dataplane_server_in(state_dir: Path, env: dict | None = None) -> Iterator[ServerProcess]:
    """For a fixture to `yield from`: a started server with the data plane on (root only;
    skips otherwise); after the test everything it made is removed (`vpclab down`)."""
    if not is_root():
        pytest.skip("the data plane needs root")
    srv = ServerProcess(state_dir, free_port(), dataplane=True, env=env)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        tear_down(srv.state_dir)
        assert netns.list_namespaces(naming.prefix_for_state_dir(srv.state_dir)) == []
