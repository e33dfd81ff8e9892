"""Tags: TagSpecifications at create time, CreateTags / DeleteTags / DescribeTags.

Every taggable EC2 resource is a `Tagged` dataclass; which kind an id names is read off
its prefix, as AWS does.
"""
from __future__ import annotations

from ...model.ec2 import Tagged
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue, MissingParameter
from ...protocol.serializer import forbidden_in_xml
from ...store import Transaction
from . import reserved_tags
from .filters import filter_and_page
from .lookup import (
    ALLOCATION,
    ENDPOINT,
    ENI,
    GROUP,
    GROUP_RULE,
    INSTANCE,
    INTERNET_GATEWAY,
    KEY_PAIR,
    ROUTE_TABLE,
    SERVICE,
    SUBNET,
    VOLUME,
    VPC,
    IdKind,
    find_owned,
)

#: id prefix -> (store kind, which is also DescribeTags' resource-type; the id's kind,
#: whose code stem a NotFound carries)
PREFIXES: dict[str, tuple[str, IdKind]] = {
    "vpc": ("vpc", VPC),
    "subnet": ("subnet", SUBNET),
    "sg": ("security-group", GROUP),
    "i": ("instance", INSTANCE),
    "eni": ("network-interface", ENI),
    "key": ("key-pair", KEY_PAIR),
    "vpce": ("vpc-endpoint", ENDPOINT),
    "vpce-svc": ("vpc-endpoint-service", SERVICE),
    "sgr": ("security-group-rule", GROUP_RULE),
    "igw": ("internet-gateway", INTERNET_GATEWAY),
    "rtb": ("route-table", ROUTE_TABLE),
    "vol": ("volume", VOLUME),
    "eipalloc": ("elastic-ip", ALLOCATION),
}

MAX_TAGS = 50


def tags_from_specs(specs: list[dict] | None, resource_type: str) -> dict[str, str]:
    """The tags a create call's TagSpecifications give a resource of `resource_type`."""
    out: dict[str, str] = {}
    for spec in specs or ():
        rtype = spec.get("ResourceType")
        if rtype is None:
            raise MissingParameter("The request must contain the parameter TagSpecification.N.ResourceType")
        if rtype != resource_type:
            continue
        out.update(tag_dict(spec.get("Tags") or []))
    return out


def tag_dict(tags: list[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for tag in tags:
        key = tag.get("Key")
        if key is None:
            raise MissingParameter("The request must contain the parameter Tag.Key")
        if reserved_tags.is_reserved(key):
            raise InvalidParameterValue(
                "Tag keys starting with 'aws:' are reserved for internal use"
            )
        value = tag.get("Value") or ""
        if len(key) > 128 or len(value) > 256:
            raise InvalidParameterValue(f"Tag key or value too long: '{key}'")
        _check_characters(key, "Tag key")
        _check_characters(value, "Tag value")
        out[key] = value
    if len(out) > MAX_TAGS:
        raise AwsError("The maximum number of tags per resource is 50", code="TagLimitExceeded")
    return out


def _check_characters(text: str, param: str) -> None:
    """EC2 takes any Unicode character in a tag (unlike most services), but only what its
    XML answers can carry: a C0 control other than tab, LF and CR (or a lone surrogate,
    U+FFFE, U+FFFF) would make every later Describe of the resource unreadable.
    Unconfirmed wording; AWS's code for a bad tag is InvalidParameterValue."""
    bad = forbidden_in_xml(text)
    if bad is not None:
        raise InvalidParameterValue(
            f"Value for parameter {param} is invalid. "
            f"The character U+{ord(bad):04X} is not allowed."
        )


def tag_list(tags: dict[str, str]) -> list[dict] | None:
    """The wire form; None for no tags, so the element is left out as AWS does."""
    return [{"Key": k, "Value": v} for k, v in tags.items()] or None


def _prefix(resource_id: str) -> str:
    if resource_id.startswith("vpce-svc-"):
        return "vpce-svc"
    return resource_id.split("-", 1)[0]


def find_taggable(tx: Transaction, ctx: RequestContext, resource_id: str) -> Tagged:
    entry = PREFIXES.get(_prefix(resource_id))
    if entry is None or "-" not in resource_id:
        raise AwsError(f"Invalid id: \"{resource_id}\"", code="InvalidID")
    kind, id_kind = entry
    cls = tx.kind_class(kind)
    obj = find_owned(tx, ctx, cls, resource_id) if cls else None
    if obj is None or not isinstance(obj, Tagged):
        raise AwsError(f"The ID '{resource_id}' does not exist", code=f"{id_kind.stem}.NotFound")
    return obj


@operation("ec2", "CreateTags")
def create_tags(ctx: RequestContext, req: dict) -> dict:
    new = tag_dict(req.get("Tags") or [])
    with ctx.write() as tx:
        for rid in req["Resources"]:
            obj = find_taggable(tx, ctx, rid)
            merged = {**obj.tags, **new}
            if len(merged) > MAX_TAGS:
                raise AwsError("The maximum number of tags per resource is 50", code="TagLimitExceeded")
            obj.tags = merged
            tx.put(obj)
    return {}


@operation("ec2", "DeleteTags")
def delete_tags(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        for rid in req["Resources"]:
            obj = find_taggable(tx, ctx, rid)
            if not req.get("Tags"):
                obj.tags = {}
            for tag in req.get("Tags") or ():
                key = tag.get("Key")
                # A value given means: delete only if it matches.
                if key in obj.tags and ("Value" not in tag or obj.tags[key] == tag["Value"]):
                    del obj.tags[key]
            tx.put(obj)
    return {}


@operation("ec2", "DescribeTags")
def describe_tags(ctx: RequestContext, req: dict) -> dict:
    rows = []
    with ctx.read() as tx:
        for kind, _id_kind in PREFIXES.values():
            cls = tx.kind_class(kind)
            if cls is None:
                continue
            for obj in tx.list(cls, ctx.account, ctx.region):
                for key, value in getattr(obj, "tags", {}).items():
                    rows.append({"Key": key, "Value": value, "ResourceId": obj.id, "ResourceType": kind})
    fields = {
        "key": lambda r: r["Key"],
        "value": lambda r: r["Value"],
        "resource-id": lambda r: r["ResourceId"],
        "resource-type": lambda r: r["ResourceType"],
    }
    page, token = filter_and_page(rows, req.get("Filters"), fields,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"Tags": page, "NextToken": token}
