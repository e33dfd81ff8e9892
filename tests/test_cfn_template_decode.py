"""Decoding templates: every short-form tag as its long form, the YAML 1.1 dialect
CloudFormation reads, and its messages for a malformed document."""
from __future__ import annotations

import pytest

from vpclab.control.cloudformation import template
from vpclab.control.cloudformation.template import TemplateError
from vpclab.control.cloudformation.template.decode import FN_TAGS, decode


def value_of(yaml_value: str) -> object:
    return decode(f"Resources:\n  R:\n    Type: AWS::EC2::VPC\n    Properties:\n      P: {yaml_value}\n")[
        "Resources"]["R"]["Properties"]["P"]


@pytest.mark.parametrize(("short", "long"), [
    ("!Ref Vpc", {"Ref": "Vpc"}),
    ("!Condition IsProd", {"Condition": "IsProd"}),
    ("!GetAtt Vpc.CidrBlock", {"Fn::GetAtt": ["Vpc", "CidrBlock"]}),
    ("!GetAtt Db.Endpoint.Address", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}),
    ("!GetAtt [Vpc, CidrBlock]", {"Fn::GetAtt": ["Vpc", "CidrBlock"]}),
    ("!Sub '${AWS::Region}-x'", {"Fn::Sub": "${AWS::Region}-x"}),
    ("!Sub ['${A}', {A: !Ref B}]", {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}),
    ("!If [C, 1, !Ref AWS::NoValue]", {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]}),
    ("!Equals [!Ref P, x]", {"Fn::Equals": [{"Ref": "P"}, "x"]}),
    ("!And [!Condition A, !Condition B]", {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Or [!Condition A, !Condition B]", {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}),
    ("!Not [!Condition A]", {"Fn::Not": [{"Condition": "A"}]}),
    ("!ImportValue lab-ServiceName", {"Fn::ImportValue": "lab-ServiceName"}),
    ("!ImportValue {'Fn::Sub': '${S}-Name'}", {"Fn::ImportValue": {"Fn::Sub": "${S}-Name"}}),
    ("!FindInMap [M, !Ref AWS::Region, Ami]", {"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "Ami"]}),
    ("!Base64 '#!/bin/sh'", {"Fn::Base64": "#!/bin/sh"}),
    ("!Cidr [10.0.0.0/16, 4, 8]", {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}),
    ("!GetAZs ''", {"Fn::GetAZs": ""}),
    ("!Select [0, !GetAZs '']", {"Fn::Select": [0, {"Fn::GetAZs": ""}]}),
    ("!Split [',', 'a,b']", {"Fn::Split": [",", "a,b"]}),
    ("!Join ['', [a, !Ref B]]", {"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
    ("!Transform {Name: AWS::Include, Parameters: {Location: s3://b/k}}",
     {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/k"}}}),
])
def test_each_short_tag_is_its_long_form(short: str, long: object) -> None:
    assert value_of(short) == long


def test_every_function_tag_is_registered() -> None:
    for name in ("Base64", "Cidr", "FindInMap", "GetAZs", "GetAtt", "ImportValue", "Join", "Select",
                 "Split", "Sub", "Transform", "And", "Equals", "If", "Not", "Or"):
        assert name in FN_TAGS
        assert list(value_of(f"!{name} x")) == [f"Fn::{name}"]  # type: ignore[call-overload]


def test_a_sequence_body_with_a_block_tag() -> None:
    body = "Resources:\n  R:\n    Type: T\n    Properties:\n      P: !Join\n        - ','\n        - - a\n          - !Ref B\n"
    assert decode(body)["Resources"]["R"]["Properties"]["P"] == {"Fn::Join": [",", ["a", {"Ref": "B"}]]}


@pytest.mark.parametrize(("written", "decoded"), [
    ("2010-09-09", "2010-09-09"),          # no timestamps: the string as written
    ("2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    ("yes", True), ("No", False), ("on", True), ("off", False), ("true", True),
    ("0123", 83),                          # YAML 1.1 octal, as CloudFormation reads an account id
    ("012345678901", "012345678901"),      # not octal (8 and 9): a string
    ("1:30", 90),                          # YAML 1.1 sexagesimal
    ("0x1F", 31), ("1_000", 1000), ("80", 80), ("1.5", 1.5),
    ("'0123'", "0123"), ("<<", "<<"),
])
def test_yaml_scalars_as_cloudformation_reads_them(written: str, decoded: object) -> None:
    assert value_of(written) == decoded


def test_a_merge_key_is_an_ordinary_key() -> None:
    assert value_of("{<<: {a: 1}, b: 2}") == {"<<": {"a": 1}, "b": 2}


@pytest.mark.parametrize(("body", "message"), [
    ("Resources:\n  R: &a {Type: T}\n  S: *a\n", "Template format error: YAML not well-formed. (line 3, column 6)"),
    ("Resources:\n  R: {Type: T}\n  R: {Type: U}\n", "Template format error: YAML not well-formed. (line 3, column 3)"),
    ("Resources:\n  R: {Type: !!timestamp 2001-12-14}\n",
     "Template format error: YAML not well-formed. (line 2, column 13)"),
    ("Resources:\n  R: {Type: !!binary aGk=}\n", "Template format error: YAML not well-formed. (line 2, column 13)"),
    ("Resources:\n  R: [\n", "Template format error: YAML not well-formed. (line 3, column 1)"),
    # one tag per node: !ImportValue cannot hold the short form of !Sub (CloudFormation's docs say so)
    ("Resources:\n  R: !ImportValue !Sub x\n", "Template format error: YAML not well-formed. (line 2, column 19)"),
    ("Resources:\n  R: !Bogus x\n", "Template format error: YAML not well-formed. (line 2, column 6)"),
    ('{"Resources": {"R": }}', "Template format error: JSON not well-formed. (line 1, column 21)"),
    ('{\n  "Resources": [\n}', "Template format error: JSON not well-formed. (line 3, column 1)"),
    ("- a\n- b\n", "Template format error: unsupported structure."),
    ("just text", "Template format error: unsupported structure."),
])
def test_malformed_documents(body: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        decode(body)
    assert (err.value.code, err.value.status, err.value.message) == ("ValidationError", 400, message)


def test_the_body_limit_is_51200_bytes() -> None:
    head = "Resources:\n  R: {Type: AWS::EC2::VPC}\n#"
    exactly = head + "x" * (51_200 - len(head))
    assert template.load(exactly).resources["R"].type == "AWS::EC2::VPC"
    with pytest.raises(TemplateError) as err:
        template.load(exactly + "é")  # two bytes in UTF-8
    assert err.value.message.endswith("Member must have length less than or equal to 51200")


def test_json_and_yaml_load_to_the_same_template() -> None:
    json_body = '{"Resources": {"V": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "C"}}}},' \
                ' "Parameters": {"C": {"Type": "String"}}}'
    yaml_body = "Parameters: {C: {Type: String}}\nResources:\n  V:\n    Type: AWS::EC2::VPC\n" \
                "    Properties: {CidrBlock: !Ref C}\n"
    a, b = template.load(json_body), template.load(yaml_body)
    assert (a.resources, a.parameters) == (b.resources, b.parameters)
