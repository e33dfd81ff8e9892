"""`vpclab notifications`: the endpoint connection notifications delivered so far."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .options import resolve_state_dir, state_dir_option


def register(app: typer.Typer) -> None:
    @app.command()
    def notifications(
        state_dir: Optional[Path] = state_dir_option(),
        as_json: bool = typer.Option(False, "--json", help="One SNS-style JSON message a line."),
        topic: Optional[str] = typer.Option(None, "--topic", help="Only messages to this SNS topic ARN."),
    ) -> None:
        """Endpoint connection notifications (Connect, Accept, Reject, Delete) sent so far.

        Each is an SNS-style JSON message, as the topic would have received it.
        """
        from ..control.privatelink.connection_notifications import read_notifications

        messages = [m for m in read_notifications(resolve_state_dir(state_dir))
                    if topic is None or m.get("TopicArn") == topic]
        if as_json:
            for m in messages:
                print(json.dumps(m))
            return
        table = Table(title=f"{len(messages)} notifications")
        for col in ("time", "topic", "event", "endpoint", "state"):
            table.add_column(col)
        for m in messages:
            try:
                body = json.loads(m.get("Message", "{}"))
            except ValueError:
                body = {}
            table.add_row(m.get("Timestamp", ""), m.get("TopicArn", ""), str(body.get("connectionEvent", "")),
                          str(body.get("vpcEndpointId", "")), str(body.get("vpcEndpointState", "")))
        Console().print(table)
