"""ELBv2 tags: AddTags, RemoveTags, DescribeTags on load balancer, target group and
listener ARNs (one request may mix them, as on AWS)."""
from __future__ import annotations

from ...model.elbv2 import Listener, LoadBalancer, TargetGroup
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import ValidationError
from ...store import Transaction
from .common import MAX_TAGS, arn_kind, err, tag_dict, tag_list, too_many_tags

_KINDS = {
    "load-balancer": (LoadBalancer, "LoadBalancerNotFound", "Load balancer"),
    "target-group": (TargetGroup, "TargetGroupNotFound", "Target group"),
    "listener": (Listener, "ListenerNotFound", "Listener"),
}


def _taggable(tx: Transaction, ctx: RequestContext, arn: str):
    kind = arn_kind(arn)
    if kind is None:
        raise ValidationError(f"'{arn}' is not a valid resource ARN")
    cls, code, noun = _KINDS[kind]
    obj = tx.get(cls, arn)
    if obj is None or obj.account != ctx.account or obj.region != ctx.region:
        raise err(code, f"{noun} '{arn}' not found")
    return obj


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
