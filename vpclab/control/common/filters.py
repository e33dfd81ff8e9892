"""EC2 `Filters`, `MaxResults` / `NextToken`, the same way for every Describe call.

A Describe handler names its filters once, as a dict of filter name -> accessor, and
this module does the matching (AWS's `*` and `?` wildcards, any-of values, all-of
filters, `tag:<key>`, `tag-key`, `tag-value`) and the paging. It also checks the values
of the filters AWS validates (`ID_FILTERS`) before matching anything.
"""
from __future__ import annotations

import base64
import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from ...protocol.errors import AwsError, InvalidNextToken, InvalidParameterValue
from .ids import is_well_formed

T = TypeVar("T")
Accessor = Callable[[Any], Any]


#: Filters whose values AWS checks are ids of the right form before matching: a malformed
#: value is the `.Malformed` error (prefix, code), not an empty answer. AWS validates the
#: security group id filters so; vpclab's choice, where no answer of AWS's was found, is
#: that the other id filters (vpc-id, subnet-id, instance-id, …) match nothing instead.
ID_FILTERS: dict[str, tuple[str, str]] = {
    "group-id": ("sg", "InvalidGroupId.Malformed"),
    "instance.group-id": ("sg", "InvalidGroupId.Malformed"),
    "network-interface.group-id": ("sg", "InvalidGroupId.Malformed"),
}


def check_filter_values(filters: list[dict] | None, fields: dict[str, Accessor]) -> None:
    """AWS's `.Malformed` error for a value of an `ID_FILTERS` filter (one this call
    serves) that is not an id of its form; values with wildcards are patterns, not ids."""
    for flt in filters or ():
        name = flt.get("Name", "")
        if name not in fields or name not in ID_FILTERS:
            continue
        prefix, code = ID_FILTERS[name]
        for value in flt.get("Values") or ():
            if any(c in value for c in "*?") or is_well_formed(value, prefix):
                continue
            if not value:
                raise AwsError("The security group ID '' is malformed", code=code)
            raise AwsError(f'Invalid id: "{value}" (expecting "{prefix}-...")', code=code)


def filter_and_page(
    items: Sequence[T],
    filters: list[dict] | None,
    fields: dict[str, Accessor],
    tags: Callable[[T], dict[str, str]] | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
    min_results: int = 5,
    max_allowed: int = 1000,
) -> tuple[list[T], str | None]:
    """Items matching every filter, then one page of them and the token of the next."""
    check_filter_values(filters, fields)
    matched = [i for i in items if matches(i, filters, fields, tags)]
    return page(matched, max_results, next_token, min_results, max_allowed)


def matches(item: Any, filters: list[dict] | None, fields: dict[str, Accessor],
            tags: Callable[[Any], dict[str, str]] | None = None) -> bool:
    for flt in filters or ():
        name = flt.get("Name", "")
        wanted = flt.get("Values") or []
        if not _match_one(item, name, wanted, fields, tags):
            return False
    return True


def _match_one(item: Any, name: str, wanted: list[str], fields: dict[str, Accessor],
               tags: Callable[[Any], dict[str, str]] | None) -> bool:
    if tags is not None and name.startswith("tag:"):
        value = tags(item).get(name[4:])
        return value is not None and any(_glob(w).match(value) for w in wanted)
    if tags is not None and name == "tag-key":
        return any(_glob(w).match(k) for k in tags(item) for w in wanted)
    if tags is not None and name == "tag-value":
        return any(_glob(w).match(v) for v in tags(item).values() for w in wanted)
    accessor = fields.get(name)
    if accessor is None:
        raise InvalidParameterValue(f"The filter '{name}' is invalid")
    values = accessor(item)
    if not isinstance(values, (list, tuple, set)):
        values = [values]
    texts = [_text(v) for v in values if v is not None]
    return any(_glob(w).match(t) for t in texts for w in wanted)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


def page(
    items: Sequence[T],
    max_results: int | None,
    next_token: str | None,
    min_results: int = 5,
    max_allowed: int = 1000,
) -> tuple[list[T], str | None]:
    start = decode_token(next_token) if next_token else 0
    if max_results is None:
        return list(items[start:]), None
    if not min_results <= max_results <= max_allowed:
        raise InvalidParameterValue(
            f"Value ( {max_results} ) for parameter maxResults is invalid. "
            f"Expecting a value greater than {min_results - 1} and less than {max_allowed + 1}."
        )
    end = start + max_results
    token = encode_token(end) if end < len(items) else None
    return list(items[start:end]), token


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"vpclab:{offset}".encode()).decode()


def decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, offset = text.split(":")
        if prefix != "vpclab" or int(offset) < 0:
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise InvalidNextToken(f"The token '{token}' is invalid.") from None


def by_ids(items: Iterable[T], ids: list[str] | None, id_of: Callable[[T], str],
           not_found: Callable[[list[str]], Exception]) -> list[T]:
    """Restrict to the ids a request named; any id not there is AWS's `.NotFound` error."""
    items = list(items)
    if not ids:
        return items
    known = {id_of(i): i for i in items}
    missing = [i for i in ids if i not in known]
    if missing:
        raise not_found(missing)
    wanted = set(ids)
    return [i for i in items if id_of(i) in wanted]
