"""ValidateTemplate's checks and parameter resolution, each with CloudFormation's message."""
from __future__ import annotations

import pytest

from vpclab.control.cloudformation import template
from vpclab.control.cloudformation.template import TemplateError

TYPES = {"AWS::EC2::VPC": {"CidrBlock", "VpcId", "Ipv6CidrBlocks"}, "AWS::EC2::Subnet": {"SubnetId"},
         "AWS::EC2::VPCEndpoint": {"DnsEntries", "Id"}}


def check(body: str) -> None:
    template.validate(template.load(body), lambda t: t in TYPES, lambda t: TYPES.get(t))


def message(body: str) -> str:
    with pytest.raises(TemplateError) as err:
        check(body)
    assert (err.value.code, err.value.status) == ("ValidationError", 400)
    return err.value.message


VPC = "  Vpc: {Type: AWS::EC2::VPC, Properties: {CidrBlock: 10.0.0.0/16}}\n"


def test_a_good_template_passes() -> None:
    check("Parameters: {Env: {Type: String}}\nConditions: {P: !Equals [!Ref Env, p]}\nResources:\n" + VPC +
          "  Sub: {Type: AWS::EC2::Subnet, Condition: P, Properties: {VpcId: !Ref Vpc, X: !If [P, !Ref Env, x],"
          " Y: !Sub '${Vpc.CidrBlock}'}}\n"
          "  E: {Type: AWS::EC2::VPCEndpoint, DependsOn: [Vpc]}\n"
          "Outputs:\n  Dns: {Value: !Select [0, !GetAtt E.DnsEntries], Export: {Name: !Sub '${AWS::StackName}-dns'}}\n")


@pytest.mark.parametrize(("body", "expected"), [
    ("Resources:\n" + VPC + "Resourcez: {}\n", "Template format error: Invalid template property or properties [Resourcez]"),
    ("Description: x\n", "Template format error: At least one Resources member must be defined."),
    ("Resources: {}\n", "Template format error: At least one Resources member must be defined."),
    ("Resources:\n  V: {Properties: {}}\n",
     "Template format error: [/Resources/V] Every Resources object must contain a Type member."),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, Propertie: {}}\n", "Template format error: Invalid template resource property 'Propertie'"),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, Properties: }\n",
     "Template format error: [/Resources/V/Properties] 'null' values are not allowed in templates"),
    ("Resources:\n  my-vpc: {Type: AWS::EC2::VPC}\n", "Template format error: Resource name my-vpc is non alphanumeric."),
    ("AWSTemplateFormatVersion: 2011-01-01\nResources:\n" + VPC, "Template format error: '2011-01-01' is not a supported version."),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, DeletionPolicy: Keep}\n",
     "Template format error: Unrecognized DeletionPolicy Keep for resource V"),
    ("Resources:\n" + VPC + "  X: {Type: AWS::S3::Bucket}\n  Y: {Type: AWS::SQS::Queue}\n  Z: {Type: AWS::S3::Bucket}\n",
     "Template format error: Unrecognized resource types: [AWS::S3::Bucket, AWS::SQS::Queue]"),
    ("Parameters: {P: {Type: Strin}}\nResources:\n" + VPC, "Template format error: Unrecognized parameter type: Strin"),
    ("Parameters: {P: {Default: x}}\nResources:\n" + VPC, "Template format error: Every Parameters object must contain a Type member."),
    ("Resources:\n  S: {Type: AWS::EC2::Subnet, Properties: {VpcId: !Ref Vpcc, X: !Ref Other}}\n",
     "Template format error: Unresolved resource dependencies [Vpcc, Other] in the Resources block of the template"),
    ("Resources:\n  S: {Type: AWS::EC2::Subnet, Properties: {C: !Sub '${Nope}-${Nope2.Attr}'}}\n",
     "Template format error: Unresolved resource dependencies [Nope, Nope2] in the Resources block of the template"),
    ("Resources:\n  S: {Type: AWS::EC2::Subnet, DependsOn: Gone}\n",
     "Template format error: Unresolved resource dependencies [Gone] in the Resources block of the template"),
    ("Resources:\n" + VPC + "Outputs:\n  O: {Value: !Ref Gone}\n",
     "Template format error: Unresolved resource dependencies [Gone] in the Outputs block of the template"),
    ("Resources:\n  S: {Type: AWS::EC2::Subnet, Properties: {C: !GetAtt Gone.CidrBlock}}\n",
     "Template error: instance of Fn::GetAtt references undefined resource Gone"),
    ("Resources:\n" + VPC + "Outputs:\n  O: {Value: !GetAtt Vpc.Arn}\n",
     "Template error: resource Vpc does not support attribute type Arn in Fn::GetAtt"),
    ("Resources:\n" + VPC + "  S: {Type: AWS::EC2::Subnet, Properties: {X: !If [Nope, a, b]}}\n",
     "Template error: unresolved condition dependency Nope in Fn::If"),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, Condition: Nope}\n",
     "Template format error: Unresolved condition dependency Nope in Resources block"),
    ("Conditions: {C: !Equals [!Ref Vpc, x]}\nResources:\n" + VPC,
     "Template format error: Unresolved dependencies [Vpc]. Cannot reference resources in the Conditions block of the template"),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, Properties: {X: !Equals [a, b]}}\n",
     "Template error: Fn::Equals can only be used in the Conditions section or in Fn::If"),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, Properties: {X: {'Fn::Bogus': 1}}}\n",
     "Template format error: Unrecognized function: Fn::Bogus"),
    ("Mappings: {M: {a: {b: c}}}\nResources:\n  V: {Type: AWS::EC2::VPC, Properties: {X: !FindInMap [M, a, b, {DefaultValue: d}]}}\n",
     "Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value"),
    ("Resources:\n  V: {Type: AWS::EC2::VPC, Properties: {X: !FindInMap [Nope, a, b]}}\n",
     "Template error: Mapping named 'Nope' is not present in the 'Mappings' section of template."),
    ("Resources:\n" + VPC + "Outputs:\n  O: {Description: no value}\n",
     "Template format error: Every Outputs member must contain a Value object"),
    ("Resources:\n" + VPC + "Outputs:\n  O: {Value: x, Export: {Nam: y}}\n",
     ("Template format error: Output O is malformed. The Name field of every Export member must be specified "
      "and consist only of alphanumeric characters, colons, or hyphens.")),
    ("Resources:\n" + VPC + "Outputs:\n  A: {Value: x, Export: {Name: e}}\n  B: {Value: y, Export: {Name: e}}\n",
     "Template format error: Duplicate Export names found in Outputs: [e]"),
    ("Resources:\n  A: {Type: AWS::EC2::VPC, Properties: {X: !Ref B}}\n  B: {Type: AWS::EC2::VPC, Properties: {X: !Sub '${A}'}}\n",
     "Circular dependency between resources: [A, B]"),
    ("Transform: AWS::Serverless-2016-10-31\nResources:\n" + VPC,
     "Template format error: Transform AWS::Serverless-2016-10-31 is not supported: vpclab runs no macros"),
])
def test_validation_errors(body: str, expected: str) -> None:
    assert message(body) == expected


