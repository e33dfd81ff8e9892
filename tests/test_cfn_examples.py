"""The example stacks in examples/cloudformation/: cfn-lint finds nothing in any template of
examples/, and the two stacks, deployed with the AWS CLI as the README shows, carry the
seed lab's traffic and delete as on AWS."""
from __future__ import annotations

from pathlib import Path

import pytest

from vpclab.control.cloudformation import template
from vpclab.control.ec2.images import IMAGES
from tests.helpers.accounts import REGION
from tests.helpers.cfn_examples import CONSUMER_TEMPLATE, EXAMPLES, PROVIDER_TEMPLATE, lint_findings


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
