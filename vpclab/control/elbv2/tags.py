"""ELBv2 tags: AddTags, RemoveTags, DescribeTags on load balancer, target group and
listener ARNs (one request may mix them, as on AWS)."""
from __future__ import annotations

from ...model.elbv2 import Listener, LoadBalancer, TargetGroup
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import ValidationError
from ...store import Transaction
from .common import ARN_KINDS, MAX_TAGS, arn_kind, tag_dict, tag_list, too_many_tags


def _taggable(tx: Transaction, ctx: RequestContext, arn: str) -> LoadBalancer | TargetGroup | Listener:
    kind = arn_kind(arn)
    if kind is None:
        raise ValidationError(f"'{arn}' is not a valid resource ARN")
    return ARN_KINDS[kind].get(tx, ctx, arn)


def _arns(req: dict, limit: int = 20) -> list[str]:
    arns = req.get("ResourceArns") or []
    if not arns:
        raise ValidationError("At least one resource ARN must be specified")
    if len(arns) > limit:
        raise ValidationError(
            f"1 validation error detected: Value at 'resourceArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {limit}")
    return arns


@operation("elbv2", "AddTags")
def add_tags(ctx: RequestContext, req: dict) -> dict:
    new = tag_dict(req.get("Tags"))
    if not new:
        raise ValidationError("At least one tag must be specified")
    with ctx.write() as tx:
        for arn in _arns(req):
            obj = _taggable(tx, ctx, arn)
            merged = {**obj.tags, **new}
            if len(merged) > MAX_TAGS:
                raise too_many_tags()
            obj.tags = merged
            tx.put(obj)
    return {}


@operation("elbv2", "RemoveTags")
def remove_tags(ctx: RequestContext, req: dict) -> dict:
    keys = req.get("TagKeys") or []
    with ctx.write() as tx:
        for arn in _arns(req):
            obj = _taggable(tx, ctx, arn)
            obj.tags = {k: v for k, v in obj.tags.items() if k not in keys}
            tx.put(obj)
    return {}


@operation("elbv2", "DescribeTags")
def describe_tags(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        found = [_taggable(tx, ctx, arn) for arn in _arns(req)]
    return {"TagDescriptions": [{"ResourceArn": o.id, "Tags": tag_list(o.tags)} for o in found]}
