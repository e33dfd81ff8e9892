"""What a lab made, found by the tags it puts on everything it creates, not by names.

Names are the user's too: after the README's AWS CLI walk-through an account holds a
`demo-service-tg` and a `demo-service-nlb` that are not the lab's, and a kept run holds a
`launch-wizard-1`. So every resource a lab run creates carries two tags, `vpclab:lab`
(which lab) and `vpclab:lab-run` (which run; tag keys may hold `:`, only `aws:` is
reserved), and cleanup deletes what carries them and nothing else. ENIs that AWS makes on
a resource's behalf (an NLB's, an endpoint's) carry no tags: they are found through the
resource that owns them.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.literals import ResourceTypeType
    from mypy_boto3_ec2.type_defs import FilterTypeDef, TagSpecificationTypeDef
    from mypy_boto3_ec2.type_defs import TagTypeDef as Ec2Tag
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_elbv2.type_defs import TagDescriptionTypeDef
    from mypy_boto3_elbv2.type_defs import TagTypeDef as Elbv2Tag

LAB_TAG = "vpclab:lab"
RUN_TAG = "vpclab:lab-run"


def tags(lab: str, run_id: str) -> list[Elbv2Tag]:
    """The tags of everything one lab run makes (ELBv2's `Tags` shape)."""
    return [{"Key": LAB_TAG, "Value": lab}, {"Key": RUN_TAG, "Value": run_id}]


def tag_specification(resource_type: ResourceTypeType, lab: str, run_id: str,
                      name: str | None = None) -> TagSpecificationTypeDef:
    """EC2's `TagSpecifications` entry for one resource type, with a Name tag if given."""
    extra: list[Ec2Tag] = [{"Key": "Name", "Value": name}] if name else []
    # EC2's tag shape makes Key optional, ELBv2's requires it: the same pairs, re-typed.
    ec2_tags: list[Ec2Tag] = [{"Key": t["Key"], "Value": t["Value"]} for t in tags(lab, run_id)]
    return {"ResourceType": resource_type, "Tags": extra + ec2_tags}


def _filters(lab: str, run_id: str | None) -> list[FilterTypeDef]:
    filters: list[FilterTypeDef] = [{"Name": f"tag:{LAB_TAG}", "Values": [lab]}]
    if run_id is not None:
        filters.append({"Name": f"tag:{RUN_TAG}", "Values": [run_id]})
    return filters


def _carries(tag_list: Sequence[Elbv2Tag], lab: str, run_id: str | None) -> bool:
    found = {t["Key"]: t.get("Value") for t in tag_list}
    return found.get(LAB_TAG) == lab and (run_id is None or found.get(RUN_TAG) == run_id)


@dataclass
class Made:
    """The resources of one account that carry a lab's tags (one run's, or every run's)."""

    account: str
    endpoints: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    load_balancers: list[str] = field(default_factory=list)  # ARNs
    target_groups: list[str] = field(default_factory=list)  # ARNs
    instances: list[str] = field(default_factory=list)
    security_groups: list[str] = field(default_factory=list)

    def kinds(self) -> dict[str, list[str]]:
        """Kind -> ids, only the kinds that have some."""
        out = {"endpoints": self.endpoints, "services": self.services,
               "load_balancers": self.load_balancers, "target_groups": self.target_groups,
               "instances": self.instances, "security_groups": self.security_groups}
        return {kind: ids for kind, ids in out.items() if ids}


def find(ec2: EC2Client, elb: ElasticLoadBalancingv2Client, account: str, lab: str, run_id: str | None = None) -> Made:
    """What carries the lab's tags in `account` (through its EC2 and ELBv2 clients):
    endpoints not yet deleted (`deleting` ones too: their ENIs still hold a security
    group), instances not terminated, and the rest that exist."""
    filters = _filters(lab, run_id)
    made = Made(account)
    # EC2 answers endpoint states in lower camel case; botocore's model enum, which the
    # stubs copy, spells them capitalised ("Deleted").
    made.endpoints = [e["VpcEndpointId"] for page in ec2.get_paginator("describe_vpc_endpoints").paginate(
        Filters=filters) for e in page["VpcEndpoints"]
        if e["State"] != "deleted"]  # type: ignore[comparison-overlap]
    made.services = [c["ServiceId"] for c in ec2.describe_vpc_endpoint_service_configurations(
        Filters=filters)["ServiceConfigurations"]]
    made.instances = [i["InstanceId"] for page in ec2.get_paginator("describe_instances").paginate(
        Filters=filters + [{"Name": "instance-state-name",
                            "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]}])
        for res in page["Reservations"] for i in res["Instances"]]
    made.security_groups = [g["GroupId"] for page in ec2.get_paginator("describe_security_groups").paginate(
        Filters=filters) for g in page["SecurityGroups"]]
    lbs = [lb["LoadBalancerArn"] for page in elb.get_paginator("describe_load_balancers").paginate()
           for lb in page["LoadBalancers"]]
    tgs = [tg["TargetGroupArn"] for page in elb.get_paginator("describe_target_groups").paginate()
           for tg in page["TargetGroups"]]
    made.load_balancers = _tagged_arns(elb, lbs, lab, run_id)
    made.target_groups = _tagged_arns(elb, tgs, lab, run_id)
    return made


def _tagged_arns(elb: ElasticLoadBalancingv2Client, arns: list[str], lab: str,
                 run_id: str | None) -> list[str]:
    """The ELBv2 resources among `arns` that carry the lab's tags (DescribeTags takes 20)."""
    out = []
    descriptions: list[TagDescriptionTypeDef]
    for i in range(0, len(arns), 20):
        descriptions = elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]
        for desc in descriptions:
            if _carries(desc.get("Tags", []), lab, run_id):
                out.append(desc["ResourceArn"])
    return out


def network_interfaces_of(ec2: EC2Client, made: Made) -> list[str]:
    """ENIs that belong to `made`'s resources: attached to its instances, or made by AWS
    for its endpoints ("VPC Endpoint Interface vpce-…") and NLBs ("ELB net/name/id")."""
    owners = {f"VPC Endpoint Interface {e}" for e in made.endpoints}
    owners |= {"ELB " + arn.split(":loadbalancer/", 1)[1] for arn in made.load_balancers}
    instances = set(made.instances)
    out = []
    for page in ec2.get_paginator("describe_network_interfaces").paginate():
        for eni in page["NetworkInterfaces"]:
            attached = eni.get("Attachment", {}).get("InstanceId")
            if eni.get("Description") in owners or (attached and attached in instances):
                out.append(eni["NetworkInterfaceId"])
    return out
