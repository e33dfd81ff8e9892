"""`vpclab console`: the URL of the console of a state directory's running server."""
from __future__ import annotations

import os
import sys
import webbrowser
from pathlib import Path
from typing import Optional

import typer

from ..console.paths import PREFIX
from .options import fail, resolve_state_dir, state_dir_option



def register(app: typer.Typer) -> None:
    @app.command()
    def console(state_dir: Optional[Path] = state_dir_option(),
                open_browser: bool = typer.Option(True, "--open/--no-open",
                                                  help="Open it in a browser where there is a display.")) -> None:
        """Print the console's URL, and open it in a browser where one can show it."""
        from ..server import read_server_info

        sd = resolve_state_dir(state_dir)
        info = read_server_info(sd)
        if not info:
            fail(f"no server runs for {sd}: start one with `vpclab server --state-dir {sd}`")
        url = info["url"].rstrip("/") + PREFIX
        print(url)
        has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        if open_browser and has_display and sys.stdout.isatty():
            webbrowser.open(url)
