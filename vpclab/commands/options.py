"""Options every command shares, and the one-line error exit.

Typer is imported lazily here, so that the fast paths (`vpclab exec`) can use these
helpers without paying for Typer and Rich at start-up.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

STATE_DIR_HELP = "State directory (default: $VPCLAB_STATE_DIR or ./.vpclab)."


def state_dir_option() -> Any:
    """The --state-dir option's default (Typer's declarations are typed Any)."""
    import typer

    return typer.Option(None, "--state-dir", envvar="VPCLAB_STATE_DIR", help=STATE_DIR_HELP)


def resolve_state_dir(value: Optional[Path]) -> Path:
    return (value or Path(os.environ.get("VPCLAB_STATE_DIR", ".vpclab"))).absolute()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit: CLI errors are never tracebacks."""
    if sys.stderr.isatty():
        message = f"\033[31m{message}\033[0m"
    sys.stderr.write(f"vpclab: {message}\n")
    raise SystemExit(code)
