"""The example stacks in examples/cloudformation/: cfn-lint finds nothing in any template of
examples/, and the two stacks, deployed with the AWS CLI as the README shows, carry the
seed lab's traffic and delete as on AWS."""
from __future__ import annotations

from pathlib import Path

import botocore.exceptions
import pytest

from vpclab.control.cloudformation import template
from vpclab.control.ec2.images import IMAGES
from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from tests.helpers.cfn_examples import (
    CONSUMER_STACK, CONSUMER_TEMPLATE, EXAMPLES, FAST_WAIT, PROVIDER_STACK, PROVIDER_TEMPLATE, deploy_words,
    leftovers, lint_findings, network_parameters, outputs,
)
from tests.helpers.instances import vexec
from tests.helpers.traffic import endpoint_state, wait_state
from tests.helpers.waiting import wait_for
from tests.test_awscli import aws_json, run_aws


def templates() -> list[Path]:
    """Every CloudFormation template kept in examples/ (cdk.out, a synth's output, is not kept)."""
    found = [p for ext in ("yaml", "yml", "json", "template") for p in EXAMPLES.rglob(f"*.{ext}")]
    return sorted(p for p in found if "cdk.out" not in p.parts and p.name != "cdk.json")


def test_examples_hold_both_stacks():
    assert {PROVIDER_TEMPLATE, CONSUMER_TEMPLATE} <= set(templates())


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_is_cfn_lint_clean(path: Path):
    assert lint_findings(path.read_text()) == []


def test_lint_does_find_a_broken_template():
    """The check above can fail: a property the type lacks and a Ref to nothing are found."""
    broken = (PROVIDER_TEMPLATE.read_text()
              .replace("AcceptanceRequired: true", "AcceptanceRequired: true\n      NoSuchProperty: 1")
              .replace("ServiceId: !Ref EndpointService", "ServiceId: !Ref Nowhere"))
    found = lint_findings(broken)
    assert any("NoSuchProperty" in line for line in found), found
    assert any("Nowhere" in line for line in found), found


def test_examples_load_and_order_as_cloudformation_does():
    """vpclab's template language reads both stacks: what each parameter defaults to, and
    the waves the engine makes them in (each wave needs only the ones before it)."""
    provider = template.load(PROVIDER_TEMPLATE.read_text())
    given = {"VpcId": "vpc-0123456789abcdef0", "Subnets": "subnet-a,subnet-b,subnet-c"}
    assert template.resolve_parameters(provider, given) == {
        "VpcId": "vpc-0123456789abcdef0", "Subnets": ["subnet-a", "subnet-b", "subnet-c"],
        "ImageId": "ami-7551d8375ecf13b4a", "InstanceType": "t2.micro",
        "ConsumerPrincipal": "arn:aws:iam::222222222222:root"}
    assert [sorted(wave) for wave in template.order(template.dependencies(provider))] == [
        ["WebSecurityGroup"], ["LoadBalancer", "ServerInstance"], ["EndpointService", "TargetGroup"],
        ["EndpointServicePermissions", "Listener"]]
    consumer = template.load(CONSUMER_TEMPLATE.read_text())
    assert [sorted(wave) for wave in template.order(template.dependencies(consumer))] == [
        ["ClientInstance", "EndpointSecurityGroup"], ["Endpoint"]]


def test_the_image_default_is_the_catalogues_amazon_linux_2023():
    """The templates' ImageId default is the id DescribeImages gives in ap-south-1."""
    image = next(i for i in IMAGES if i.distribution == "amazon-linux-2023" and i.architecture == "x86_64")
    for path in (PROVIDER_TEMPLATE, CONSUMER_TEMPLATE):
        assert template.load(path.read_text()).parameters["ImageId"].default == image.image_id(REGION)


def stack_events(cf, stack: str) -> list[dict]:
    return cf.describe_stack_events(StackName=stack)["StackEvents"]


