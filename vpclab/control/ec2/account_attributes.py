"""DescribeAccountAttributes: the limits AWS reports and the caller's default VPC."""
from __future__ import annotations

from ...protocol.dispatch import RequestContext, operation
from .default_vpc import ensure_default_vpc


@operation("ec2", "DescribeAccountAttributes")
def describe_account_attributes(ctx: RequestContext, req: dict) -> dict:
    vpc_id = ensure_default_vpc(ctx)
    attrs = {
        "supported-platforms": ["VPC"],
        "default-vpc": [vpc_id or "none"],
        "max-instances": ["20"],
        "vpc-max-security-groups-per-interface": ["5"],
        "max-elastic-ips": ["5"],
        "vpc-max-elastic-ips": ["5"],
    }
    names = req.get("AttributeNames") or list(attrs)
    return {
        "AccountAttributes": [
            {"AttributeName": n, "AttributeValues": [{"AttributeValue": v} for v in attrs[n]]}
            for n in names
            if n in attrs
        ]
    }
