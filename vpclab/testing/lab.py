"""`lab()`: a vpclab of one's own for a block of code, and the `Lab` it yields.

    with vpclab.testing.lab() as lab:
        ec2 = lab.client("ec2", account="123456789012")
        ...

A lab is a server on a thread of this process (`embedded.py`) with a temporary state
directory, so a namespace prefix of its own, on a free loopback port. The data plane
runs where this process may make namespaces (the server's own start-up check,
`dataplane.runtime.unavailable_reason`), or as `dataplane=` says. On exit the server
stops and `vpclab down`'s `tear_down` removes what its data plane made (instance
processes, namespaces, links, nftables tables), then the directory goes, also when the
block raised.

`exec` and `curl` go into an instance through `vpclab exec` itself (a subprocess: that
command replaces its process with the one run inside the instance).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import environ as env
from .accounts import AccountIds
from .embedded import EmbeddedServer, ServerFailed

if TYPE_CHECKING:
    from .sessions import LabSession

#: The region of sessions and clients unless a call names another.
DEFAULT_REGION = "us-east-1"
#: The account of `session()` and `client()` when none is given (the seed lab's provider).
DEFAULT_ACCOUNT = "111111111111"


class LabError(Exception):
    """A lab could not do what was asked; `str()` says what and why in one line."""


class CurlFailed(LabError):
    """curl inside an instance failed; `exit_code` is curl's (7: refused, 28: timed out)."""

    def __init__(self, message: str, exit_code: int, stderr: str):
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


