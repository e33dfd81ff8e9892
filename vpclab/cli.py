"""The `vpclab` command line."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help="vpclab: a local AWS VPC lab that carries real traffic.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """vpclab: a local AWS VPC lab that carries real traffic."""


StateDir = typer.Option(None, "--state-dir", envvar="VPCLAB_STATE_DIR",
                        help="State directory (default ./.vpclab).")


@app.command()
def server(
    port: int = typer.Option(4566, "--port", envvar="VPCLAB_PORT", help="TCP port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    state_dir: Optional[Path] = StateDir,
    dataplane: bool = typer.Option(True, "--dataplane/--no-dataplane",
                                   help="Make resources real in network namespaces (needs root)."),
) -> None:
    """Serve the AWS APIs (EC2, ELBv2, STS) until SIGINT/SIGTERM."""
    from .server import ServerConfig, default_state_dir, run

    run(ServerConfig(state_dir=(state_dir or default_state_dir()).absolute(), host=host, port=port,
                     dataplane=dataplane))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
