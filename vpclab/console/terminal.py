"""The Connect page's terminal: `vpclab ssh INSTANCE` on a pty, carried over a WebSocket.

There is one way into an instance, the CLI's (`vpclab.commands.instances`): the terminal
spawns `python -m vpclab.cli ssh --state-dir D --account A INSTANCE` on a fresh pty (made
its controlling terminal by util-linux's `setsid --ctty`, so job control and Ctrl-C work)
and copies bytes both ways. The console imports nothing of the data plane for it.

vpclab runs as root, so this is a root shell driven by a web page. Before the upgrade the
request passes the console API's own checks (`guard.refusal`: an allowed Host, an Origin
that is exactly `http://<Host>`, same-site, the console's token) and must name its Origin,
as every browser does on a WebSocket. The token travels as the second entry of
`Sec-WebSocket-Protocol` (`["vpclab-console", token]`; the server answers
"vpclab-console"): a browser cannot set other headers on a WebSocket, and in the header it
is checked before the handshake, so a refused request never becomes a socket at all
(a token in the first message would need an open socket for anyone who asks). After the
upgrade the instance is looked up with DescribeInstances as the signed-in account in its
region, so the page can reach only what that account's API shows; it must be running
and the server must run its data plane. Only then is anything spawned.

On the socket: the page sends text frames of JSON, `{"input": "..."}` (keystrokes) and
`{"resize": [cols, rows]}` (set with TIOCSWINSZ, so `stty size` agrees with the page);
the server sends the pty's output as binary frames and, as text frames of JSON, an
`{"error": {"Code", "Message"}}` that refuses the connection or `{"exit": code}` when the
shell ends (then it closes the socket). When the socket closes the shell's process group
gets SIGHUP, as on a hang-up, then SIGKILL.
"""
from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from ..protocol.identity import is_account_id
from ..protocol.request_guard import RequestGuard
from .calls import ConsoleCalls
from .guard import TOKEN_HEADER, refusal

#: The subprotocol the page asks for; the console's token is the other one it offers.
PROTOCOL = "vpclab-console"
#: The terminal type the page's emulator (xterm.js) understands.
TERM = "xterm-256color"
#: What EC2 Instance Connect shows when it cannot reach the instance.
CANNOT_CONNECT = ("Failed to connect to your instance. Error establishing SSH connection to your instance. "
                  "Try again later.")
#: EC2 Instance Connect's words for an instance that is not running.
NOT_RUNNING = ("Unable to connect because the instance is not in a valid state. Connecting to a stopped or "
               "terminated instance is not supported. If the instance is stopped, start your instance, "
               "and try to connect again.")
#: Seconds between the hang-up (SIGHUP) and SIGKILL when the page goes away.
HANGUP_GRACE = 1.0
#: Seconds the shell's last output may take to reach the page once it exited.
DRAIN = 0.5
#: The largest message the page may send (a paste), in bytes.
MAX_MESSAGE = 1 << 20
#: The largest window the page may ask for.
MAX_SIZE = 1000

_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


@dataclass(frozen=True)
class Target:
    """What the page asks to connect to, as the signed-in account."""

    account: str
    region: str
    instance_id: str
    cols: int
    rows: int


