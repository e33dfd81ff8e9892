"""The AWS services a VPC endpoint can connect to: one catalog, read by both planes.

AWS offers its own services as endpoint services owned by `amazon`, named
`com.amazonaws.<region>.<service>`: most as Interface endpoints, S3 and DynamoDB also
(S3: first) as Gateway endpoints reached through a prefix list in route tables. They are
not stored: every region has the same catalog, and their ids are derived from the region
and the name, so they are the same in every state directory (as on AWS, where a service's
id is the same for every caller in a region).

The ones vpclab itself serves (`served`) answer through an Interface endpoint: the data
plane puts the API behind the endpoint's addresses, over HTTPS with the state
directory's CA. The others accept endpoints and resolve names but carry nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

OWNER = "amazon"
PREFIX = "com.amazonaws."


@dataclass(frozen=True)
class AwsService:
    """One AWS service as an endpoint service.

    `short_name` is what follows the region in the service name (`ec2`, `s3`,
    `ecr.api`); `dns_prefix` the first label(s) of its regional endpoint
    (`ec2.<region>.amazonaws.com`); `types` the endpoint types AWS offers for it, in the
    order DescribeVpcEndpointServices lists them; `served` the vpclab service (the
    protocol layer's name: ec2, elbv2, sts, cloudformation) whose API answers through
    its Interface endpoints, or None.
    """

    short_name: str
    dns_prefix: str
    types: tuple[str, ...] = ("Interface",)
    served: str | None = None

    def service_name(self, region: str) -> str:
        return f"{PREFIX}{region}.{self.short_name}"

    def private_dns_name(self, region: str) -> str:
        """The name an Interface endpoint with private DNS answers in its VPC."""
        return f"{self.dns_prefix}.{region}.amazonaws.com"

    def service_id(self, region: str, endpoint_type: str) -> str:
        """`vpce-svc-` and 17 hex digits, stable per region, name and type."""
        digest = hashlib.sha256(f"{region}/{self.short_name}/{endpoint_type}".encode()).hexdigest()
        return "vpce-svc-" + digest[:17]


#: The catalog, in service-name order. The data plane serves the `served` ones.
SERVICES: tuple[AwsService, ...] = (
    AwsService("cloudformation", "cloudformation", served="cloudformation"),
    AwsService("dynamodb", "dynamodb", types=("Gateway", "Interface")),
    AwsService("ec2", "ec2", served="ec2"),
    AwsService("elasticloadbalancing", "elasticloadbalancing", served="elbv2"),
    AwsService("s3", "s3", types=("Gateway", "Interface")),
    AwsService("sts", "sts", served="sts"),
)

_BY_SHORT_NAME = {s.short_name: s for s in SERVICES}


def lookup(service_name: str) -> tuple[AwsService, str] | None:
    """(service, region) of `com.amazonaws.<region>.<short name>`, or None (an endpoint
    service of some account, `com.amazonaws.vpce.<region>.vpce-svc-…`, or unknown)."""
    if not service_name.startswith(PREFIX):
        return None
    region, _, short = service_name[len(PREFIX):].partition(".")
    if region == "vpce" or not short:
        return None
    service = _BY_SHORT_NAME.get(short)
    return (service, region) if service is not None else None


def is_aws_service(service_name: str) -> bool:
    return lookup(service_name) is not None

