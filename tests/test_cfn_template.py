"""The template language end to end: load a template, resolve its parameters and
conditions, order its resources and evaluate their properties (no server, no store)."""
from __future__ import annotations

from typing import Any

import pytest

from vpclab.control.cloudformation import template
from vpclab.control.cloudformation.template import Context, TemplateError

PROVIDER = """
AWSTemplateFormatVersion: 2010-09-09
Description: the seed lab's provider side
Parameters:
  VpcCidr: {Type: String, Default: 10.0.0.0/16}
  Consumer: {Type: String, NoEcho: true}
Conditions:
  InEast: !Equals [!Ref "AWS::Region", us-east-1]
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: {CidrBlock: !Ref VpcCidr}
  Subnet:
    Type: AWS::EC2::Subnet
    Properties:
      VpcId: !Ref Vpc
      CidrBlock: !Select [0, !Cidr [!GetAtt Vpc.CidrBlock, 4, 8]]
      AvailabilityZone: !Select [0, !GetAZs ""]
      Tags:
        - {Key: Name, Value: !Sub "${AWS::StackName}-subnet"}
        - !If [InEast, {Key: East, Value: "yes"}, !Ref AWS::NoValue]
  Nlb:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties:
      Type: network
      Subnets: [!Ref Subnet]
  Service:
    Type: AWS::EC2::VPCEndpointService
    DependsOn: Nlb
    Properties:
      NetworkLoadBalancerArns: [!Ref Nlb]
      AcceptanceRequired: true
  Permission:
    Type: AWS::EC2::VPCEndpointServicePermissions
    Properties:
      ServiceId: !Ref Service
      AllowedPrincipals: [!Sub "arn:${AWS::Partition}:iam::${Consumer}:root"]
Outputs:
  ServiceName:
    Value: !Sub "com.amazonaws.vpce.${AWS::Region}.${Service}"
    Export: {Name: !Sub "${AWS::StackName}-ServiceName"}
  ServiceId: {Value: !Ref Service}
"""


def context(tpl: template.Template, parameters: dict[str, Any], region: str = "us-east-1",
            physical: dict[str, str] | None = None) -> Context:
    physical = physical or {}
    ctx = Context(
        account="000000000001", region=region,
        stack_id=f"arn:aws:cloudformation:{region}:000000000001:stack/lab/1", stack_name="lab",
        parameters=parameters, conditions={},
        ref=lambda logical_id: physical.get(logical_id, f"{logical_id.lower()}-1"),
        get_att=lambda logical_id, name: {"CidrBlock": "10.0.0.0/16"}[name],
        import_value=lambda name: f"imported-{name}",
        azs=lambda r: [f"{r}a", f"{r}b", f"{r}c"],
        no_echo=template.no_echo(tpl), mappings=tpl.mappings)
    ctx.conditions = template.evaluate_conditions(tpl, ctx)
    return ctx


def test_the_provider_stack_loads_orders_and_resolves() -> None:
    tpl = template.load(PROVIDER)
    assert tpl.format_version == "2010-09-09"  # a YAML date stays the string written
    assert list(tpl.resources) == ["Vpc", "Subnet", "Nlb", "Service", "Permission"]
    assert tpl.resources["Service"].depends_on == ["Nlb"]
    deps = template.dependencies(tpl)
    assert deps == {"Vpc": set(), "Subnet": {"Vpc"}, "Nlb": {"Subnet"}, "Service": {"Nlb"},
                    "Permission": {"Service"}}
    assert template.order(deps) == [["Vpc"], ["Subnet"], ["Nlb"], ["Service"], ["Permission"]]

    values = template.resolve_parameters(tpl, {"Consumer": "000000000002"})
    assert values == {"VpcCidr": "10.0.0.0/16", "Consumer": "000000000002"}
    assert template.displayed(tpl, values) == {"VpcCidr": "10.0.0.0/16", "Consumer": "****"}
    ctx = context(tpl, values)
    assert ctx.conditions == {"InEast": True}
    assert template.resolve(tpl.resources["Subnet"].properties, ctx) == {
        "VpcId": "vpc-1", "CidrBlock": "10.0.0.0/24", "AvailabilityZone": "us-east-1a",
        "Tags": [{"Key": "Name", "Value": "lab-subnet"}, {"Key": "East", "Value": "yes"}]}
    assert template.resolve(tpl.resources["Permission"].properties, ctx) == {
        "ServiceId": "service-1", "AllowedPrincipals": ["arn:aws:iam::000000000002:root"]}
    outputs = {o.logical_id: template.resolve(o.value, ctx) for o in tpl.outputs.values()}
    assert outputs == {"ServiceName": "com.amazonaws.vpce.us-east-1.service-1", "ServiceId": "service-1"}
    assert template.resolve(tpl.outputs["ServiceName"].export_name, ctx) == "lab-ServiceName"


def test_a_false_condition_removes_the_item_through_no_value() -> None:
    tpl = template.load(PROVIDER)
    ctx = context(tpl, template.resolve_parameters(tpl, {"Consumer": "2"}), region="eu-west-1")
    assert ctx.conditions == {"InEast": False}
    tags = template.resolve(tpl.resources["Subnet"].properties, ctx)["Tags"]
    assert tags == [{"Key": "Name", "Value": "lab-subnet"}]


def test_independent_resources_share_a_wave() -> None:
    tpl = template.load("""{"Resources": {
        "A": {"Type": "AWS::EC2::VPC"}, "B": {"Type": "AWS::EC2::VPC"},
        "C": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "A"}, "X": {"Fn::Sub": "${B.Id}"}}},
        "D": {"Type": "AWS::EC2::Subnet", "DependsOn": ["A"]}}}""")
    assert template.order(template.dependencies(tpl)) == [["A", "B"], ["C", "D"]]


def test_a_cycle_is_refused_naming_its_resources() -> None:
    tpl = template.load("""
Resources:
  A: {Type: AWS::EC2::VPC, Properties: {X: !GetAtt B.Id}}
  B: {Type: AWS::EC2::VPC, DependsOn: A}
  C: {Type: AWS::EC2::VPC}
""")
    with pytest.raises(TemplateError) as err:
        template.order(template.dependencies(tpl))
    assert err.value.code == "ValidationError"
    assert err.value.message == "Circular dependency between resources: [A, B]"