def test_outputs_and_parameters_have_limits() -> None:
    outputs = "".join(f"  O{i}: {{Value: x}}\n" for i in range(201))
    assert "limit is 200" in message("Resources:\n" + VPC + "Outputs:\n" + outputs)


def test_check_active_refuses_a_reference_to_a_resource_left_out() -> None:
    # (a condition named No would be the YAML 1.1 boolean false, on CloudFormation too)
    tpl = template.load("Conditions: {Never: !Equals [a, b]}\nResources:\n"
                        "  Topic: {Type: AWS::EC2::VPC, Condition: Never}\n"
                        "  Fine: {Type: AWS::EC2::Subnet, Properties: {X: !If [Never, !Ref Topic, none]}}\n"
                        "  Bad: {Type: AWS::EC2::Subnet, Properties: {X: !Ref Topic}}\n")
    conditions = {"Never": False}
    assert template.active(tpl, conditions) == ["Fine", "Bad"]
    with pytest.raises(TemplateError) as err:
        template.check_active(tpl, conditions)
    assert err.value.message == \
        "Template format error: Unresolved resource dependencies [Topic] in the Resources block of the template"
    template.check_active(tpl, {"Never": True})


PARAMETERS = """
Parameters:
  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
  Name: {Type: String, AllowedPattern: '[a-z]+', MinLength: 2, MaxLength: 5}
  Port: {Type: Number, MinValue: 1, MaxValue: 65535, Default: 80}
  Ports: {Type: List<Number>, Default: '80,443'}
  Zones: {Type: CommaDelimitedList, Default: 'a,b'}
  Vpc: {Type: AWS::EC2::VPC::Id}
  Subnets: {Type: List<AWS::EC2::Subnet::Id>}
  Image: {Type: AWS::EC2::Image::Id, Default: ami-1}
  Key: {Type: AWS::EC2::KeyPair::KeyName, Default: lab}
  Secret: {Type: String, NoEcho: true, Default: hush, Description: the password}
  Pick: {Type: String, AllowedValues: [x], ConstraintDescription: must be x, Default: x}
Resources:
  V: {Type: AWS::EC2::VPC}
"""
GIVEN = {"Name": "abc", "Vpc": "vpc-1", "Subnets": "subnet-1,subnet-2"}


