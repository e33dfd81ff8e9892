"""Fresh account ids: what isolates one test from another on a shared server.

In vpclab an account is nothing but a 12-digit access key id (`protocol/identity.py`):
the first request signed with a new one makes the account and its default VPC, and no
account sees another's resources (except an endpoint service its owner allows). So a
new id is a new, empty AWS account, without restarting anything.
"""
from __future__ import annotations

import secrets
import threading

#: Ids a fresh account never takes: the default account (any key that is not 12 digits)
#: and the seed lab's provider and consumer, which users type by hand.
RESERVED = frozenset({"000000000000", "111111111111", "222222222222"})


class AccountIds:
    """Hands out 12-digit ids, each once (random, so that two runs' ids differ too)."""

    def __init__(self) -> None:
        self._given: set[str] = set()
        self._lock = threading.Lock()

    def new(self) -> str:
        with self._lock:
            while True:
                account = f"{secrets.randbelow(9 * 10**11) + 10**11}"  # no leading zero
                if account not in RESERVED and account not in self._given:
                    self._given.add(account)
                    return account
