"""An instance's disk: an overlay whose lower layer is the host's root file system,
read-only, and whose upper layer is the instance's own (`Disk`), and the boot that
makes it the root of the instance's mount namespace (`BOOT`).

The upper layer is the instance's EBS root volume: it is kept while the instance is
stopped and removed with it at terminate. The overlay is mounted only inside the
instance's private mount namespace (`init_argv` in `confinement`), so it goes when the
instance's last process does and no mount is ever left on the host. After `pivot_root`
the host's mounts are not reachable from inside at all: the instance sees its overlay,
its own /proc (its PID namespace), a small /dev (null, zero, full, random, urandom, tty,
a private devpts, /dev/shm), tmpfs /run and /tmp, and a read-only /sys.

What of the host's root file system the instance may not see is hidden in the upper
layer, by overlayfs's own means (a whiteout for a file, an opaque empty directory for a
directory), from the host's side before each boot (`Disk.hide`):

- at the top level, everything but the directories of a system image (`IMAGE_TOP`);
  /home, /root, /tmp, /mnt, /media, /srv are there but empty (`EMPTY_TOP`);
- in /etc, /var and /opt, every file and directory that other users may not read
  (`host_private`: /etc/shadow, the host's SSH host keys, /etc/ssl/private, root-only
  logs, …): what root alone may read on the host is root's business, not the image's;
- whatever the caller adds (the state directory).

Every write into an upper layer from the host walks it with O_NOFOLLOW at each step
and creates files by name in a directory opened that way: the instance owns that tree
and may have put symlinks in it.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: Top-level directories of the host that make up an image.
IMAGE_TOP = frozenset({"bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "var", "opt",
                       "proc", "sys", "dev", "run"})

#: Top-level directories an instance has, empty at first.
EMPTY_TOP = frozenset({"home", "root", "tmp", "mnt", "media", "srv"})

#: Where `host_private` looks for what only root may read.
PRIVATE_SCAN = ("/etc", "/var", "/opt")

#: Seconds a scan of the host's private files is reused.
SCAN_TTL = 60.0

_OPAQUE = "trusted.overlay.opaque"


def unavailable_reason() -> str | None:
    """Why instances cannot have their own root file system here, or None."""
    try:
        with open("/proc/filesystems") as f:
            if not any(line.split()[-1:] == ["overlay"] for line in f):
                return "the kernel has no overlay file system (modprobe overlay)"
    except OSError as exc:
        return f"cannot read /proc/filesystems ({exc.strerror})"
    if not os.path.exists("/usr/bin/python3"):
        return "no /usr/bin/python3 (an instance's init runs on the image's python3)"
    return None


# --- The host's files an image may not show -------------------------------------------

_scan: tuple[float, list[tuple[str, bool]]] | None = None


def host_private() -> list[tuple[str, bool]]:
    """(path, is_dir) of every file and directory under PRIVATE_SCAN that "other" may
    not read (not descending into those); symlinks are skipped (their targets are
    judged where they are). Cached for SCAN_TTL seconds: one scan costs ~0.15 s."""
    global _scan
    now = time.monotonic()
    if _scan is not None and now - _scan[0] < SCAN_TTL:
        return _scan[1]
    found: list[tuple[str, bool]] = []

    def walk(directory: str) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError:
            return
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if not st.st_mode & stat.S_IROTH:
                found.append((entry.path, is_dir))
            elif is_dir:
                walk(entry.path)

    for top in PRIVATE_SCAN:
        walk(top)
    _scan = (now, found)
    return found


# --- One instance's disk ----------------------------------------------------------------

@dataclass(frozen=True)
class Disk:
    """`directory/upper` (the instance's files), `directory/work` (overlayfs's own) and
    `directory/root` (the mount point, used only inside the instance's namespace)."""

    directory: Path

    @property
    def upper(self) -> Path:
        return self.directory / "upper"

    @property
    def work(self) -> Path:
        return self.directory / "work"

    @property
    def mountpoint(self) -> Path:
        return self.directory / "root"

    def exists(self) -> bool:
        return self.upper.is_dir()

    def create(self) -> bool:
        """Make the layer's directories; True if the disk is new. `directory` is root's
        alone (0700): the instance's root may leave setuid-root programs in its layer,
        which no other user of the host may reach."""
        new = not self.exists()
        for d in (self.upper, self.work, self.mountpoint):
            d.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        self.upper.chmod(0o755)
        return new

    def remove(self) -> None:
        """Delete the disk (terminate). rmtree does not follow symlinks."""
        shutil.rmtree(self.directory, ignore_errors=True)

    # Writing into the upper layer, never following the instance's symlinks -----------
    def _open_dir(self, parts: list[str], create: bool = True) -> int:
        """fd of upper/<parts...>, each step opened O_NOFOLLOW; missing directories are
        made with the metadata of the host's directory of the same path (an upper
        directory's mode and owner are what the merged view shows), replacing a
        symlink, whiteout or file the instance left there (`create`; else OSError)."""
        fd = os.open(self.upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        path = ""
        try:
            for name in parts:
                path += "/" + name
                try:
                    nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                except OSError as exc:
                    if not create or exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        raise
                    if exc.errno != errno.ENOENT:  # a symlink, file or whiteout: replaced
                        os.unlink(name, dir_fd=fd)
                    _mkdir_like(fd, name, path)
                    nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _split(path: str) -> tuple[list[str], str]:
        parts = [p for p in path.split("/") if p and p != "."]
        if not parts or ".." in parts:
            raise ValueError(f"bad path in an instance's disk: {path!r}")
        return parts[:-1], parts[-1]

    def lexists(self, path: str) -> bool:
        """True if the upper layer has an entry (of any kind) at `path`."""
        parents, name = self._split(path)
        try:
            fd = self._open_dir(parents, create=False)
        except OSError:
            return False
        try:
            os.stat(name, dir_fd=fd, follow_symlinks=False)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)

    def write(self, path: str, data: str | bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
        """Put a file at `path` (absolute, as the instance sees it) in the upper layer,
        replacing whatever entry is there (a symlink included: it is replaced, not
        followed)."""
        parents, name = self._split(path)
        raw = data.encode() if isinstance(data, str) else data
        fd = self._open_dir(parents)
        tmp = f".{name}.vpclab-new"
        try:
            try:
                os.unlink(tmp, dir_fd=fd)
            except FileNotFoundError:
                pass
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd)
            try:
                os.write(out, raw)
                os.fchown(out, uid, gid)
                os.fchmod(out, mode)
            finally:
                os.close(out)
            os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        finally:
            os.close(fd)

    def symlink(self, path: str, target: str) -> None:
        parents, name = self._split(path)
        fd = self._open_dir(parents)
        try:
            _remove_entry(fd, name)
            os.symlink(target, name, dir_fd=fd)
        finally:
            os.close(fd)

    def mkdir(self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0, opaque: bool = False) -> None:
        """A directory at `path` with this metadata; `opaque`: nothing of the host's
        directory of that path shows through it (it starts empty)."""
        parents, name = self._split(path)
        fd = self._open_dir(parents)
        try:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    _remove_entry(fd, name)
                    raise FileNotFoundError
            except FileNotFoundError:
                os.mkdir(name, 0o700, dir_fd=fd)
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            try:
                os.fchown(sub, uid, gid)
                os.fchmod(sub, mode)
                if opaque:
                    os.setxattr(sub, _OPAQUE, b"y")
            finally:
                os.close(sub)
        finally:
            os.close(fd)

    def whiteout(self, path: str) -> None:
        """Hide the host's `path` (a whiteout: a 0/0 character device)."""
        parents, name = self._split(path)
        fd = self._open_dir(parents)
        try:
            _remove_entry(fd, name)
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=fd)
        finally:
            os.close(fd)

    def hide(self, extra: Iterable[str] = ()) -> None:
        """Hide what of the host an image may not show (see the module's docstring):
        paths the upper layer has nothing at yet. Run before each boot, when no process
        of the instance is left, so new host files are covered too."""
        for name in sorted(os.listdir("/")):
            if name in IMAGE_TOP or self.lexists(name):
                continue
            host = os.path.join("/", name)
            if name in EMPTY_TOP and os.path.isdir(host) and not os.path.islink(host):
                st = os.stat(host)
                self.mkdir(name, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, opaque=True)
            else:
                self.whiteout(name)
        hidden = [(p, os.path.isdir(p) and not os.path.islink(p)) for p in extra if os.path.lexists(p)]
        for path, is_dir in [*host_private(), *hidden]:
            rel = path.lstrip("/")
            if rel.split("/", 1)[0] not in IMAGE_TOP or self.lexists(rel):
                continue
            if is_dir:
                try:
                    st = os.stat(path, follow_symlinks=False)
                except OSError:
                    continue
                self.mkdir(rel, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, opaque=True)
            else:
                self.whiteout(rel)


