"""The `vpclab` command line: one Typer app; each command lives in `vpclab/commands/`.

Errors a user can cause are one clear line on stderr and a non-zero exit, never a
traceback: commands say what went wrong with `options.fail`, and `main` turns anything
that still escapes into one line too (VPCLAB_DEBUG=1 shows the traceback instead).
`vpclab exec` takes a fast path without Typer and Rich, since scripts (and the lab) call
it in loops.
"""
from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

#: Command modules; each defines `register(app)`.
COMMANDS = ["server", "status", "console", "accounts", "down", "instances", "lab", "notifications"]


def build_app() -> typer.Typer:
    import typer

    app = typer.Typer(
        help="vpclab: a local AWS VPC lab that carries real traffic.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    def show_version(value: bool) -> None:
        if value:
            typer.echo(f"vpclab {version()}")
            raise typer.Exit()

    @app.callback()
    def _root(
        _version: bool = typer.Option(False, "--version", is_eager=True, callback=show_version,
                                      help="Print vpclab's version and exit."),
    ) -> None:
        """vpclab: a local AWS VPC lab that carries real traffic."""

    for name in COMMANDS:
        import_module(f"vpclab.commands.{name}").register(app)
    return app


def version() -> str:
    """The installed package's version (pyproject.toml), from its metadata."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    try:
        return package_version("vpclab")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:
        sys.stderr.write("vpclab: interrupted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # the last net: a bug or an unforeseen error, still one line
        if os.environ.get("VPCLAB_DEBUG"):
            raise
        from .commands.options import fail

        fail(_one_line(exc))


def _one_line(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unexpected error: {type(exc).__name__}: {text} (VPCLAB_DEBUG=1 shows the traceback)"


def _main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["exec"]:
        head = args[1:args.index("--")] if "--" in args else args[1:]
        if "--help" not in head and "-h" not in head:
            from .commands.instances import exec_fast

            exec_fast(args[1:])
            return
    build_app()()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # `vpclab.cli:app` for tools that want the Typer object
        return build_app()
    raise AttributeError(name)


if __name__ == "__main__":
    main()
