"""Intrinsic functions against values computed independently (hypothesis), and their errors."""
from __future__ import annotations

import base64
import ipaddress
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpclab.control.cloudformation import template
from vpclab.control.cloudformation.template import Context, TemplateError

ATTRS = {("Vpc", "CidrBlock"): "10.0.0.0/16", ("Db", "Endpoint.Address"): "db.example"}


def ctx(parameters: dict[str, Any] | None = None, conditions: dict[str, bool] | None = None,
        mappings: dict[str, Any] | None = None, language_extensions: bool = False) -> Context:
    return Context(
        account="000000000001", region="eu-west-1", stack_id="arn:aws:cloudformation:eu-west-1:000000000001:stack/s/1",
        stack_name="s", parameters=parameters or {}, conditions=conditions or {},
        ref=lambda logical_id: f"{logical_id}-id", get_att=lambda r, a: ATTRS[(r, a)],
        import_value=lambda name: f"exported:{name}", azs=lambda region: [f"{region}{z}" for z in "abc"],
        mappings=mappings or {}, language_extensions=language_extensions)


def resolve(value: Any, **kwargs: Any) -> Any:
    return template.resolve(value, ctx(**kwargs))


def error_of(value: Any, **kwargs: Any) -> str:
    with pytest.raises(TemplateError) as err:
        resolve(value, **kwargs)
    assert err.value.code == "ValidationError"
    return err.value.message


text = st.text(alphabet=st.characters(blacklist_characters="${}", blacklist_categories=["Cs"]), max_size=12)
names = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True)


@given(st.lists(st.tuples(text, names, st.text(max_size=8)), max_size=5), text)
def test_sub_replaces_each_variable(pieces: list[tuple[str, str, str]], tail: str) -> None:
    variables = {name: value for _, name, value in pieces}
    body = "".join(f"{before}${{{name}}}" for before, name, _ in pieces) + tail
    expected = "".join(before + variables[name] for before, name, _ in pieces) + tail
    assert resolve({"Fn::Sub": [body, variables]}) == expected


@given(names, text)
def test_sub_keeps_a_bang_literal(name: str, around: str) -> None:
    assert resolve({"Fn::Sub": f"{around}${{!{name}}}{around}"}) == f"{around}${{{name}}}{around}"


def test_sub_string_form_names_parameters_pseudo_parameters_resources_and_attributes() -> None:
    body = "${AWS::AccountId}/${AWS::Region}/${AWS::StackName}/${AWS::Partition}/${AWS::URLSuffix}/${P}/${Vpc}/" \
           "${Vpc.CidrBlock}/${Db.Endpoint.Address}"
    assert resolve({"Fn::Sub": body}, parameters={"P": "p"}) == \
        "000000000001/eu-west-1/s/aws/amazonaws.com/p/Vpc-id/10.0.0.0/16/db.example"
    assert resolve({"Ref": "AWS::StackId"}) == "arn:aws:cloudformation:eu-west-1:000000000001:stack/s/1"
    assert resolve({"Ref": "AWS::NotificationARNs"}) == []


def test_sub_of_a_list_is_an_error() -> None:
    assert error_of({"Fn::Sub": "${L}"}, parameters={"L": ["a", "b"]}) == \
        "Template error: variable L in Fn::Sub expression does not resolve to a string"


@given(st.text(max_size=3), st.lists(st.one_of(text, st.integers(), st.booleans()), max_size=6))
def test_join(delimiter: str, items: list[Any]) -> None:
    as_text = [("true" if i else "false") if isinstance(i, bool) else str(i) for i in items]
    assert resolve({"Fn::Join": [delimiter, items]}) == delimiter.join(as_text)


def test_join_drops_no_value_and_takes_a_function_list() -> None:
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "AWS::NoValue"}, "b"]]}) == "a-b"
    assert resolve({"Fn::Join": [",", {"Fn::GetAZs": ""}]}) == "eu-west-1a,eu-west-1b,eu-west-1c"
    assert error_of({"Fn::Join": ["-", "notalist"]}).startswith(
        "Template error: every Fn::Join object requires two parameters, (1) a string delimiter")


@given(st.lists(text, min_size=1, max_size=8), st.data())
def test_select(items: list[str], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(items) - 1))
    assert resolve({"Fn::Select": [index, items]}) == items[index]
    assert resolve({"Fn::Select": [str(index), items]}) == items[index]


@given(st.lists(text, max_size=4), st.integers(0, 10))
def test_select_out_of_range(items: list[str], extra: int) -> None:
    index = len(items) + extra
    assert error_of({"Fn::Select": [index, items]}) == \
        f"Template error: Fn::Select cannot select nonexistent value at index {index}"


@given(st.lists(st.text(alphabet="abc,;", max_size=5), max_size=5), st.sampled_from([",", ";", "::"]))
def test_split_undoes_join(items: list[str], delimiter: str) -> None:
    joined = delimiter.join(items)
    assert resolve({"Fn::Split": [delimiter, joined]}) == joined.split(delimiter)
    assert resolve({"Fn::Select": [0, {"Fn::Split": [delimiter, {"Fn::Join": [delimiter, ["x", joined]]}]}]}) == "x"


@given(st.booleans(), text, text)
def test_if_takes_the_branch_of_its_condition(truth: bool, yes: str, no: str) -> None:
    assert resolve({"Fn::If": ["C", yes, no]}, conditions={"C": truth}) == (yes if truth else no)
    kept = resolve({"K": {"Fn::If": ["C", yes, {"Ref": "AWS::NoValue"}]}}, conditions={"C": truth})
    assert kept == ({"K": yes} if truth else {})