class Refused(Exception):
    """The connection is refused after the upgrade; the page shows `code: message`."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def handshake_refusal(headers: dict[str, str], token: str, api_guard: RequestGuard) -> str | None:
    """Why an upgrade request is refused, or None. `headers` have lower-case names.

    The console API's rule (`guard.refusal`) with the WebSocket's token in place of the
    header a fetch carries; a GET upgrade has no body, so no content type to check."""
    if "origin" not in headers:
        return "a WebSocket to the console must name its Origin"
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if PROTOCOL not in offered:
        return f"the console's terminal speaks the subprotocol {PROTOCOL!r}"
    given = next((p for p in offered if p != PROTOCOL), "")
    return refusal({**headers, TOKEN_HEADER.lower(): given, "content-type": "application/json"}, token, api_guard)


def target_of(query: Any) -> Target:
    """The account, region, instance and window size the page asks for (`Refused` if malformed)."""
    account, region, instance = query.get("account", ""), query.get("region", ""), query.get("instance", "")
    if not is_account_id(account):
        raise Refused("InvalidArgsException", "account must be a 12-digit account id")
    if not _REGION.match(region):
        raise Refused("InvalidArgsException", "region must be a region name, such as ap-south-1")
    if not _INSTANCE_ID.match(instance):
        raise Refused("InvalidArgsException", f"Invalid id: \"{instance}\" (expecting \"i-...\")")
    cols, rows = _size(query.get("cols", "80"), query.get("rows", "24"))
    return Target(account, region, instance, cols, rows)


def _size(cols: Any, rows: Any) -> tuple[int, int]:
    try:
        c, r = int(cols), int(rows)
    except (TypeError, ValueError):
        raise Refused("InvalidArgsException", "cols and rows must be numbers") from None
    if not (1 <= c <= MAX_SIZE and 1 <= r <= MAX_SIZE):
        raise Refused("InvalidArgsException", f"cols and rows must be between 1 and {MAX_SIZE}")
    return c, r


def check_instance(calls: ConsoleCalls, target: Target) -> None:
    """The instance as the account's API shows it in the region: it must be there and running."""
    result = calls.call(target.account, target.region, "ec2", "DescribeInstances",
                        {"InstanceIds": [target.instance_id]})
    if result.error is not None:
        raise Refused(result.error["Code"], result.error["Message"])
    instances = [i for r in (result.output or {}).get("Reservations", []) for i in r.get("Instances", [])]
    if not instances:
        raise Refused("InvalidInstanceID.NotFound", f"The instance ID '{target.instance_id}' does not exist")
    if instances[0]["State"]["Name"] != "running":
        raise Refused("EC2InstanceStateInvalidException", NOT_RUNNING)


def ssh_argv(state_dir: Path, target: Target) -> list[str]:
    """`vpclab ssh` for the instance, as the account, on its own session with the pty as
    its controlling terminal."""
    return ["setsid", "--ctty", sys.executable, "-m", "vpclab.cli", "ssh", "--state-dir", str(state_dir),
            "--account", target.account, target.instance_id]


def set_size(fd: int, cols: int, rows: int) -> None:
    """The pty's window size; the kernel tells the shell's foreground job (SIGWINCH)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def _ready(fd: int, watch: Callable[..., Any], unwatch: Callable[[int], Any]) -> None:
    """Until `fd` is ready (`watch`/`unwatch`: the loop's add_reader/remove_reader or
    add_writer/remove_writer)."""
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)
    watch(fd, wake)
    try:
        await ready
    finally:
        unwatch(fd)


class Shell:
    """`vpclab ssh` on a pty: spawned, read, written, resized and hung up."""

    def __init__(self, argv: list[str], cols: int, rows: int):
        self.master, slave = os.openpty()
        try:
            set_size(self.master, cols, rows)
            os.set_blocking(self.master, False)
            self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                                         env={**os.environ, "TERM": TERM}, cwd="/")
        except BaseException:
            os.close(self.master)
            raise
        finally:
            os.close(slave)  # the child's copy is the only one: when it ends, reads give EIO

    async def read(self) -> bytes:
        """The next output; b"" once every process on the pty has closed it."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                return os.read(self.master, 65536)
            except BlockingIOError:
                await _ready(self.master, loop.add_reader, loop.remove_reader)
            except OSError:  # EIO: the other side is closed
                return b""

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        while data:
            try:
                data = data[os.write(self.master, data):]
            except BlockingIOError:
                await _ready(self.master, loop.add_writer, loop.remove_writer)

    def resize(self, cols: int, rows: int) -> None:
        set_size(self.master, cols, rows)

    async def wait(self) -> int:
        while self.proc.poll() is None:
            await asyncio.sleep(0.05)
        return self.proc.returncode

    async def hang_up(self) -> None:
        """End the session: SIGHUP to its process group (the pid is the group's, by
        `setsid`), the pty closed, then SIGKILL for what is left after the grace."""
        self._signal(signal.SIGHUP)
        with contextlib.suppress(OSError):
            os.close(self.master)
        try:
            await asyncio.wait_for(self.wait(), HANGUP_GRACE)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            await self.wait()

    def _signal(self, sig: int) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:  # before setsid made the group: the process alone
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)


