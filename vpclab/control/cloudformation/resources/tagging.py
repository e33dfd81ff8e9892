"""Tags on what a stack makes: CloudFormation's three `aws:cloudformation:*` tags, then the
template's `Tags`; an update changes only the template's."""
from __future__ import annotations

from typing import Any

from .api import Api
from .provider import Props, StackRef


def template_tags(props: Props) -> dict[str, str]:
    return {str(t["Key"]): str(t.get("Value", "")) for t in props.get("Tags") or []}


def all_tags(stack: StackRef, props: Props) -> list[dict[str, str]]:
    return stack.tags() + [{"Key": k, "Value": v} for k, v in template_tags(props).items()]


def ec2_specs(resource_type: str, stack: StackRef, props: Props) -> list[dict[str, Any]]:
    """The TagSpecifications of an EC2 create call."""
    return [{"ResourceType": resource_type, "Tags": all_tags(stack, props)}]


def update_ec2_tags(api: Api, resource_id: str, old: Props, new: Props) -> None:
    before, after = template_tags(old), template_tags(new)
    gone = [{"Key": k} for k in before if k not in after]
    if gone:
        api.call("ec2", "DeleteTags", {"Resources": [resource_id], "Tags": gone})
    changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
    if changed:
        api.call("ec2", "CreateTags", {"Resources": [resource_id], "Tags": changed})


def update_elbv2_tags(api: Api, arn: str, old: Props, new: Props) -> None:
    before, after = template_tags(old), template_tags(new)
    gone = [k for k in before if k not in after]
    if gone:
        api.call("elbv2", "RemoveTags", {"ResourceArns": [arn], "TagKeys": gone})
    changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
    if changed:
        api.call("elbv2", "AddTags", {"ResourceArns": [arn], "Tags": changed})