@dataclass
class Lab:
    """One running vpclab: its endpoint, its state directory, and ways in."""

    endpoint_url: str
    state_dir: Path
    #: The kernel prefix of everything its data plane makes (`vl` + 5 hex digits).
    prefix: str
    #: Whether the data plane runs (real namespaces and traffic), and if not, why not.
    dataplane: bool
    dataplane_off: str | None
    region: str = DEFAULT_REGION
    _accounts: AccountIds = field(default_factory=AccountIds, repr=False)

    # Accounts and clients ------------------------------------------------------------
    def new_account(self) -> str:
        """A 12-digit account nobody has used on this lab: empty but for its default VPC,
        which it gets on its first request, and invisible to every other account."""
        return self._accounts.new()

    def session(self, account: str = DEFAULT_ACCOUNT, region: str | None = None) -> LabSession:
        """A boto3 Session signed as `account`: its clients and resources talk to this lab."""
        from .sessions import LabSession

        return LabSession(self.endpoint_url, aws_access_key_id=account, aws_secret_access_key=env.SECRET,
                          region_name=region or self.region)

    def client(self, service: str, account: str = DEFAULT_ACCOUNT, region: str | None = None) -> Any:
        """A boto3 client of `service` for `account` on this lab."""
        return self.session(account, region).client(service)

    def environ(self, account: str = DEFAULT_ACCOUNT, region: str | None = None) -> dict[str, str]:
        """The AWS_* variables that point code under test (boto3, the AWS CLI, other SDKs)
        at this lab as `account`: for `subprocess.run(..., env={**os.environ, **v})`."""
        return env.variables(self.endpoint_url, account, region or self.region)

    def patch_environ(self, account: str = DEFAULT_ACCOUNT,
                      region: str | None = None) -> AbstractContextManager[dict[str, str]]:
        """`environ(account)` set in os.environ for a block, restored after (`environ.patched`)."""
        return env.patched(self.environ(account, region))

    # Inside instances ----------------------------------------------------------------
    def exec(self, instance: str, *argv: str, account: str | None = None, user: str | None = None,
             input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run `argv` inside `instance` (an id, or a Name tag; `account` picks among
        same-named instances of several accounts) with `vpclab exec`, as root unless
        `user` says otherwise. The command's exit code is the result's; a LabError if the
        instance cannot be entered (no data plane, no such instance, not running)."""
        if not self.dataplane:
            raise LabError(f"cannot enter instance {instance}: this lab runs without its data plane "
                           f"({self.dataplane_off})")
        if not argv:
            raise LabError("exec: give a command to run in the instance")
        options = ["--state-dir", str(self.state_dir)]
        if account is not None:
            options += ["--account", account]
        if user is not None:
            options += ["--user", user]
        proc = subprocess.run([sys.executable, "-m", "vpclab.cli", "exec", *options, instance, "--", *argv],
                              input=input, capture_output=True, text=True, timeout=timeout,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if proc.returncode != 0 and proc.stderr.startswith("vpclab: "):
            # vpclab exec's own one-line refusal (no such instance, not running, ...), not
            # the command's exit code.
            raise LabError(proc.stderr.strip().removeprefix("vpclab: "))
        return proc

    def curl(self, instance: str, url: str, *, account: str | None = None, timeout: float = 10.0) -> str:
        """The body `curl` inside `instance` gets from `url`; CurlFailed (with curl's exit
        code: 7 refused, 28 timed out) when it gets none."""
        proc = self.exec(instance, "curl", "-sS", "--max-time", f"{timeout:g}", url, account=account,
                         timeout=timeout + 30)
        if proc.returncode != 0:
            raise CurlFailed(f"curl {url} in {instance} failed (exit {proc.returncode}): "
                             f"{proc.stderr.strip() or 'no output'}", proc.returncode, proc.stderr)
        return proc.stdout

    def wait_until_reachable(self, instance: str, url: str, *, account: str | None = None,
                             timeout: float = 60.0, contains: str | None = None) -> str:
        """Curl `url` inside `instance` until it answers (with `contains` in the body, if
        given) and return the body; CurlFailed naming the last failure after `timeout`.
        An instance still pending or booting is waited for too."""
        if not self.dataplane:
            raise LabError(f"cannot reach {url} from {instance}: this lab runs without its data plane "
                           f"({self.dataplane_off})")
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                body = self.curl(instance, url, account=account, timeout=max(1.0, min(5.0, left)))
                if contains is None or contains in body:
                    return body
                last: LabError = CurlFailed(f"{url} answered in {instance} without {contains!r}", 0, "")
            except LabError as exc:  # CurlFailed, or the instance cannot be entered yet
                last = exc
            if time.monotonic() >= deadline:
                code, stderr = (last.exit_code, last.stderr) if isinstance(last, CurlFailed) else (-1, "")
                raise CurlFailed(f"{url} not reachable from {instance} in {timeout:g} s; last: {last}",
                                 code, stderr)
            time.sleep(0.2)


@contextmanager
def lab(dataplane: bool | None = None, region: str = DEFAULT_REGION) -> Iterator[Lab]:
    """A running vpclab for the block; everything it made is removed on exit.

    `dataplane`: None runs it where this process may make namespaces and serves the
    control plane alone elsewhere (`Lab.dataplane_off` says why); True requires it (a
    LabError with the reason where it cannot run); False never starts it."""
    state_dir = _new_state_dir()
    server = EmbeddedServer(state_dir, dataplane=dataplane is not False)
    made: Lab | None = None
    try:
        try:
            ready = server.start()
        except ServerFailed as exc:
            raise LabError(str(exc)) from None
        from ..kernel import naming

        made = Lab(ready.url, state_dir, naming.prefix_for_state_dir(state_dir), ready.dataplane,
                   ready.dataplane_off, region)
        if dataplane and not ready.dataplane:
            raise LabError(f"the data plane cannot run here: {ready.dataplane_off}")
        yield made
    except BaseException:
        # Before the lab was made its data plane may have started: remove what it made.
        _remove(server, state_dir, made.dataplane if made is not None else dataplane is not False, quiet=True)
        raise
    else:
        _remove(server, state_dir, made is not None and made.dataplane, quiet=False)


def _new_state_dir() -> Path:
    """A new temporary state directory whose kernel prefix no namespace carries yet (the
    prefix is a hash of the path: two directories may share one, rarely)."""
    from ..kernel import naming, netns

    for _ in range(20):
        state_dir = Path(tempfile.mkdtemp(prefix="vpclab-lab-")).resolve()
        try:
            taken = bool(netns.list_namespaces(naming.prefix_for_state_dir(state_dir)))
        except OSError:
            taken = False
        if not taken:
            return state_dir
        os.rmdir(state_dir)
    raise LabError("no temporary state directory with an unused namespace prefix in 20 tries")


def _remove(server: EmbeddedServer, state_dir: Path, dataplane: bool, quiet: bool) -> None:
    """Stop the server, remove what its data plane made and the state directory. Errors
    are raised after everything was tried; `quiet` (the block raised already) turns them
    into warnings, so that they do not hide the block's own error."""
    from ..commands.down import tear_down
    from ..kernel import naming, netns

    problems: list[str] = []
    try:
        server.stop()
    except ServerFailed as exc:
        problems.append(str(exc))
    # tear_down first stops the server `server.json` names; the embedded one removed its
    # record when it stopped, and one still there is this process: never signal it.
    _forget_own_record(state_dir)
    if dataplane:
        try:
            tear_down(state_dir)
            left = netns.list_namespaces(naming.prefix_for_state_dir(state_dir))
            if left:
                problems.append(f"namespaces left: {', '.join(left)}")
        except Exception as exc:
            problems.append(f"removing what the data plane made: {type(exc).__name__}: {exc}")
    shutil.rmtree(state_dir, ignore_errors=True)
    if state_dir.exists():
        problems.append(f"{state_dir} could not be removed")
    if problems:
        message = f"vpclab lab on {state_dir}: " + "; ".join(problems)
        if quiet:
            warnings.warn(message, RuntimeWarning, stacklevel=3)
        else:
            raise LabError(message)


def _forget_own_record(state_dir: Path) -> None:
    import json

    record = state_dir / "server.json"
    try:
        if json.loads(record.read_text()).get("pid") == os.getpid():
            record.unlink()
    except (OSError, ValueError, AttributeError):
        pass