async def _from_page(ws: web.WebSocketResponse, shell: Shell) -> None:
    async for msg in ws:
        if msg.type != WSMsgType.TEXT:
            continue
        try:
            body = json.loads(msg.data)
        except ValueError:
            continue
        if not isinstance(body, dict):
            continue
        if isinstance(body.get("input"), str):
            await shell.write(body["input"].encode(errors="replace"))  # a lone surrogate is no byte
        size = body.get("resize")
        if isinstance(size, list) and len(size) == 2:
            try:
                shell.resize(*_size(*size))
            except Refused:
                pass


async def _to_page(ws: web.WebSocketResponse, shell: Shell) -> None:
    while data := await shell.read():
        await ws.send_bytes(data)


async def run(ws: web.WebSocketResponse, shell: Shell) -> None:
    """Copy both ways until the shell exits (then say its exit code) or the page goes.

    The exit counts, not the end of the pty's output: a job left in the background may
    hold the pty open, and the hang-up that follows ends it as a closed ssh session does."""
    reader = asyncio.ensure_future(_from_page(ws, shell))
    writer = asyncio.ensure_future(_to_page(ws, shell))
    exited = asyncio.ensure_future(shell.wait())
    try:
        await asyncio.wait([reader, exited], return_when=asyncio.FIRST_COMPLETED)
        if exited.done():
            await asyncio.wait([writer], timeout=DRAIN)  # what the shell wrote last
            if not ws.closed:
                await ws.send_str(json.dumps({"exit": exited.result()}))
    finally:
        for task in (reader, writer, exited):
            task.cancel()
        await asyncio.gather(reader, writer, exited, return_exceptions=True)  # a page gone mid-send
        await shell.hang_up()
        await ws.close()


def handler(calls: ConsoleCalls, token: str, api_guard: RequestGuard, state_dir: Path,
            dataplane: bool) -> Any:
    """The `GET /console/api/terminal` handler (a WebSocket upgrade)."""

    async def terminal(request: web.Request) -> web.StreamResponse:
        why = handshake_refusal({k.lower(): v for k, v in request.headers.items()}, token, api_guard)
        if why is not None:
            raise web.HTTPForbidden(text=json.dumps({"Code": "AccessDenied", "Message": why}),
                                    content_type="application/json")
        ws = web.WebSocketResponse(protocols=(PROTOCOL,), max_msg_size=MAX_MESSAGE, heartbeat=30)
        await ws.prepare(request)
        try:
            target = target_of(request.query)
            check_instance(calls, target)
            if not dataplane or os.geteuid() != 0:
                raise Refused("EC2InstanceUnavailableException", CANNOT_CONNECT + (
                    " (This vpclab server runs without its data plane, so its instances run nothing "
                    "to connect to.)"))
            shell = Shell(ssh_argv(state_dir, target), target.cols, target.rows)
        except Refused as err:
            await ws.send_str(json.dumps({"error": {"Code": err.code, "Message": err.message}}))
            await ws.close()
            return ws
        except OSError as err:
            await ws.send_str(json.dumps({"error": {"Code": "EC2InstanceUnavailableException",
                                                    "Message": f"{CANNOT_CONNECT} ({err})"}}))
            await ws.close()
            return ws
        await run(ws, shell)
        return ws

    return terminal