def test_if_of_an_unknown_condition() -> None:
    assert error_of({"Fn::If": ["Nope", 1, 2]}) == "Template error: unresolved condition dependency Nope in Fn::If"


@given(st.sampled_from(["", "us-east-1", "eu-central-1"]))
def test_get_azs(region: str) -> None:
    expected = [f"{region or 'eu-west-1'}{z}" for z in "abc"]
    assert resolve({"Fn::GetAZs": region}) == expected
    assert resolve({"Fn::GetAZs": {"Ref": "AWS::Region"}}) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


@given(st.integers(0, 2**32 - 1), st.integers(8, 28), st.data())
def test_cidr_ipv4_against_ipaddress(address: int, prefix: int, data: st.DataObject) -> None:
    block = ipaddress.ip_network((address, prefix), strict=False)
    bits = data.draw(st.integers(0, 32 - prefix))
    room = 2 ** (32 - prefix - bits)
    count = data.draw(st.integers(1, min(256, room)))
    expected = [str(n) for n in list(block.subnets(new_prefix=32 - bits))[:count]] if room <= 4096 else None
    got = resolve({"Fn::Cidr": [str(block), count, bits]})
    assert len(got) == count
    if expected is not None:
        assert got == expected
    for i, cidr in enumerate(got):
        net = ipaddress.ip_network(cidr)
        assert net.prefixlen == 32 - bits and net.subnet_of(block)  # type: ignore[arg-type]
        assert int(net.network_address) == int(block.network_address) + i * 2 ** bits


def test_cidr_ipv6_and_strings_and_errors() -> None:
    assert resolve({"Fn::Cidr": ["2001:db8::/56", "3", "64"]}) == ["2001:db8::/64", "2001:db8:0:1::/64", "2001:db8:0:2::/64"]
    assert resolve({"Fn::Cidr": [{"Fn::GetAtt": ["Vpc", "CidrBlock"]}, 2, 8]}) == ["10.0.0.0/24", "10.0.1.0/24"]
    assert error_of({"Fn::Cidr": ["10.0.0.0/24", 3, 7]}).startswith("Template error: Fn::Cidr")
    assert error_of({"Fn::Cidr": ["10.0.0.0/24", 0, 4]}).startswith("Template error: Fn::Cidr")
    assert error_of({"Fn::Cidr": ["10.0.0.0/24", 2]}).startswith("Template error: every Fn::Cidr object")


@given(st.text(max_size=40))
def test_base64(value: str) -> None:
    assert base64.b64decode(resolve({"Fn::Base64": value})).decode() == value


def test_find_in_map() -> None:
    mappings = {"Region": {"eu-west-1": {"Ami": "ami-1", "Zones": ["a", "b"]}}}
    assert resolve({"Fn::FindInMap": ["Region", {"Ref": "AWS::Region"}, "Ami"]}, mappings=mappings) == "ami-1"
    assert resolve({"Fn::FindInMap": ["Region", "eu-west-1", "Zones"]}, mappings=mappings) == ["a", "b"]
    assert error_of({"Fn::FindInMap": ["Region", "us-east-1", "Ami"]}, mappings=mappings) == \
        "Template error: Unable to get mapping for Region::us-east-1::Ami"
    with_default = {"Fn::FindInMap": ["Region", "us-east-1", "Ami", {"DefaultValue": "ami-0"}]}
    assert error_of(with_default, mappings=mappings) == (
        "Template error: every Fn::FindInMap object requires three parameters, the map name, map key "
        "and the attribute for return value")
    assert resolve(with_default, mappings=mappings, language_extensions=True) == "ami-0"


def test_import_value_ref_get_att_and_no_value() -> None:
    assert resolve({"Fn::ImportValue": {"Fn::Sub": "${AWS::StackName}-X"}}) == "exported:s-X"
    assert resolve([{"Ref": "Vpc"}, {"Ref": "AWS::NoValue"}, {"Fn::GetAtt": "Db.Endpoint.Address"}]) == \
        ["Vpc-id", "db.example"]
    assert resolve({"Fn::GetAtt": ["Vpc", {"Ref": "Attr"}]}, parameters={"Attr": "CidrBlock"}) == "10.0.0.0/16"
    assert resolve({"Ref": "AWS::NoValue"}) is None
    assert resolve({"Statement": [{"Condition": {"StringEquals": {"k": "v"}}}]}) == \
        {"Statement": [{"Condition": {"StringEquals": {"k": "v"}}}]}  # an IAM Condition stays data


def test_condition_functions_outside_conditions() -> None:
    assert error_of({"Fn::Equals": ["a", "a"]}) == \
        "Template error: Fn::Equals can only be used in the Conditions section or in Fn::If"


def test_conditions_evaluate_in_any_order_and_refuse_cycles() -> None:
    tpl = template.load("""
Parameters: {Env: {Type: String, Default: prod}}
Conditions:
  Both: !And [!Condition IsProd, !Not [!Condition IsDev]]
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Equals [dev, !Ref Env]
  Either: !Or [!Condition IsDev, !Equals [!Ref "AWS::Region", eu-west-1]]
Resources: {R: {Type: AWS::EC2::VPC}}
""")
    assert template.evaluate_conditions(tpl, ctx({"Env": "prod"})) == \
        {"Both": True, "IsProd": True, "IsDev": False, "Either": True}
    cyclic = template.load("Conditions:\n  A: !Not [!Condition B]\n  B: !Not [!Condition A]\n"
                           "Resources: {R: {Type: AWS::EC2::VPC}}\n")
    with pytest.raises(TemplateError) as err:
        template.evaluate_conditions(cyclic, ctx())
    assert err.value.message == "Template format error: Circular dependency between conditions: [A, B]"
