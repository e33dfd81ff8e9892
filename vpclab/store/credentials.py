"""Access keys that vpclab issued (`vpclab accounts create`): the secrets strict mode checks.

They live in `<state_dir>/credentials.json`, apart from the resource store, so that the
file can be its owner's (root's) alone, mode 0600, while the rest of the state directory
stays readable by the tools that inspect it. Each key maps to one
account, as an IAM user's key does.

The server reads the file again when it changes (by its modification time), so keys
issued while it runs are accepted at once, without a restart.
"""
from __future__ import annotations

import json
import secrets
import string
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .private_file import write_private

FILE_NAME = "credentials.json"
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account: str
    name: str = ""


def new_key(account: str, name: str = "") -> AccessKey:
    """A key shaped as AWS's are: AKIA + 16 base-32 characters, a 40-character secret."""
    key_id = "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))
    secret = secrets.token_urlsafe(30)[:40]
    return AccessKey(key_id, secret, account, name)


class Credentials:
    """The issued keys of one state directory."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / FILE_NAME
        self._lock = threading.Lock()
        self._mtime: int | None = None
        self._keys: dict[str, AccessKey] = {}

    def _load(self) -> dict[str, AccessKey]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                self._mtime, self._keys = None, {}
                return self._keys
            if mtime != self._mtime:
                data = json.loads(self.path.read_text())
                self._keys = {k["access_key_id"]: AccessKey(**k) for k in data.get("keys", [])}
                self._mtime = mtime
            return self._keys

    def get(self, access_key_id: str) -> AccessKey | None:
        return self._load().get(access_key_id)

    def all(self) -> list[AccessKey]:
        return list(self._load().values())

    def add(self, key: AccessKey) -> None:
        """Write the file with the new key, durably, readable by its owner only."""
        keys = [*self._load().values(), key]
        write_private(self.path, json.dumps({"keys": [asdict(k) for k in keys]}, indent=1).encode())