def test_the_seed_lab_as_two_stacks(fast_dataplane_server):
    srv = fast_dataplane_server
    ec2_1, ec2_2 = srv.client("ec2", ACCOUNT_1), srv.client("ec2", ACCOUNT_2)
    cf_1, cf_2 = srv.client("cloudformation", ACCOUNT_1), srv.client("cloudformation", ACCOUNT_2)

    # Account 1 deploys the provider stack; its outputs name the service.
    out = run_aws(srv, *deploy_words(PROVIDER_TEMPLATE, PROVIDER_STACK, network_parameters(ec2_1)),
                  account=ACCOUNT_1).stdout
    assert f"Successfully created/updated stack - {PROVIDER_STACK}" in out
    provided = outputs(cf_1, PROVIDER_STACK)
    service_id, service_name = provided["ServiceId"], provided["ServiceName"]
    assert service_name == f"com.amazonaws.vpce.ap-south-1.{service_id}"
    svc = ec2_1.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"][0]
    assert svc["AcceptanceRequired"] is True and svc["ServiceState"] == "Available"
    exports = {e["Name"]: e["Value"] for e in cf_1.list_exports()["Exports"]}
    assert exports == {f"{PROVIDER_STACK}-ServiceId": service_id, f"{PROVIDER_STACK}-ServiceName": service_name}

    # Account 2 deploys the consumer stack with the service's name: the endpoint waits for
    # the provider's acceptance.
    run_aws(srv, *deploy_words(CONSUMER_TEMPLATE, CONSUMER_STACK,
                               {"ServiceName": service_name, **network_parameters(ec2_2)}), account=ACCOUNT_2)
    consumed = outputs(cf_2, CONSUMER_STACK)
    endpoint_id, dns_name = consumed["EndpointId"], consumed["EndpointDnsName"]
    endpoint = ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]
    assert endpoint["State"] == "pendingAcceptance"
    assert dns_name == endpoint["DnsEntries"][0]["DnsName"]

    # Account 1 accepts, as the README's step between the two deploys says.
    pending = aws_json(srv, "ec2", "describe-vpc-endpoint-connections", account=ACCOUNT_1)
    assert [(c["VpcEndpointId"], c["VpcEndpointState"]) for c in pending["VpcEndpointConnections"]] == [
        (endpoint_id, "pendingAcceptance")]
    run_aws(srv, "ec2", "accept-vpc-endpoint-connections", "--service-id", service_id,
            "--vpc-endpoint-ids", endpoint_id, account=ACCOUNT_1)
    wait_state(ec2_2, endpoint_id, "available")

    # The consumer instance reaches nginx in account 1 through the endpoint's DNS name.
    def page() -> str | None:
        r = vexec(srv, consumed["InstanceId"], "curl", "-sS", "-m", "3", f"http://{dns_name}/", account=ACCOUNT_2)
        return r.stdout if r.returncode == 0 and "Welcome to nginx!" in r.stdout else None
    assert "Welcome to nginx!" in wait_for(page, timeout=30, interval=0.3, what="nginx through the endpoint")

    # The provider's stack cannot go while account 2's endpoint is connected; the
    # connection outlives the attempt.
    run_aws(srv, "cloudformation", "delete-stack", "--stack-name", PROVIDER_STACK, account=ACCOUNT_1)
    with pytest.raises(botocore.exceptions.WaiterError):
        cf_1.get_waiter("stack_delete_complete").wait(StackName=PROVIDER_STACK, WaiterConfig=FAST_WAIT)
    stack = cf_1.describe_stacks(StackName=PROVIDER_STACK)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert "EndpointService" in stack.get("StackStatusReason", ""), stack
    failed = [e for e in stack_events(cf_1, PROVIDER_STACK) if e["ResourceStatus"] == "DELETE_FAILED"
              and e["LogicalResourceId"] == "EndpointService"]
    assert failed and "Service has existing active VPC Endpoint connections!" in failed[0]["ResourceStatusReason"]
    assert ec2_1.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"]
    assert endpoint_state(ec2_2, endpoint_id) == "available"

    # Consumer first, then the provider: nothing is left in either account.
    run_aws(srv, "cloudformation", "delete-stack", "--stack-name", CONSUMER_STACK, account=ACCOUNT_2)
    cf_2.get_waiter("stack_delete_complete").wait(StackName=CONSUMER_STACK, WaiterConfig=FAST_WAIT)
    run_aws(srv, "cloudformation", "delete-stack", "--stack-name", PROVIDER_STACK, account=ACCOUNT_1)
    cf_1.get_waiter("stack_delete_complete").wait(StackName=PROVIDER_STACK, WaiterConfig=FAST_WAIT)
    empty = {kind: [] for kind in leftovers(srv, ACCOUNT_1)}
    assert leftovers(srv, ACCOUNT_1) == empty
    assert leftovers(srv, ACCOUNT_2) == empty
