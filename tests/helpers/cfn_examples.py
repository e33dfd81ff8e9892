"""The example stacks of examples/cloudformation/ as a user deploys them: their parameters
from an account's default VPC, the `aws cloudformation deploy` words, the stacks'
outputs, and what an account still holds after the stacks are gone (tests and
benchmarks/cloudformation.py)."""
from __future__ import annotations

from pathlib import Path

from cfnlint.api import lint

from .accounts import REGION

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = ROOT / "examples"
PROVIDER_TEMPLATE = EXAMPLES / "cloudformation" / "provider.yaml"
CONSUMER_TEMPLATE = EXAMPLES / "cloudformation" / "consumer.yaml"
PROVIDER_STACK = "demo-provider"
CONSUMER_STACK = "demo-consumer"
#: WaiterConfig for botocore's CloudFormation waiters in a test: poll every 0.5 s, for 2 minutes.
FAST_WAIT = {"Delay": 0.5, "MaxAttempts": 240}


def lint_findings(text: str) -> list[str]:
    """cfn-lint's errors and warnings (its default rules) for one template, one line each."""
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in lint(text, regions=[REGION])]


def default_network(ec2) -> tuple[str, list[str]]:
    """The default VPC and its default subnets, in zone order (what the README's
    `describe-vpcs` / `describe-subnets` commands pass to the stacks)."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return vpc, [s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]


def network_parameters(ec2) -> dict[str, str]:
    vpc, subnets = default_network(ec2)
    return {"VpcId": vpc, "Subnets": ",".join(subnets)}


def deploy_words(template: Path, stack: str, parameters: dict[str, str]) -> list[str]:
    """`aws cloudformation deploy …` as a user types it (after `aws`)."""
    return ["cloudformation", "deploy", "--template-file", str(template), "--stack-name", stack,
            "--parameter-overrides", *(f"{k}={v}" for k, v in parameters.items())]


def outputs(cloudformation, stack: str) -> dict[str, str]:
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def leftovers(srv, account: str) -> dict[str, list[str]]:
    """Everything of the lab's kinds that `account` still has (the default VPC's own
    security group aside); empty lists once its stacks are deleted."""
    ec2, elb = srv.client("ec2", account), srv.client("elbv2", account)
    cf = srv.client("cloudformation", account)
    instances = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                 if i["State"]["Name"] != "terminated"]
    return {
        "stacks": [s["StackName"] for s in cf.describe_stacks()["Stacks"]],
        "instances": instances,
        "security groups": [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
                            if g["GroupName"] != "default"],
        "load balancers": [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]],
        "target groups": [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]],
        "endpoint services": [s["ServiceId"] for s in
                              ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]],
        "endpoints": [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
                      if e["State"] not in ("deleted",)],
        "exports": [e["Name"] for e in cf.list_exports()["Exports"]],
    }
