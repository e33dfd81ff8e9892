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
        strict_auth: bool = typer.Option(
            False, "--strict-auth", envvar="VPCLAB_STRICT_AUTH",
            help="Accept only requests signed with a key from `vpclab accounts create` (SigV4 verified)."),
        allowed_host: list[str] = typer.Option(
            [], "--allowed-host", envvar="VPCLAB_ALLOWED_HOSTS",
            help="A Host name to accept besides 127.0.0.1, localhost and ::1 (repeatable; the env "
                 "variable takes a comma-separated list)."),
    ) -> None:
        """Serve the AWS APIs (EC2, ELBv2, STS) until SIGINT/SIGTERM."""
        from ..server import CannotServe, ServerConfig, run
        from ..state_lock import StateDirError

        hosts = tuple(h.strip() for value in allowed_host for h in value.split(",") if h.strip())
        try:
            run(ServerConfig(state_dir=resolve_state_dir(state_dir), host=host, port=port,
                             dataplane=dataplane, strict_auth=strict_auth, allowed_hosts=hosts))
        except (CannotServe, StateDirError) as exc:
            fail(str(exc))
