"""A vpclab server on a thread of this process, with its own event loop.

It is `vpclab.server.serve` itself, the code `vpclab server` runs: the same lock on the
state directory, the same `server.json` record, the same start-up check that decides
whether the data plane runs. Only its end differs: a stop event set from another thread
replaces SIGINT/SIGTERM, which belong to the program the server runs in (a test run).

A thread rather than a child process because of start-up time: a new interpreter pays
for importing vpclab (about 0.6 s of the 1.1-1.2 s a `vpclab server` child takes to
answer on a shared 2-core machine) every time, a thread only once per process: the first
lab in a process is ready in about 0.8 s (1.2 s with the data plane), every later one
in 0.03 s (0.09 s).
"""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..server import ServerConfig

#: Seconds to wait for the server's ready record, and for its thread to end.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class ServerFailed(Exception):
    """The embedded server did not start; `str()` is its one-line reason."""


@dataclass(frozen=True)
class Ready:
    """What the server recorded in `server.json` once it listened."""

    url: str
    port: int
    dataplane: bool
    dataplane_off: str | None  # why not, in the server's words


@dataclass
class EmbeddedServer:
    state_dir: Path
    dataplane: bool
    _thread: threading.Thread | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _stop: asyncio.Event | None = field(default=None, repr=False)
    _error: BaseException | None = field(default=None, repr=False)

    def start(self, timeout: float = START_TIMEOUT) -> Ready:
        """Start serving on a free loopback port; return once it listens."""
        from ..server import ServerConfig

        config = ServerConfig(state_dir=self.state_dir, port=0, dataplane=self.dataplane)
        self._thread = threading.Thread(target=self._run, args=(config,), name="vpclab-embedded-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self._ready()
            if ready is not None:
                return ready
            if not self._thread.is_alive():
                self._thread.join()
                error, self._error, self._thread = self._error, None, None
                raise ServerFailed(_one_line(error) if error is not None
                                   else "the embedded vpclab server stopped before it was ready")
            time.sleep(0.002)
        self.stop()
        raise ServerFailed(f"the embedded vpclab server on {self.state_dir} was not ready in {timeout:.0f} s")

    def _run(self, config: ServerConfig) -> None:
        from ..server import serve

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await serve(config, ready_line=False, stop=self._stop)

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start(), or by stop() when it ends later
            self._error = exc

    def _ready(self) -> Ready | None:
        """The ready record this process's server wrote, or None yet. Read here rather than
        with `server.read_server_info`, which recognises a server by `vpclab` in its
        command line: this one runs in whatever program embeds it."""
        try:
            info = json.loads((self.state_dir / "server.json").read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or info.get("pid") != os.getpid() or not info.get("ready"):
            return None
        return Ready(url=info["url"], port=int(info["port"]), dataplane=bool(info.get("dataplane")),
                     dataplane_off=info.get("dataplane_off"))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving and wait for the thread to end (store closed, data plane stopped,
        `server.json` removed). What the data plane made stays: `down` removes it."""
        thread = self._thread
        if thread is None:
            return
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed between the check and the call
                pass
        thread.join(timeout)
        if thread.is_alive():
            raise ServerFailed(f"the embedded vpclab server on {self.state_dir} did not stop in {timeout:.0f} s")
        self._thread = None
        error, self._error = self._error, None
        if error is not None and not isinstance(error, (asyncio.CancelledError, KeyboardInterrupt)):
            raise ServerFailed(f"the embedded vpclab server failed: {_one_line(error)}") from error


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    from ..server import CannotServe
    from ..state_lock import StateDirError

    if isinstance(exc, (CannotServe, StateDirError)):
        return text  # already the one line a user reads
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
