"""What the ELBv2 areas share: ARNs, names, lookups, paging, tags, AWS's error codes.

ELBv2 resources are keyed by ARN. An ARN of another account (or region), or one that
names nothing, is reported as AWS reports a missing resource (`LoadBalancerNotFound`,
`TargetGroupNotFound`, `ListenerNotFound`); an ARN that is not even of the right form is
a `ValidationError`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Generic, TypeVar

from ...model.elbv2 import Listener, LoadBalancer, TargetGroup, forwarded_target_groups
from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError, ValidationError
from ...store import Resource, Transaction
from ..common import reserved_tags
from ..common.filters import decode_token, encode_token
from ..common.ids import new_hex
from ..common.lookup import find_owned

R = TypeVar("R", bound=Resource)


def err(code: str, message: str) -> AwsError:
    return AwsError(message, code=code)


def invalid_config(message: str) -> AwsError:
    return err("InvalidConfigurationRequest", message)


# ARNs -------------------------------------------------------------------------------------

_ARN = re.compile(
    r"arn:aws:elasticloadbalancing:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?P<resource>.+)"
)
_LB_RES = re.compile(r"loadbalancer/(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}")
_TG_RES = re.compile(r"targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}")
_LISTENER_RES = re.compile(r"listener/(app|net|gwy)/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}/[0-9a-f]{16}")


def check_ipv4(ip_type: str | None) -> str:
    """An IpAddressType vpclab serves (`ipv4`, the default), else the refusal: dualstack
    and the IPv6 types are refused, never taken as IPv4 (as `common.ipv6` does for EC2)."""
    if ip_type in (None, "ipv4"):
        return "ipv4"
    raise ValidationError(f"IP address type '{ip_type}' asks for IPv6: vpclab does not serve IPv6 yet; use 'ipv4'")


def arn_prefix(ctx: RequestContext) -> str:
    return f"arn:aws:elasticloadbalancing:{ctx.region}:{ctx.account}"


def new_lb_arn(ctx: RequestContext, name: str) -> tuple[str, str]:
    """(ARN, its 16 hex digits) of a new Network Load Balancer."""
    suffix = new_hex(16)
    return f"{arn_prefix(ctx)}:loadbalancer/net/{name}/{suffix}", suffix


def new_tg_arn(ctx: RequestContext, name: str) -> str:
    return f"{arn_prefix(ctx)}:targetgroup/{name}/{new_hex(16)}"


def new_listener_arn(lb: LoadBalancer) -> str:
    # listener/net/<lb-name>/<lb-hex>/<hex>: the LB ARN's resource with `listener` in front.
    lb_path = lb.id.split(":loadbalancer/", 1)[1]
    prefix = lb.id.split(":loadbalancer/", 1)[0]
    return f"{prefix}:listener/{lb_path}/{new_hex(16)}"


def lb_suffix(lb: LoadBalancer) -> str:
    return lb.id.rsplit("/", 1)[1]


def arn_kind(arn: str) -> str | None:
    """`load-balancer`, `target-group`, `listener` or None, read off the ARN's form."""
    m = _ARN.fullmatch(arn or "")
    if not m:
        return None
    res = m.group("resource")
    if _LB_RES.fullmatch(res):
        return "load-balancer"
    if _TG_RES.fullmatch(res):
        return "target-group"
    if _LISTENER_RES.fullmatch(res):
        return "listener"
    return None


@dataclass(frozen=True)
class ArnKind(Generic[R]):
    """One ELBv2 resource kind: its name in `arn_kind`, its model class, and AWS's words
    for an ARN not of its form (ValidationError) or naming none of the caller's."""

    name: str
    cls: type[R]
    noun: str  # "Load balancer"
    not_found_code: str

    def check(self, arn: str) -> None:
        if arn_kind(arn) != self.name:
            raise ValidationError(f"'{arn}' is not a valid {self.noun.lower()} ARN")

    def not_found(self, message: str | None = None) -> AwsError:
        return err(self.not_found_code, message or f"One or more {self.noun.lower()}s not found")

    def find(self, tx: Transaction, ctx: RequestContext, arn: str) -> R | None:
        """The caller's resource `arn`, or None; ValidationError for an ARN of another form."""
        self.check(arn)
        return find_owned(tx, ctx, self.cls, arn)

    def get(self, tx: Transaction, ctx: RequestContext, arn: str) -> R:
        obj = self.find(tx, ctx, arn)
        if obj is None:
            raise self.not_found(f"{self.noun} '{arn}' not found")
        return obj