def _mkdir_like(fd: int, name: str, host_path: str) -> None:
    """mkdir `name` in `fd` with the mode and owner of the host's `host_path` (0755
    root if the host has no directory there)."""
    try:
        st = os.stat(host_path, follow_symlinks=False)
        mode, uid, gid = (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) if stat.S_ISDIR(st.st_mode) \
            else (0o755, 0, 0)
    except OSError:
        mode, uid, gid = 0o755, 0, 0
    os.mkdir(name, 0o700, dir_fd=fd)
    os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
    os.chmod(name, mode, dir_fd=fd)


def _remove_entry(fd: int, name: str) -> None:
    """Remove the entry `name` of directory `fd`, whatever it is (a tree is removed
    without following symlinks)."""
    try:
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=fd)
    else:
        os.unlink(name, dir_fd=fd)


#: Run as PID 1 of the instance's new PID, mount, UTS and IPC namespaces, with every
#: capability still held: mount the disk and the small file systems in it, make the
#: kernel's global knobs read-only, set the host name, pivot_root into the disk and
#: exec the rest ($0 = host name, $1..$4 = upper, work, mount point, guest directory).
BOOT = r'''set -e
h=$0 up=$1 wk=$2 r=$3 g=$4; shift 4
mount -t overlay vpclab-disk -o "lowerdir=/,upperdir=$up,workdir=$wk" "$r"
mount -t proc -o nosuid,nodev,noexec proc "$r/proc"
for p in sys sysrq-trigger bus fs irq; do
  [ -e "$r/proc/$p" ] && mount --bind -o ro "$r/proc/$p" "$r/proc/$p"
done
mount -t tmpfs -o nosuid,noexec,mode=755,size=4m vpclab-dev "$r/dev"
mknod -m 666 "$r/dev/null" c 1 3; mknod -m 666 "$r/dev/zero" c 1 5
mknod -m 666 "$r/dev/full" c 1 7; mknod -m 666 "$r/dev/random" c 1 8
mknod -m 666 "$r/dev/urandom" c 1 9; mknod -m 666 "$r/dev/tty" c 5 0
mkdir -m 755 "$r/dev/pts"; mkdir -m 1777 "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"; ln -s /proc/self/fd "$r/dev/fd"
ln -s /proc/self/fd/0 "$r/dev/stdin"; ln -s /proc/self/fd/1 "$r/dev/stdout"
ln -s /proc/self/fd/2 "$r/dev/stderr"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$r/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=755 run "$r/run"
mkdir -p "$r/run/vpclab"; mount --bind -o ro "$g" "$r/run/vpclab"
mkdir -p "$r/run/lock" "$r/run/sshd"; chmod 1777 "$r/run/lock"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmp "$r/tmp"
mount --bind -o ro /sys "$r/sys"
hostname "$h"
cd "$r"
pivot_root . .
umount -l .
cd /
exec "$@"
'''
