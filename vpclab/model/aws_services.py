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

Names as AWS's DescribeVpcEndpointServices shows them (the AWS CLI's examples and the
PrivateLink guide's list of services): the DNS prefix is the service's regional endpoint
(`ecr.api` is `api.ecr.<region>.amazonaws.com`); S3's Interface entry answers for every
bucket, so its private DNS name is the wildcard `*.s3.<region>.amazonaws.com` and its
endpoint DNS names start with `*.` too; DynamoDB's Interface entry offers no private DNS
name (AWS's CreateVpcEndpoint refuses private DNS for it); a Gateway entry's base DNS
name is the public regional name, not a `vpce` one.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

OWNER = "amazon"
PREFIX = "com.amazonaws."

#: The policy AWS gives a Gateway endpoint made without one (full access), as
#: DescribeVpcEndpoints renders it.
GATEWAY_DEFAULT_POLICY = (
    '{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}'
)
#: The same for an Interface endpoint to an AWS service (AWS pretty-prints this one).
INTERFACE_DEFAULT_POLICY = (
    '{\n  "Statement": [\n    {\n      "Action": "*", \n      "Effect": "Allow", \n'
    '      "Principal": "*", \n      "Resource": "*"\n    }\n  ]\n}'
)


@dataclass(frozen=True)
class AwsService:
    """One AWS service as an endpoint service.

    `short_name` is what follows the region in the service name (`ec2`, `s3`,
    `ecr.api`); `dns_prefix` the first label(s) of its regional endpoint
    (`ec2.<region>.amazonaws.com`); `types` the endpoint types AWS offers for it, in the
    order DescribeVpcEndpointServices lists them; `served` the vpclab service (the
    protocol layer's name: ec2, elbv2, sts, cloudformation) whose API answers through
    its Interface endpoints, or None. `private_dns` is how its Interface entry names
    itself in the VPC: `name` (the regional endpoint), `wildcard` (`*.` and that name:
    every bucket or registry under it) or `none`.
    """

    short_name: str
    dns_prefix: str
    types: tuple[str, ...] = ("Interface",)
    served: str | None = None
    private_dns: str = "name"

    def service_name(self, region: str) -> str:
        return f"{PREFIX}{region}.{self.short_name}"

    def private_dns_name(self, region: str) -> str:
        """The name an Interface endpoint with private DNS answers in its VPC."""
        star = "*." if self.private_dns == "wildcard" else ""
        return f"{star}{self.dns_prefix}.{region}.amazonaws.com"

    def offered_private_dns_name(self, region: str) -> str | None:
        """The private DNS name DescribeVpcEndpointServices shows for its Interface entry
        (None: the service offers none, and private DNS cannot be enabled)."""
        return None if self.private_dns == "none" else self.private_dns_name(region)

    def base_dns_name(self, region: str, endpoint_type: str) -> str:
        """BaseEndpointDnsNames: `<prefix>.<region>.vpce.amazonaws.com` for Interface,
        the public regional name for Gateway."""
        if endpoint_type == "Gateway":
            return f"{self.dns_prefix}.{region}.amazonaws.com"
        return f"{self.dns_prefix}.{region}.vpce.amazonaws.com"

    def endpoint_dns_stem(self) -> str:
        """What precedes an endpoint's own names (`vpce-…-<suffix>`): `*.` for a wildcard service."""
        return "*." if self.private_dns == "wildcard" else ""

    def service_id(self, region: str, endpoint_type: str) -> str:
        """`vpce-svc-` and 17 hex digits, stable per region, name and type."""
        digest = hashlib.sha256(f"{region}/{self.short_name}/{endpoint_type}".encode()).hexdigest()
        return "vpce-svc-" + digest[:17]

    def prefix_list_name(self, region: str) -> str:
        """The AWS-managed prefix list of a Gateway service: its service name."""
        return self.service_name(region)

    def prefix_list_id(self, region: str) -> str:
        """`pl-` and 8 hex digits, stable per region and service: AWS's own id where
        its examples show it, else derived from the region and the name."""
        known = KNOWN_PREFIX_LIST_IDS.get((region, self.short_name))
        if known:
            return known
        digest = hashlib.sha256(f"prefix-list/{region}/{self.short_name}".encode()).hexdigest()
        return "pl-" + digest[:8]

    def prefix_list_cidrs(self) -> list[str]:
        """The public ranges the prefix list holds (`PREFIX_LIST_CIDRS`)."""
        return list(PREFIX_LIST_CIDRS.get(self.short_name, ()))


#: The catalog, in service-name order. The data plane serves the `served` ones.
SERVICES: tuple[AwsService, ...] = (
    AwsService("athena", "athena"),
    AwsService("autoscaling", "autoscaling"),
    AwsService("cloudformation", "cloudformation", served="cloudformation"),
    AwsService("codebuild", "codebuild"),
    AwsService("dynamodb", "dynamodb", types=("Gateway", "Interface"), private_dns="none"),
    AwsService("ebs", "ebs"),
    AwsService("ec2", "ec2", served="ec2"),
    AwsService("ec2messages", "ec2messages"),
    AwsService("ecr.api", "api.ecr"),
    AwsService("ecr.dkr", "dkr.ecr", private_dns="wildcard"),
    AwsService("ecs", "ecs"),
    AwsService("elasticfilesystem", "elasticfilesystem"),
    AwsService("elasticloadbalancing", "elasticloadbalancing", served="elbv2"),
    AwsService("events", "events"),
    AwsService("execute-api", "execute-api", private_dns="wildcard"),
    AwsService("glue", "glue"),
    AwsService("kinesis-streams", "kinesis"),
    AwsService("kms", "kms"),
    AwsService("lambda", "lambda"),
    AwsService("logs", "logs"),
    AwsService("monitoring", "monitoring"),
    AwsService("rds", "rds"),
    AwsService("s3", "s3", types=("Gateway", "Interface"), private_dns="wildcard"),
    AwsService("secretsmanager", "secretsmanager"),
    AwsService("sns", "sns"),
    AwsService("sqs", "sqs"),
    AwsService("ssm", "ssm"),
    AwsService("ssmmessages", "ssmmessages"),
    AwsService("states", "states"),
    AwsService("sts", "sts", served="sts"),
    AwsService("xray", "xray"),
)

#: Prefix list ids AWS's public examples show (the AWS CLI's describe-prefix-lists and
#: the gateway endpoint guide); other regions get a derived id.
KNOWN_PREFIX_LIST_IDS = {
    ("us-east-1", "s3"): "pl-63a5400a",
    ("us-east-1", "dynamodb"): "pl-02cd2c6b",
    ("us-west-2", "s3"): "pl-68a54001",
}

#: What each Gateway service's prefix list holds: a fixed set of the public ranges AWS
#: publishes for the service in us-east-1 (ip-ranges.json, services S3 and DYNAMODB),
#: used in every region. vpclab routes nothing along them (no traffic leaves the lab for
#: S3 or DynamoDB), so they only have to look like AWS's: the same list in every call.
PREFIX_LIST_CIDRS = {
    "s3": ("3.5.0.0/19", "16.182.0.0/16", "18.34.0.0/19", "18.34.232.0/21", "52.216.0.0/15", "54.231.0.0/16"),
    "dynamodb": ("3.218.180.0/22", "52.94.0.0/22", "52.119.224.0/20"),
}

_BY_SHORT_NAME = {s.short_name: s for s in SERVICES}


def gateway_services() -> list[AwsService]:
    """The services offered as Gateway endpoints (S3, DynamoDB): those with a prefix list."""
    return [s for s in SERVICES if "Gateway" in s.types]


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