LOAD_BALANCER = ArnKind("load-balancer", LoadBalancer, "Load balancer", "LoadBalancerNotFound")
TARGET_GROUP = ArnKind("target-group", TargetGroup, "Target group", "TargetGroupNotFound")
LISTENER = ArnKind("listener", Listener, "Listener", "ListenerNotFound")
#: By the name `arn_kind` reads off an ARN.
ARN_KINDS: dict[str, ArnKind] = {k.name: k for k in (LOAD_BALANCER, TARGET_GROUP, LISTENER)}


def lb_not_found(message: str | None = None) -> AwsError:
    return LOAD_BALANCER.not_found(message)


def tg_not_found(message: str | None = None) -> AwsError:
    return TARGET_GROUP.not_found(message)


def listener_not_found(message: str | None = None) -> AwsError:
    return LISTENER.not_found(message)


def get_lb(tx: Transaction, ctx: RequestContext, arn: str) -> LoadBalancer:
    return LOAD_BALANCER.get(tx, ctx, arn)


def find_lb(tx: Transaction, ctx: RequestContext, arn: str) -> LoadBalancer | None:
    return LOAD_BALANCER.find(tx, ctx, arn)


def get_tg(tx: Transaction, ctx: RequestContext, arn: str) -> TargetGroup:
    return TARGET_GROUP.get(tx, ctx, arn)


def find_tg(tx: Transaction, ctx: RequestContext, arn: str) -> TargetGroup | None:
    return TARGET_GROUP.find(tx, ctx, arn)


def get_listener(tx: Transaction, ctx: RequestContext, arn: str) -> Listener:
    return LISTENER.get(tx, ctx, arn)


def find_listener(tx: Transaction, ctx: RequestContext, arn: str) -> Listener | None:
    return LISTENER.find(tx, ctx, arn)


# Relations ----------------------------------------------------------------------------------

def listeners_of_tg(tx: Transaction, tg: TargetGroup) -> list[Listener]:
    return tx.list(Listener, tg.account, tg.region,
                   where=lambda l: tg.id in forwarded_target_groups(l.default_actions))


def lbs_of_tg(tx: Transaction, tg: TargetGroup) -> list[str]:
    """ARNs of the load balancers whose listeners forward to `tg` (AWS allows one)."""
    return list(dict.fromkeys(l.load_balancer_arn for l in listeners_of_tg(tx, tg)))


# Names ----------------------------------------------------------------------------------------

_NAME_CHARS = re.compile(r"[A-Za-z0-9-]+")


def _check_name(kind: str, name: str, hyphen_rule: str) -> None:
    """ELBv2's name rules, shared by load balancers and target groups (`kind`), in AWS's
    wording; only the text of the hyphen rule differs between the two."""
    if not name:
        raise ValidationError(f"A {kind.lower()} name must be specified")
    if len(name) > 32:
        raise ValidationError(f"{kind} name '{name}' cannot be longer than '32' characters")
    if not _NAME_CHARS.fullmatch(name):
        raise ValidationError(
            f"{kind} name '{name}' can only contain characters that are alphanumeric characters or hyphens(-)"
        )
    if name.startswith("-") or name.endswith("-"):
        raise ValidationError(f"{kind} name '{name}' cannot begin or end with {hyphen_rule}")


def check_lb_name(name: str) -> None:
    _check_name("Load balancer", name, "a hyphen(-)")
    if name.lower().startswith("internal-"):
        raise ValidationError(f"Load balancer name '{name}' cannot begin with 'internal-'")


