"""What runs inside an instance: its init (PID 1), systemctl, and yum/dnf on Amazon
Linux images (README.md). Each program is one file of standard library code, run by the
image's python3 and importing nothing of vpclab; the data plane copies them into the
instance (`PROGRAMS`).
"""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent

#: The guest programs by role: `init` runs as PID 1 (`/run/vpclab/init.py`); `systemctl`
#: becomes /usr/bin/systemctl; `yum` becomes /usr/bin/yum and /usr/bin/dnf on Amazon Linux.
PROGRAMS: dict[str, Path] = {
    "init": _HERE / "init.py",
    "systemctl": _HERE / "systemctl.py",
    "yum": _HERE / "yum.py",
}
