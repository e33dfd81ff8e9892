"""`vpclab accounts`: the accounts of a state directory, and access keys for strict mode."""
from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .options import fail, resolve_state_dir, state_dir_option


def register(app: typer.Typer) -> None:
    accounts = typer.Typer(help="The accounts seen in a state directory; access keys for --strict-auth.",
                           no_args_is_help=False)
    app.add_typer(accounts, name="accounts")

    @accounts.callback(invoke_without_command=True)
    def show(ctx: typer.Context, state_dir: Optional[Path] = state_dir_option()) -> None:
        """The accounts seen in a state directory, their resources and issued keys."""
        if ctx.invoked_subcommand is not None:
            return
        from ..store.credentials import Credentials
        from .status import counts_or_fail, print_counts

        sd = resolve_state_dir(state_dir)
        counts = counts_or_fail(sd)
        try:
            keys = Credentials(sd).all()
        except (OSError, ValueError):  # unreadable here (not root) or not a key file: no keys to show
            keys = []
        if not counts and not keys:
            fail(f"no accounts yet in {sd}")
        console = Console()
        print_counts(console, counts)
        for key in sorted(keys, key=lambda k: (k.account, k.access_key_id)):
            label = f" ({key.name})" if key.name else ""
            console.print(f"access key {key.access_key_id}: account {key.account}{label}")

    @accounts.command()
    def create(
        account: Optional[str] = typer.Option(None, "--account", help="12-digit account id (default: a new one)."),
        name: str = typer.Option("", "--name", help="A name to remember the key by (e.g. provider)."),
        state_dir: Optional[Path] = state_dir_option(),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Issue an access key and secret for an account (what --strict-auth accepts)."""
        from ..store.credentials import Credentials, new_key

        if account is None:
            account = str(secrets.randbelow(9 * 10**11) + 10**11)
        if not re.fullmatch(r"\d{12}", account):
            fail(f"an account id is 12 digits, not {account!r}")
        sd = resolve_state_dir(state_dir)
        key = new_key(account, name)
        try:
            Credentials(sd).add(key)
        except OSError as err:
            fail(f"cannot write {sd / 'credentials.json'}: {err.strerror or err}")
        if as_json:
            print(json.dumps({"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key,
                              "Account": key.account, "Name": key.name}))
            return
        print(f"# account {key.account}{f' ({name})' if name else ''}: "
              f"(kept in {sd / 'credentials.json'}, readable by its owner only)")
        print(f"export AWS_ACCESS_KEY_ID={key.access_key_id}")
        print(f"export AWS_SECRET_ACCESS_KEY={key.secret_access_key}")
