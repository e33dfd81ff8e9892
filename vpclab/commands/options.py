"""Options every command shares, and the one-line error exit."""
from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn, Optional

import typer

STATE_DIR_HELP = "State directory (default: $VPCLAB_STATE_DIR or ./.vpclab)."


def state_dir_option() -> Optional[Path]:
    return typer.Option(None, "--state-dir", envvar="VPCLAB_STATE_DIR", help=STATE_DIR_HELP)


def resolve_state_dir(value: Optional[Path]) -> Path:
    return (value or Path(os.environ.get("VPCLAB_STATE_DIR", ".vpclab"))).absolute()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line to stderr and exit: CLI errors are never tracebacks."""
    typer.secho(f"vpclab: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)
