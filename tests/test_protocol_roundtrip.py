"""Property tests of the wire protocols, with botocore as the oracle.

For every operation vpclab implements (read from the registry, so new API areas are
covered as they land), hypothesis generates values from the operation's botocore shapes:

* request direction: botocore's own serializer builds the form body; our parser must
  give back the same input dict (both from the raw body dict and after the form
  encoding a real request goes through);
* response direction: our serializer builds the XML; botocore's response parser must
  give back the same output dict;
* errors: our error documents parse to the same code and message in botocore.

No server is involved: this exercises exactly `vpclab.protocol.parser` and
`vpclab.protocol.serializer`.
"""
from __future__ import annotations

import datetime as dt

import botocore.parsers
import botocore.serialize
import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vpclab.control  # noqa: F401  (registers every operation handler)
from tests.helpers.botocore_oracle import (
    STRATEGIES,
    UTC,
    botocore_request_body,
    botocore_response,
    form_encoded,
    normalise,
)
from vpclab.protocol import models
from vpclab.protocol.dispatch import implemented
from vpclab.protocol.errors import (
    AwsError,
    DryRunOperation,
    InternalError,
    InvalidParameterValue,
    MissingParameter,
    ValidationError,
)
from vpclab.protocol.parser import parser_for
from vpclab.protocol.serializer import serializer_for

SERVICES = ("ec2", "elbv2", "sts")
REQUEST_ID = "6d8a9c37-7f43-4b0e-9e0d-8a1f9b0c2e11"

OPS = [(svc, name) for svc in SERVICES for name in implemented(svc)]
# Keep the whole file well under a minute however many operations other areas add.
EXAMPLES = max(6, min(25, 1500 // max(1, len(OPS))))

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)




def op_model(service: str, name: str) -> OperationModel:
    return models.service(service).operation(name)


def check_request(service: str, name: str, params: dict) -> None:
    svc = models.service(service)
    op = op_model(service, name)
    body = botocore_request_body(svc.protocol, op, params)
    expected = normalise(params, op.input_shape, svc.protocol, wire=True)
    parser = parser_for(svc.protocol)
    for label, form in (("body dict", body), ("form-encoded", form_encoded(body))):
        form = {k: v for k, v in form.items() if k not in ("Action", "Version")}
        got = parser.parse(form, op.input_shape)
        got = normalise(got, op.input_shape, svc.protocol, wire=True)
        assert got == expected, (
            f"{service}:{name} request ({label}) did not round-trip\n"
            f"  params: {params!r}\n  wire:   {form!r}\n  parsed: {got!r}"
        )


def check_response(service: str, name: str, output: dict) -> None:
    svc = models.service(service)
    op = op_model(service, name)
    xml = serializer_for(svc.protocol, svc.xml_namespace).serialize(op, output, REQUEST_ID)
    parsed = botocore_response(svc.protocol, op, xml)
    expected = normalise(output, op.output_shape, svc.protocol)
    got = normalise(parsed, op.output_shape, svc.protocol)
    assert got == expected, (
        f"{service}:{name} response did not round-trip\n"
        f"  output: {output!r}\n  xml:    {xml.decode()}\n  parsed: {got!r}"
    )


# Tests --------------------------------------------------------------------------------
def test_registry_enumerates_operations():
    assert ("ec2", "CreateVpc") in OPS and ("sts", "GetCallerIdentity") in OPS
    for service, name in OPS:
        assert op_model(service, name) is not None, f"{service}:{name} is not in the botocore model"


def _param_id(op):
    return f"{op[0]}:{op[1]}"


@pytest.mark.parametrize("op", OPS, ids=_param_id)
def test_request_roundtrip(op):
    service, name = op
    shape = op_model(service, name).input_shape
    if shape is None:
        check_request(service, name, {})
        return

    @SETTINGS
    @given(STRATEGIES.for_shape(shape, top=True))
    def run(params):
        check_request(service, name, params)

    run()


@pytest.mark.parametrize("op", OPS, ids=_param_id)
def test_response_roundtrip(op):
    service, name = op
    shape = op_model(service, name).output_shape
    if shape is None:
        check_response(service, name, {})
        return

    @SETTINGS
    @given(STRATEGIES.for_shape(shape, top=True))
    def run(output):
        check_response(service, name, output)

    run()


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "err",
    [
        InvalidParameterValue("Value (abc) for parameter MaxResults is invalid. Expected a integer."),
        MissingParameter("The request must contain the parameter CidrBlock"),
        ValidationError("1 validation error detected: <Name> & 'quotes' \"here\""),
        DryRunOperation(),
        InternalError("An internal error has occurred"),
        AwsError("The vpc ID 'vpc-1' does not exist", code="InvalidVpcID.NotFound"),
        AwsError("ünïcødé message ]]> <![CDATA[", code="Some.Code"),
    ],
    ids=lambda e: e.code,
)
def test_error_roundtrip(service, err):
    svc = models.service(service)
    body = serializer_for(svc.protocol, svc.xml_namespace).serialize_error(err, REQUEST_ID)
    parser = botocore.parsers.create_parser(svc.protocol)
    parsed = parser.parse({"body": body, "headers": {}, "status_code": err.status}, None)
    assert parsed["Error"]["Code"] == err.code
    assert parsed["Error"]["Message"] == err.message
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40))
@settings(max_examples=50, deadline=None, database=None)
def test_error_message_text_roundtrip(message):
    for service in SERVICES:
        svc = models.service(service)
        err = AwsError(message, code="InvalidParameterValue")
        body = serializer_for(svc.protocol, svc.xml_namespace).serialize_error(err, REQUEST_ID)
        parsed = botocore.parsers.create_parser(svc.protocol).parse(
            {"body": body, "headers": {}, "status_code": 400}, None)
        # botocore reads an empty <Message/> as None
        assert (parsed["Error"]["Message"] or "") == message


# The oracle itself: a check that cannot fail proves nothing -------------------------
def test_check_detects_a_wrong_request_parse(monkeypatch):
    from vpclab.protocol import parser as parser_mod

    real = parser_mod.QueryParser._scalar

    def off_by_one(self, raw, shape, name):
        value = real(self, raw, shape, name)
        return value + 1 if shape.type_name == "integer" else value

    monkeypatch.setattr(parser_mod.QueryParser, "_scalar", off_by_one)
    with pytest.raises(AssertionError):
        check_request("ec2", "DescribeVpcs", {"MaxResults": 7})


def test_check_detects_a_wrong_response_serialization(monkeypatch):
    from vpclab.protocol import serializer as ser_mod

    monkeypatch.setattr(ser_mod, "_scalar", lambda shape, value: "x")
    with pytest.raises(AssertionError):
        check_response("sts", "GetCallerIdentity", {"Account": "111111111111"})


def test_blob_and_timestamp_normalisation():
    shape = Shape("T", {"type": "timestamp"})
    assert normalise(0, shape, "query") == dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert normalise(bytearray(b"a"), Shape("B", {"type": "blob"}), "query") == b"a"
