"""Named network namespaces, and running code inside them.

Namespaces follow the ``ip netns`` convention (a bind mount of the namespace under
/run/netns/<name>), so ``ip netns exec``, ``nsenter --net=/run/netns/<name>`` and
operators' habits all work on what vpclab makes.

Code runs inside a namespace only on a dedicated thread that called setns(2): the network
namespace is a per-thread attribute, so the main thread (and every other thread) stays in
the host namespace and can never be made to send a packet from there by accident. Sockets
keep the namespace they were created in, so a socket made on such a thread can then be
used from anywhere.
"""

from __future__ import annotations

import ctypes
import errno
import os
import queue
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from vpclab.kernel.naming import check_namespace_name, owns_namespace

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_BIND = 0x1000
MS_SHARED = 1 << 20
MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)
_create_lock = threading.Lock()


class NamespaceError(OSError):
    """A namespace operation failed (carries the namespace name)."""


class NamespaceBusy(NamespaceError):
    """A deleted namespace is still held by tasks (processes or threads) after a timeout."""

    def __init__(self, name: str, pids: Sequence[int]):
        super().__init__(errno.EBUSY, f"namespace {name} still used by pids {list(pids)}")
        self.name = name
        self.pids = list(pids)


class HostNamespaceError(RuntimeError):
    """Refused: the operation would have run in the host's own network namespace."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _ns_stat(path: str | os.PathLike[str]) -> os.stat_result:
    return os.stat(path)


_NSFS_DEV = _ns_stat("/proc/self/ns/net").st_dev


def _host_inodes() -> frozenset[int]:
    inodes = {_ns_stat("/proc/self/ns/net").st_ino}
    try:
        inodes.add(_ns_stat("/proc/1/ns/net").st_ino)
    except OSError:  # pid 1 may be out of reach (containers, sandboxes)
        pass
    return frozenset(inodes)


HOST_NETNS_INODES = _host_inodes()
"""The host's network namespace(s): the one this process started in, and init's."""


def path_of(name: str) -> Path:
    return NETNS_DIR / check_namespace_name(name)


def inode_of(name: str) -> int | None:
    """Inode of namespace `name` (identifies *this* namespace, not just its name), or None."""
    try:
        st = _ns_stat(path_of(name))
    except FileNotFoundError:
        return None
    return st.st_ino if st.st_dev == _NSFS_DEV else None


def exists(name: str) -> bool:
    """True if /run/netns/<name> is a mounted network namespace (not a stale empty file)."""
    return inode_of(name) is not None


def current_inode() -> int:
    """Inode of the calling *thread's* network namespace."""
    return _ns_stat("/proc/thread-self/ns/net").st_ino


def list_namespaces(prefix: str | None = None) -> list[str]:
    """Names under /run/netns that are live namespaces, only those owned by `prefix` if given."""
    try:
        names = sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []
    return [
        n
        for n in names
        if (prefix is None or owns_namespace(prefix, n)) and _safe_exists(n)
    ]


def _safe_exists(name: str) -> bool:
    try:
        return exists(name)
    except ValueError:
        return False


def _ensure_run_dir() -> None:
    """Make /run/netns a shared mount point, as iproute2 does, so bind mounts propagate."""
    NETNS_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    d = bytes(NETNS_DIR)
    if _libc.mount(b"none", d, None, MS_SHARED | MS_REC, None) == 0:
        return
    if ctypes.get_errno() != errno.EINVAL:
        _check(-1, "make /run/netns shared")
    _check(_libc.mount(d, d, b"none", MS_BIND | MS_REC, None), "bind /run/netns")
    _check(_libc.mount(b"none", d, None, MS_SHARED | MS_REC, None), "make /run/netns shared")


