"""Resource ids in AWS's forms."""
from __future__ import annotations

import re
import secrets


def new_id(prefix: str, hex_digits: int = 17) -> str:
    """`vpc-0a1b…` style: the prefix, a dash, and `hex_digits` lowercase hex digits."""
    return f"{prefix}-{secrets.token_hex((hex_digits + 1) // 2)[:hex_digits]}"


def new_hex(digits: int) -> str:
    return secrets.token_hex((digits + 1) // 2)[:digits]


def is_well_formed(value: str, prefix: str) -> bool:
    """AWS accepts 8 or 17 hex digits after the prefix."""
    return re.fullmatch(rf"{re.escape(prefix)}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})", value) is not None
