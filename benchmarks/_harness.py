"""What every benchmark script shares: a free loopback port, and the start of a run as root.

The benchmarks are scripts (`python benchmarks/<name>.py`), so this sits beside them and
is imported by name; Python puts a script's own directory first on sys.path. It puts the
repository there too: ports (and a server, for fuzz_api.py) come from the tests' own
helper, tests/helpers/server.py, the one starter of a vpclab server.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers.server import free_port  # noqa: E402,F401  (re-exported to the scripts)


def start_as_root(script: str, timeout: int | None = None) -> bool:
    """Say why `script` cannot run unless this is root; otherwise make SIGTERM (and, with
    `timeout`, SIGALRM after that many seconds) raise, so the script's `finally` cleans
    up whatever it made. False when the script must exit (with status 2)."""
    if os.geteuid() != 0:
        print(f"benchmarks/{script} needs root (network namespaces)", file=sys.stderr)
        return False

    def on_term(*_):
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, on_term)
    if timeout is not None:
        def on_alarm(*_):
            raise TimeoutError(f"benchmark exceeded --timeout {timeout} s")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(timeout)
    return True
