"""Protocol-level errors over real HTTP: what a client sees when the request is wrong.

Driven with real boto3 and with raw `requests`/`urllib` POSTs, because most of these
requests are ones a well-behaved SDK would never build. Every answer must be an AWS
error document with a 4xx status: a 500 here is always a vpclab bug.
"""
from __future__ import annotations

import random
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import botocore.exceptions
import botocore.parsers
import pytest
import requests
from botocore.config import Config
from hypothesis import HealthCheck, given, settings

import vpclab.control  # noqa: F401  (registers every operation handler)
from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.botocore_oracle import STRATEGIES, botocore_request_body
from tests.helpers.errors import wire_error
from vpclab.protocol import models
from vpclab.protocol.dispatch import implemented

SIGNING = {"ec2": "ec2", "elbv2": "elasticloadbalancing", "sts": "sts"}
SERVICES = ("ec2", "elbv2", "sts")


def auth(service: str = "ec2", region: str = REGION, account: str = ACCOUNT_1) -> dict:
    """A SigV4-shaped Authorization header (vpclab reads the scope, not the signature)."""
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={account}/20240101/{region}/{SIGNING[service]}"
            "/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef"
        ),
        "X-Amz-Date": "20240101T000000Z",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }


def post(srv, body, service: str = "ec2", headers: dict | None = None) -> requests.Response:
    return requests.post(srv.url + "/", data=body, headers=headers if headers is not None else auth(service),
                         timeout=30)


def assert_aws_error(resp, service: str = "ec2", status: int | None = None, code: str | None = None):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    if status is not None:
        assert resp.status_code == status, resp.text
    ET.fromstring(resp.content)  # a well-formed XML document
    err = wire_error(service, resp)
    assert err.get("Code"), resp.text
    if code is not None:
        assert err["Code"] == code, resp.text
    return err


def client(srv, service, **config):
    return boto3.client(
        service, endpoint_url=srv.url, region_name=REGION, aws_access_key_id=ACCOUNT_1,
        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}, **config))


def ops_with_required(service: str) -> list[str]:
    out = []
    for name in implemented(service):
        shape = models.service(service).operation(name).input_shape
        if shape is not None and shape.required_members:
            out.append(name)
    return out


def op_params():
    return [(s, n) for s in SERVICES for n in implemented(s)]


# Action ------------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_unknown_action_is_invalid_action(shared_server, service):
    resp = post(shared_server, "Action=FrobnicateTheWidgets&Version=2016-11-15", service)
    err = assert_aws_error(resp, service, 400, "InvalidAction")
    assert "FrobnicateTheWidgets" in err["Message"]


def test_unimplemented_model_operation_through_boto3(shared_server):
    ec2 = client(shared_server, "ec2")
    model = models.service("ec2").model
    done = set(implemented("ec2"))
    name = next(n for n in sorted(model.operation_names)
                if n not in done and n.startswith("Describe")
                and not model.operation_model(n).input_shape.required_members)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2._make_api_call(name, {})
    assert err.value.response["Error"]["Code"] == "InvalidAction"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("body", ["", "Version=2016-11-15", "Action=", "action=DescribeVpcs"])
def test_missing_action(shared_server, body):
    assert_aws_error(post(shared_server, body), "ec2", 400, "MissingAction")


