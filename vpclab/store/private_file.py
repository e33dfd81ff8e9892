"""Files of the state directory that only their owner (root) may read: the issued keys,
the CA's key.

`write_private` replaces one atomically and durably: the new content goes to a temporary
file in the same directory, mode 0600 from its creation (never readable by others, even
briefly), is fsynced, renamed over the old one, and the directory is fsynced so that the
rename survives a crash.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp's mode is 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
