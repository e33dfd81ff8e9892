"""The `vpclab` command line: one Typer app; each command lives in `vpclab/commands/`.

Errors a user can cause are one clear line on stderr and a non-zero exit, never a
traceback.
"""
from __future__ import annotations

from importlib import import_module

import typer

app = typer.Typer(
    help="vpclab: a local AWS VPC lab that carries real traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Command modules; each defines `register(app)`.
COMMANDS = ["server", "status", "down", "instances", "lab", "notifications"]


@app.callback()
def _root() -> None:
    """vpclab: a local AWS VPC lab that carries real traffic."""


for _name in COMMANDS:
    try:
        _module = import_module(f"vpclab.commands.{_name}")
    except ModuleNotFoundError as exc:  # a command not written yet
        if exc.name != f"vpclab.commands.{_name}":
            raise
        continue
    _module.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
