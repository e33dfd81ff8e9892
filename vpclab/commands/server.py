"""`vpclab server`: serve the AWS APIs."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import fail, resolve_state_dir, state_dir_option


def register(app: typer.Typer) -> None:
    @app.command()
    def server(
        port: int = typer.Option(4566, "--port", envvar="VPCLAB_PORT", help="TCP port on 127.0.0.1."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        state_dir: Optional[Path] = state_dir_option(),
        dataplane: bool = typer.Option(True, "--dataplane/--no-dataplane",
                                       help="Make resources real in network namespaces (needs root)."),
    ) -> None:
        """Serve the AWS APIs (EC2, ELBv2, STS) until SIGINT/SIGTERM."""
        from ..server import CannotServe, ServerConfig, run
        from ..state_lock import StateDirError

        try:
            run(ServerConfig(state_dir=resolve_state_dir(state_dir), host=host, port=port,
                             dataplane=dataplane))
        except (CannotServe, StateDirError) as exc:
            fail(str(exc))