def check_tg_name(name: str) -> None:
    _check_name("Target group", name, "'-'")


# Paging (Marker / PageSize / NextMarker) ----------------------------------------------------

def page(items: list, marker: str | None, page_size: int | None) -> tuple[list, str | None]:
    if page_size is not None and not 1 <= page_size <= 400:
        raise ValidationError(
            f"1 validation error detected: Value '{page_size}' at 'pageSize' failed to satisfy "
            "constraint: Member must have value "
            + ("greater than or equal to 1" if page_size < 1 else "less than or equal to 400")
        )
    try:
        start = decode_token(marker) if marker else 0
    except AwsError:
        raise ValidationError(f"Invalid marker '{marker}'") from None
    if page_size is None:
        return list(items[start:]), None
    end = start + page_size
    return list(items[start:end]), (encode_token(end) if end < len(items) else None)


# Tags ---------------------------------------------------------------------------------------------

MAX_TAGS = 50


def too_many_tags() -> AwsError:
    return err("TooManyTags", "The quota for the number of tags that can be assigned to a load balancer has been reached")


#: The model's pattern for ELBv2 tag keys and values (TagKey, TagValue):
#: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$ -- letters, separators, numbers and _.:/=+-@.
TAG_PATTERN = r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _check_tag_text(text: str, member: str) -> None:
    """AWS's validation error for a tag key or value outside the model's pattern (Python's
    `re` has no \\p{..} classes, so the categories are read from unicodedata)."""
    for ch in text:
        if ch not in _TAG_PUNCTUATION and unicodedata.category(ch)[0] not in "LZN":
            raise ValidationError(
                f"1 validation error detected: Value '{text}' at 'tags.member.{member}' failed to "
                f"satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}"
            )


def tag_dict(tags: list[dict] | None) -> dict[str, str]:
    """ELBv2 `Tags` to a dict, with AWS's DuplicateTagKeys / TooManyTags / ValidationError."""
    out: dict[str, str] = {}
    for tag in tags or ():
        key = tag.get("Key")
        if not key:
            raise ValidationError("A tag key must be specified")
        if len(key) > 128:
            raise ValidationError(
                f"1 validation error detected: Value '{key}' at 'tags.member.key' failed to satisfy "
                "constraint: Member must have length less than or equal to 128"
            )
        if len(tag.get("Value") or "") > 256:
            raise ValidationError(
                "1 validation error detected: Value at 'tags.member.value' failed to satisfy "
                "constraint: Member must have length less than or equal to 256"
            )
        _check_tag_text(key, "key")
        _check_tag_text(tag.get("Value") or "", "value")
        if reserved_tags.is_reserved(key):
            raise ValidationError("Tag keys starting with 'aws:' are reserved for internal use")
        if key in out:
            raise err("DuplicateTagKeys", f"Tag key was specified more than once: {key}")
        out[key] = tag.get("Value") or ""
    if len(out) > MAX_TAGS:
        raise too_many_tags()
    return out


def key_values(values: dict[str, str]) -> list[dict]:
    """A map in ELBv2's wire form, as Tags and Attributes are: a list of Key/Value pairs
    (empty, never left out)."""
    return [{"Key": k, "Value": v} for k, v in values.items()]


def tag_list(tags: dict[str, str]) -> list[dict]:
    return key_values(tags)


# Values ---------------------------------------------------------------------------------------------

def parse_bool(value: str, key: str, noun: str) -> bool:
    if value not in ("true", "false"):
        raise ValidationError(f"{noun} attribute '{key}' value '{value}' must be 'true' or 'false'")
    return value == "true"


def parse_int(value: str, key: str, noun: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{noun} attribute '{key}' value '{value}' must be an integer") from None
    if not low <= number <= high:
        raise ValidationError(
            f"{noun} attribute '{key}' value '{value}' must be between '{low}' and '{high}'"
        )
    return number