def create(name: str) -> int:
    """Create namespace `name` if it does not exist; return its inode. Idempotent.

    The new namespace is made by unshare(2) on a throwaway thread, then pinned by a bind
    mount of that thread's /proc/thread-self/ns/net; the thread then exits.
    """
    path = path_of(name)
    with _create_lock:
        ino = inode_of(name)
        if ino is not None:
            return ino
        _ensure_run_dir()
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o444)  # a stale file is reused
        os.close(fd)
        result: Future[None] = Future()

        def make() -> None:
            try:
                _check(_libc.unshare(CLONE_NEWNET), f"unshare netns for {name}")
                _check(
                    _libc.mount(b"/proc/thread-self/ns/net", bytes(path), b"none", MS_BIND, None),
                    f"bind mount {path}",
                )
                result.set_result(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                result.set_exception(exc)

        t = threading.Thread(target=make, name=f"netns-create-{name}")
        t.start()
        t.join()
        try:
            result.result()
        except OSError:
            path.unlink(missing_ok=True)
            raise
        ino = inode_of(name)
        assert ino is not None and ino not in HOST_NETNS_INODES
        return ino


def tasks_in(inode: int) -> list[int]:
    """Pids of processes with a thread in the namespace with `inode` (they keep it alive)."""
    return sorted(tasks_by_inode().get(inode, ()))


def tasks_by_inode() -> dict[int, set[int]]:
    """Network namespace inode -> pids of processes with a thread in it: one scan of /proc
    answers for every namespace (the instance agent asks for all of them each pass)."""
    out: dict[int, set[int]] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                link = os.readlink(f"/proc/{pid}/task/{tid}/ns/net")
            except OSError:
                continue
            if link.startswith("net:["):
                out.setdefault(int(link[5:-1]), set()).add(int(pid))
    return out


def wait_unused(name: str, inode: int, timeout: float = 5.0) -> None:
    """Wait until no task is inside namespace `inode`; raise NamespaceBusy after `timeout`.

    Removing the /run/netns mount only drops one reference: the kernel tears a namespace
    down (and with it the far ends of its veth pairs) once the last task has left, and
    does that asynchronously. Reusing a name while old tasks still sit in the old
    namespace would leave two namespaces answering to one name.
    """
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        pids = tasks_in(inode)
        if not pids:
            return
        if time.monotonic() > deadline:
            raise NamespaceBusy(name, pids)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def delete(name: str, timeout: float = 5.0) -> bool:
    """Delete namespace `name` and wait until no task uses it. Idempotent.

    Returns True if something was deleted. Raises NamespaceBusy if tasks (for example an
    instance's processes, or a NamespaceThread not closed) still hold it after `timeout`:
    stop those first.
    """
    path = path_of(name)
    ino = inode_of(name)
    if ino is None:
        if path.exists():  # stale file left by a crash between create and mount
            path.unlink(missing_ok=True)
            return True
        return False
    if _libc.umount2(bytes(path), MNT_DETACH) != 0 and ctypes.get_errno() != errno.EINVAL:
        _check(-1, f"umount {path}")
    path.unlink(missing_ok=True)
    wait_unused(name, ino, timeout)
    return True


class NamespaceThread:
    """A thread that lives inside one network namespace and runs callables there.

    Keeping the thread (rather than one per call) is what makes in-process work fast: a
    netlink socket or a libnftables context created on it stays bound to the namespace.
    The thread pins the namespace while it runs: close() it before deleting the namespace.
    """

    def __init__(self, name: str):
        self.name = name
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._closing = threading.Lock()
        self._closed = False
        started: Future[int] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name=f"netns-{name}", daemon=True
        )
        self._thread.start()
        self.inode: int = started.result()
        self.local: dict[str, Any] = {}
        """Per-namespace objects owned by this thread (netlink socket, nft context)."""

    def _run(self, started: Future[int]) -> None:
        try:
            fd = os.open(path_of(self.name), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if inode_of(self.name) is None:
                    raise NamespaceError(errno.ENOENT, f"no namespace {self.name}")
                _check(_libc.setns(fd, CLONE_NEWNET), f"setns {self.name}")
            finally:
                os.close(fd)
            ino = current_inode()
            if ino in HOST_NETNS_INODES:
                raise HostNamespaceError(f"{self.name} is the host namespace")
            started.set_result(ino)
        except BaseException as exc:  # noqa: BLE001 - handed to the constructor
            started.set_exception(exc)
            return
        while True:
            item = self._queue.get()
            if item is None:
                break
            fn, fut = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)
        for obj in self.local.values():
            close = getattr(obj, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - best effort while exiting
                    pass
        self.local.clear()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` inside the namespace and return its result."""
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)
        fut: Future[T] = Future()
        with self._closing:
            if self._closed:
                raise NamespaceError(errno.ESRCH, f"the thread of namespace {self.name} is closed")
            self._queue.put((lambda: fn(*args, **kwargs), fut))
        return fut.result()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop the thread (closing what it holds in `local`) and wait for it to exit; calls
        already queued run first, later ones raise `NamespaceError`."""
        with self._closing:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()

    def __enter__(self) -> NamespaceThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_in(name: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` once inside namespace `name` on a throwaway thread."""
    with NamespaceThread(name) as t:
        return t.call(fn, *args, **kwargs)


# -- processes ---------------------------------------------------------------------------

_BIND_AND_EXEC = (
    'while [ "$1" != "--" ]; do '
    'mount --bind "$1" "$2" || { echo "vpclab: cannot bind $1 on $2" >&2; exit 125; }; '
    "shift 2; done; shift; exec \"$@\""
)

PRIVATE_DIRS = ("/run", "/tmp", "/var/log")
"""What a per-instance mount namespace hides, so that programs using fixed paths (nginx's
/run/nginx.pid and /var/log/nginx) can run once per instance with their default config."""


def private_mounts(root: str | os.PathLike[str], dirs: Iterable[str] = PRIVATE_DIRS) -> dict[str, Path]:
    """Create ``root/<dir>`` for each dir and return ``{dir: root/dir}`` for `spawn(binds=)`.

    /var/log gets the subdirectories Debian packages expect to exist (nginx).
    """
    out: dict[str, Path] = {}
    for d in dirs:
        src = Path(root) / d.lstrip("/")
        src.mkdir(parents=True, exist_ok=True)
        if d == "/tmp":
            src.chmod(0o1777)
        out[d] = src
    if "/var/log" in out:
        (out["/var/log"] / "nginx").mkdir(exist_ok=True)
    return out


def _under(path: str, top: str) -> bool:
    return os.path.commonpath([path, top]) == top


def _mount_order(binds: Mapping[str, str | os.PathLike[str]]) -> list[tuple[str, str]]:
    """Order bind mounts so none hides a source still to be mounted (binding /tmp first
    would hide /tmp/<instance>/var/log, the source of the /var/log bind)."""
    todo = {}
    for target, source in binds.items():
        if not os.path.isabs(target):
            raise ValueError(f"bind target must be absolute: {target!r}")
        todo[os.path.normpath(target)] = os.path.abspath(os.fspath(source))
    order: list[tuple[str, str]] = []
    while todo:
        ready = [t for t in todo if not any(_under(s, t) for o, s in todo.items() if o != t)]
        if not ready:
            raise ValueError(f"bind mounts hide each other's sources: {todo}")
        for t in sorted(ready):
            order.append((t, todo.pop(t)))
    return order


def command(name: str, argv: Sequence[str], binds: Mapping[str, str | os.PathLike[str]] | None = None) -> list[str]:
    """The argv that runs `argv` inside namespace `name` with bind mounts ``{target: source}``.

    ``ip netns exec`` gives the process a mount namespace of its own (slave of the host's,
    with /sys remounted for the namespace), so the bind mounts done before exec are seen by
    that process tree only and never propagate back to the host.
    """
    check_namespace_name(name)
    base = ["ip", "netns", "exec", name]
    if not binds:
        return base + list(argv)
    flat: list[str] = []
    for target, source in _mount_order(binds):
        flat += [source, target]
    return base + ["sh", "-c", _BIND_AND_EXEC, "vpclab-spawn", *flat, "--", *argv]


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    binds: Mapping[str, str | os.PathLike[str]] | None = None,
    **popen: Any,
) -> subprocess.Popen[Any]:
    """Start `argv` inside namespace `name`; the returned Popen's pid is the program's own.

    ``ip netns exec`` and the bind-mount shell both exec (no fork), so stopping the
    program by ``proc.pid`` stops exactly it.
    """
    return subprocess.Popen(command(name, argv, binds), **popen)


def run(
    name: str,
    argv: Sequence[str],
    *,
    binds: Mapping[str, str | os.PathLike[str]] | None = None,
    timeout: float | None = 30,
    check: bool = False,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside namespace `name` to completion, capturing text output."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(command(name, argv, binds), timeout=timeout, check=check, **kwargs)


def describe(argv: Sequence[str]) -> str:
    """Shell-quoted form of argv, for logs and error messages."""
    return shlex.join(argv)


def listening_socket(address: str, port: int, backlog: int) -> socket.socket:
    """A non-blocking TCP listener on `address`:`port`, made in the calling thread's
    network namespace (run it through `run_in`: the socket stays in that namespace)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((address, port))
        s.listen(backlog)
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s


def client_socket(source_ip: str | None = None) -> socket.socket:
    """A non-blocking TCP socket bound to `source_ip` (any port), made in the calling
    thread's network namespace (run it through `run_in` or a `NamespaceThread`)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if source_ip:
            s.bind((source_ip, 0))
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s