def test_parameters_are_typed() -> None:
    tpl = template.load(PARAMETERS)
    template.validate(tpl, lambda t: True, lambda t: None)
    assert template.resolve_parameters(tpl, GIVEN) == {
        "Env": "dev", "Name": "abc", "Port": "80", "Ports": ["80", "443"], "Zones": ["a", "b"],
        "Vpc": "vpc-1", "Subnets": ["subnet-1", "subnet-2"], "Image": "ami-1", "Key": "lab",
        "Secret": "hush", "Pick": "x"}
    assert template.resolve_parameters(tpl, {**GIVEN, "Port": "8080"}, previous={"Env": "prod"},
                                       use_previous={"Env"})["Env"] == "prod"


@pytest.mark.parametrize(("given", "expected"), [
    ({"Name": "abc"}, "Parameters: [Vpc, Subnets] must have values"),
    ({**GIVEN, "Nope": "1", "Nah": "2"}, "Parameters: [Nope, Nah] do not exist in the template"),
    ({**GIVEN, "Env": "test"}, "Parameter 'Env' must be one of AllowedValues"),
    ({**GIVEN, "Name": "ABC"}, "Parameter 'Name' must match pattern [a-z]+"),
    ({**GIVEN, "Name": "a"}, "Parameter 'Name' must contain at least 2 characters"),
    ({**GIVEN, "Name": "abcdef"}, "Parameter 'Name' must contain at most 5 characters"),
    ({**GIVEN, "Port": "http"}, "Parameter 'Port' must be a number."),
    ({**GIVEN, "Port": "0"}, "Parameter 'Port' must be a number not less than 1"),
    ({**GIVEN, "Port": "65536"}, "Parameter 'Port' must be a number not greater than 65535"),
    ({**GIVEN, "Ports": "80,x"}, "Parameter 'Ports' must be a number."),
    ({**GIVEN, "Pick": "y"}, "Parameter 'Pick' failed to satisfy constraint: must be x"),
])
def test_parameter_errors(given: dict[str, str], expected: str) -> None:
    with pytest.raises(TemplateError) as err:
        template.resolve_parameters(template.load(PARAMETERS), given)
    assert (err.value.code, err.value.message) == ("ValidationError", expected)


def test_use_previous_needs_a_previous_value() -> None:
    with pytest.raises(TemplateError) as err:
        template.resolve_parameters(template.load(PARAMETERS), GIVEN, previous={}, use_previous={"Env"})
    assert err.value.message.startswith("Invalid input for parameter key Env. Cannot specify usePreviousValue")


def test_ssm_parameter_values_are_refused_clearly() -> None:
    tpl = template.load("Parameters: {Ami: {Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', "
                        "Default: /aws/ami}}\nResources: {V: {Type: AWS::EC2::VPC}}\n")
    template.validate(tpl, lambda t: True, lambda t: None)
    with pytest.raises(TemplateError) as err:
        template.resolve_parameters(tpl, {})
    assert "vpclab has no SSM Parameter Store" in err.value.message


def test_no_echo_is_masked_where_shown() -> None:
    tpl = template.load(PARAMETERS)
    shown = template.displayed(tpl, template.resolve_parameters(tpl, GIVEN))
    assert shown["Secret"] == "****" and shown["Subnets"] == "subnet-1,subnet-2"


def test_validation_result_and_summary() -> None:
    tpl = template.load("Description: lab\nMetadata: {Owner: me}\n" + PARAMETERS)
    result = template.validation_result(tpl)
    assert result["Description"] == "lab" and result["Capabilities"] == []
    secret = next(p for p in result["Parameters"] if p["ParameterKey"] == "Secret")
    assert secret == {"ParameterKey": "Secret", "DefaultValue": "hush", "NoEcho": True, "Description": "the password"}
    summary = template.summary(tpl)
    assert summary["ResourceTypes"] == ["AWS::EC2::VPC"] and summary["Version"] == "2010-09-09"
    assert summary["Metadata"] == '{"Owner": "me"}'
    env = next(p for p in summary["Parameters"] if p["ParameterKey"] == "Env")
    assert env == {"ParameterKey": "Env", "DefaultValue": "dev", "ParameterType": "String", "NoEcho": False,
                   "ParameterConstraints": {"AllowedValues": ["dev", "prod"]}}
    iam = template.load("Resources: {R: {Type: AWS::IAM::Role, Properties: {RoleName: r}}}\n")
    assert template.validation_result(iam)["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert template.validation_result(iam)["CapabilitiesReason"] == \
        "The following resource(s) require capabilities: [AWS::IAM::Role]"