def test_missing_action_via_urllib(shared_server):
    req = urllib.request.Request(shared_server.url + "/", data=b"Version=2016-11-15",
                                 headers=auth(), method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 400
    body = err.value.read()
    assert b"<Code>MissingAction</Code>" in body


def test_action_in_query_string_get(shared_server):
    """A GET with the parameters in the query string is a valid query-protocol request."""
    resp = requests.get(shared_server.url + "/?Action=DescribeVpcs&Version=2016-11-15&MaxResults=abc",
                        headers=auth(), timeout=30)
    assert_aws_error(resp, "ec2", 400, "InvalidParameterValue")


# Malformed values --------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "1.5", "", "0x10", "١٢"])
def test_malformed_integer_is_invalid_parameter_value(shared_server, value):
    resp = post(shared_server, {"Action": "DescribeVpcs", "Version": "2016-11-15", "MaxResults": value})
    err = assert_aws_error(resp, "ec2", 400, "InvalidParameterValue")
    assert "MaxResults" in err["Message"] or "maxResults" in err["Message"]


def test_malformed_boolean_is_invalid_parameter_value(shared_server):
    resp = post(shared_server, "Action=DescribeVpcs&Version=2016-11-15&DryRun=maybe")
    assert_aws_error(resp, "ec2", 400, "InvalidParameterValue")


def test_malformed_integer_through_boto3(shared_server):
    ec2 = client(shared_server, "ec2", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.describe_vpcs(MaxResults="abc")
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_malformed_integer_elbv2(shared_server):
    ints = [n for n in implemented("elbv2")
            if "PageSize" in (models.service("elbv2").operation(n).input_shape.members or {})]
    assert ints  # DescribeLoadBalancers, DescribeTargetGroups, ... take it
    resp = post(shared_server, {"Action": ints[0], "Version": "2015-12-01", "PageSize": "abc"}, "elbv2")
    assert_aws_error(resp, "elbv2", 400)


# Missing required parameters ---------------------------------------------------------
@pytest.mark.parametrize("name", ops_with_required("ec2"))
def test_ec2_missing_required_parameter(shared_server, name):
    resp = post(shared_server, {"Action": name, "Version": "2016-11-15"})
    assert_aws_error(resp, "ec2", 400, "MissingParameter")


@pytest.mark.parametrize("service,name", [(s, n) for s in ("elbv2", "sts") for n in ops_with_required(s)])
def test_query_missing_required_parameter_is_validation_error(shared_server, service, name):
    version = models.service(service).model.api_version
    resp = post(shared_server, {"Action": name, "Version": version}, service)
    err = assert_aws_error(resp, service, 400, "ValidationError")
    assert "must not be null" in err["Message"]


def test_missing_required_through_boto3(shared_server):
    ec2 = client(shared_server, "ec2", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.create_tags(Tags=[{"Key": "a", "Value": "b"}])
    assert err.value.response["Error"]["Code"] == "MissingParameter"
    assert "ResourceId" in err.value.response["Error"]["Message"]


def test_elbv2_missing_required_through_boto3(shared_server):
    elbv2 = client(shared_server, "elbv2", parameter_validation=False)
    with pytest.raises(botocore.exceptions.ClientError) as err:
        elbv2.create_load_balancer()
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_parser_error_codes_per_protocol():
    """Independent of which operations exist: ec2 says MissingParameter, query ValidationError."""
    from vpclab.protocol.errors import MissingParameter, ValidationError
    from vpclab.protocol.parser import parser_for

    cases = [("ec2", "CreateTags", MissingParameter), ("elbv2", "CreateLoadBalancer", ValidationError),
             ("elbv2", "AddTags", ValidationError), ("sts", "AssumeRole", ValidationError)]
    for service, name, exc in cases:
        svc = models.service(service)
        with pytest.raises(exc):
            parser_for(svc.protocol).parse({}, svc.operation(name).input_shape)


# Garbage -----------------------------------------------------------------------------
# Bodies a parser must survive. Unknown keys are ignored (as vpclab does throughout), so
# some of these are answered 200; none may be a 500.
GARBAGE = [
    b"\x00\xff\xfe%%%&&&===",
    b"Action=DescribeVpcs&VpcId.1=\xff\xfe\xfd",
    b"Action=DescribeVpcs&VpcId.1=%ff%fe",
    b"Action=Describe\xffVpcs",
    b"Action=%E0%A4%A",
    b"Action=DescribeVpcs&Filter.1.Name=\xc3(&Filter.1.Value.1=\xed\xa0\x80",
    b"Action=DescribeVpcs&Filter.99999999999999999999.Name=x",
    b"Action=DescribeVpcs&Filter..Name=x&Filter.1..=y&.=.",
    b"Action=DescribeVpcs&MaxResults=99999999999999999999999999999999",
    b"Action=DescribeVpcs&MaxResults=-5",
    b"Action=CreateVpc&CidrBlock=\xff/16",
    b"Action=CreateVpc&CidrBlock=10.0.0.0/99",
    b"Action=CreateTags&ResourceId.1=&Tag.1.Key=",
    b"Action=CreateTags&ResourceId.1=vpc-\xff&Tag.1.Key=\xfe",
    b'{"Action": "DescribeVpcs"}',
    b"<xml>Action=DescribeVpcs</xml>",
    b"Action=DescribeVpcs&Action=CreateVpc&Action=",
    b"=" * 5000,
    b"&" * 5000,
    b"Action=DescribeVpcs&" + b"VpcId.%d=vpc-x&" % 1 * 2000,
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_bodies_never_500(shared_server, body):
    resp = post(shared_server, body)
    if resp.status_code == 200:
        ET.fromstring(resp.content)
    else:
        assert_aws_error(resp, "ec2")


@pytest.mark.parametrize("service", SERVICES)
def test_random_bytes_are_4xx(shared_server, service):
    rng = random.Random(1234)
    for _ in range(40):
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        if rng.random() < 0.5:
            body = b"Action=DescribeVpcs&" + body
        resp = post(shared_server, body, service)
        assert 400 <= resp.status_code < 500 or resp.status_code == 200, (body, resp.status_code, resp.text)
        assert resp.status_code < 500


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"Content-Type": "text/plain; charset=latin-1"},
        {"Authorization": "garbage"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=/////aws4_request"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/ap-south-1/notaservice/aws4_request"},
    ],
)
def test_odd_headers_never_500(shared_server, headers):
    resp = post(shared_server, b"Action=DescribeVpcs&MaxResults=abc", headers=headers)
    assert_aws_error(resp, "ec2", 400)


@pytest.mark.parametrize("value", ["1e300", "inf", "NaN", "1_000", " 5", "١٢", "2020-13-45", "%%"])
@pytest.mark.parametrize("kind", ["integer", "long", "float", "double", "timestamp", "boolean", "blob"])
def test_malformed_scalars_are_invalid_parameter_value(kind, value):
    """Every malformed scalar is a 400 InvalidParameterValue, never an escaping exception."""
    from botocore.model import StructureShape

    from vpclab.protocol.errors import InvalidParameterValue
    from vpclab.protocol.parser import parser_for

    shape = StructureShape("In", {"type": "structure", "members": {"V": {"shape": "S"}}},
                           _FakeResolver({"S": {"type": kind}}))
    valid = {("float", "1e300"), ("double", "1e300"), ("float", "NaN"), ("double", "NaN")}
    for protocol in ("ec2", "query"):
        try:
            parser_for(protocol).parse({"V": value}, shape)
        except InvalidParameterValue:
            continue
        # base64 decoding is lenient (as AWS's is); everything else must be rejected.
        assert kind == "blob" or (kind, value) in valid, f"{kind} accepted {value!r}"


class _FakeResolver:
    def __init__(self, shapes):
        self.shapes = shapes

    def get_shape_by_name(self, name, member_traits=None):
        from botocore.model import Shape
        return Shape(name, self.shapes[name])

    def resolve_shape_ref(self, ref):
        from botocore.model import Shape
        return Shape(ref["shape"], self.shapes[ref["shape"]])


@pytest.mark.parametrize("op", op_params(), ids=lambda op: f"{op[0]}:{op[1]}")
def test_parser_only_raises_aws_errors(op):
    """Arbitrary text in every wire key of an operation: a parse result or an AwsError."""
    from hypothesis import strategies as st

    from vpclab.protocol.errors import AwsError
    from vpclab.protocol.parser import parser_for

    service, name = op
    svc = models.service(service)
    shape = svc.operation(name).input_shape
    if shape is None:
        return
    wire_keys = sorted(botocore_request_body(
        svc.protocol, svc.operation(name), _example(shape)).keys() - {"Action", "Version"})
    wire_keys += sorted({k.rsplit(".", 1)[0] + ".3" for k in wire_keys if "." in k})
    keys = st.sampled_from(wire_keys) if wire_keys else st.just("X")
    text = st.text(max_size=8) | st.sampled_from(["1e300", "-1", "", "true", "NaN", "9" * 30])

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.dictionaries(keys | st.text(max_size=6), text, max_size=8))
    def run(params):
        try:
            parsed = parser_for(svc.protocol).parse(params, shape)
        except AwsError as err:
            assert 400 <= err.status < 500, err
        else:
            assert isinstance(parsed, dict)

    run()


def _example(shape, depth=0):
    """A value of `shape` with every member set (two list items), to learn its wire keys."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 4:
            return {}
        return {n: _example(m, depth + 1) for n, m in shape.members.items()}
    if kind == "list":
        return [_example(shape.member, depth + 1)] * 2
    if kind == "map":
        return {"k": _example(shape.value, depth + 1)}
    return {"string": "s", "integer": 1, "long": 1, "boolean": True, "float": 1.0, "double": 1.0,
            "blob": b"b", "timestamp": 0}.get(kind, "s")


# Generated inputs for every implemented operation: never an internal error ------------
@pytest.mark.parametrize("op", op_params(), ids=lambda op: f"{op[0]}:{op[1]}")
def test_generated_inputs_never_500(shared_server, op):
    """Whatever shape-valid values a client sends, the answer is a result or a 4xx error."""

    service, name = op
    shape = models.service(service).operation(name).input_shape
    c = client(shared_server, service, parameter_validation=False)
    if shape is None:
        c._make_api_call(name, {})
        return

    @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(STRATEGIES.for_shape(shape, top=True))
    def run(params):
        try:
            c._make_api_call(name, params)
        except botocore.exceptions.ClientError as err:
            status = err.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status < 500, f"{service}:{name}({params!r}) -> {status} {err.response['Error']}"

    run()


# DryRun ------------------------------------------------------------------------------
def test_dry_run_is_412_and_commits_nothing(shared_server):
    ec2 = client(shared_server, "ec2")
    before = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.create_vpc(CidrBlock="10.77.0.0/16", DryRun=True)
    assert err.value.response["Error"]["Code"] == "DryRunOperation"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} == before


def test_dry_run_raw(shared_server):
    resp = post(shared_server, "Action=DescribeVpcs&Version=2016-11-15&DryRun=true")
    assert_aws_error(resp, "ec2", 412, "DryRunOperation")


def test_dry_run_false_runs(shared_server):
    assert client(shared_server, "ec2").describe_vpcs(DryRun=False)["Vpcs"]


# Region ------------------------------------------------------------------------------
def test_unknown_region_in_scope_is_an_aws_error(shared_server):
    resp = post(shared_server, "Action=DescribeVpcs&Version=2016-11-15",
                headers=auth(region="mars-north-9"))
    assert_aws_error(resp, "ec2")


def test_unknown_region_through_boto3(shared_server):
    ec2 = boto3.client("ec2", endpoint_url=shared_server.url, region_name="mars-north-9",
                       aws_access_key_id=ACCOUNT_1, aws_secret_access_key="x",
                       config=Config(retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.describe_vpcs()
    status = err.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert 400 <= status < 500
    assert err.value.response["Error"]["Code"] == "AuthFailure"


def test_unknown_region_rejected_by_every_ec2_read(shared_server):
    failures = []
    for name in ("DescribeTags", "DescribeRegions", "DescribeVpcs"):
        resp = post(shared_server, f"Action={name}&Version=2016-11-15", headers=auth(region="mars-north-9"))
        if not 400 <= resp.status_code < 500:
            failures.append((name, resp.status_code))
    assert not failures


def test_ec2_refuses_a_parameter_it_does_not_know(shared_server):
    resp = post(shared_server, "Action=DescribeVpcs&Version=2016-11-15&VpcIdz.1=vpc-12345678",
                headers=auth())
    assert resp.status_code == 400
    assert "<Code>UnknownParameter</Code>" in resp.text
    assert "VpcIdz" in resp.text
