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

from dataclasses import dataclass, field

LAB_TAG = "vpclab:lab"
RUN_TAG = "vpclab:lab-run"


def tags(lab: str, run_id: str) -> list[dict[str, str]]:
    """The tags of everything one lab run makes (ELBv2's `Tags` shape)."""
    return [{"Key": LAB_TAG, "Value": lab}, {"Key": RUN_TAG, "Value": run_id}]


def tag_specification(resource_type: str, lab: str, run_id: str, name: str | None = None) -> dict:
    """EC2's `TagSpecifications` entry for one resource type, with a Name tag if given."""
    extra = [{"Key": "Name", "Value": name}] if name else []
    return {"ResourceType": resource_type, "Tags": extra + tags(lab, run_id)}


def _filters(lab: str, run_id: str | None) -> list[dict]:
    filters = [{"Name": f"tag:{LAB_TAG}", "Values": [lab]}]
    if run_id is not None:
        filters.append({"Name": f"tag:{RUN_TAG}", "Values": [run_id]})
    return filters


def _carries(tag_list: list[dict], lab: str, run_id: str | None) -> bool:
    found = {t["Key"]: t["Value"] for t in tag_list}
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


def find(ec2, elb, account: str, lab: str, run_id: str | None = None) -> Made:
    """What carries the lab's tags in `account` (through its EC2 and ELBv2 clients):
    endpoints not yet deleted (`deleting` ones too: their ENIs still hold a security
    group), instances not terminated, and the rest that exist."""
    filters = _filters(lab, run_id)
    made = Made(account)
    made.endpoints = [e["VpcEndpointId"] for page in ec2.get_paginator("describe_vpc_endpoints").paginate(
        Filters=filters) for e in page["VpcEndpoints"] if e["State"] != "deleted"]
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


def _tagged_arns(elb, arns: list[str], lab: str, run_id: str | None) -> list[str]:
    """The ELBv2 resources among `arns` that carry the lab's tags (DescribeTags takes 20)."""
    out = []
    for i in range(0, len(arns), 20):
        for desc in elb.describe_tags(ResourceArns=arns[i:i + 20])["TagDescriptions"]:
            if _carries(desc.get("Tags", []), lab, run_id):
                out.append(desc["ResourceArn"])
    return out


def network_interfaces_of(ec2, made: Made) -> list[str]:
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
