"""The `vpclab` command line: one Typer app; each command lives in `vpclab/commands/`.

Errors a user can cause are one clear line on stderr and a non-zero exit, never a
traceback. `vpclab exec` takes a fast path without Typer and Rich, since scripts (and the
lab) call it in loops.
"""
from __future__ import annotations

import sys
from importlib import import_module

#: Command modules; each defines `register(app)`.
COMMANDS = ["server", "status", "accounts", "down", "instances", "lab", "notifications"]


def build_app():
    import typer

    app = typer.Typer(
        help="vpclab: a local AWS VPC lab that carries real traffic.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root() -> None:
        """vpclab: a local AWS VPC lab that carries real traffic."""

    for name in COMMANDS:
        import_module(f"vpclab.commands.{name}").register(app)
    return app


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["exec"]:
        head = args[1:args.index("--")] if "--" in args else args[1:]
        if "--help" not in head and "-h" not in head:
            from .commands.instances import exec_fast

            exec_fast(args[1:])
            return
    build_app()()


def __getattr__(name: str):
    if name == "app":  # `vpclab.cli:app` for tools that want the Typer object
        return build_app()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
