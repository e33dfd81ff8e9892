"""The console's JSON of an operation's output is exactly what boto3 gets from the API:
for every operation vpclab implements, hypothesis outputs from the operation's botocore
shape go through the wire's XML serializer and botocore's own parser (then the console's
JSON form), and through `BotoOutputSerializer`; the two must be equal, key for key."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

import vpclab.control  # noqa: F401  (registers every operation handler)
from tests.helpers.botocore_oracle import STRATEGIES, botocore_response
from vpclab.protocol import models
from vpclab.protocol.boto_output import BotoOutputSerializer, to_json
from vpclab.protocol.dispatch import implemented
from vpclab.protocol.errors import AwsError, InvalidParameterValue
from vpclab.protocol.serializer import serializer_for

SERVICES = ("ec2", "elbv2", "sts")
OPS = [(svc, name) for svc in SERVICES for name in implemented(svc)]
REQUEST_ID = "0f5c2a9e-3b7d-4c1a-8e6f-2d9b7a1c5e40"
SETTINGS = settings(max_examples=max(6, min(25, 1500 // max(1, len(OPS)))), deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)


def through_the_wire(service: str, name: str, output: dict) -> dict:
    svc = models.service(service)
    op = svc.model.operation_model(name)
    xml = serializer_for(svc.protocol, svc.xml_namespace).serialize(op, output, REQUEST_ID)
    return json.loads(to_json(botocore_response(svc.protocol, op, xml)))


def direct(service: str, name: str, output: dict) -> dict:
    op = models.service(service).model.operation_model(name)
    return json.loads(BotoOutputSerializer().serialize(op, output, REQUEST_ID))


@pytest.mark.parametrize("op", OPS, ids=lambda op: f"{op[0]}:{op[1]}")
def test_the_console_gets_what_botocore_parses_from_the_wire(op):
    service, name = op
    shape = models.service(service).model.operation_model(name).output_shape
    if shape is None:
        assert direct(service, name, {}) == through_the_wire(service, name, {})
        return

    @SETTINGS
    @given(STRATEGIES.for_shape(shape, top=True))
    def run(output):
        assert direct(service, name, output) == through_the_wire(service, name, output)

    run()


@pytest.mark.parametrize("err", [InvalidParameterValue("bad <value> & \x00 more"),
                                 AwsError("gone", code="InvalidVpcID.NotFound", status=400)])
def test_errors_carry_code_and_message_as_botocore_reads_them(err):
    for service in SERVICES:
        svc = models.service(service)
        xml = serializer_for(svc.protocol, svc.xml_namespace).serialize_error(err, REQUEST_ID)
        wire = botocore_response(svc.protocol, None, xml, status=err.status)["Error"]
        got = json.loads(BotoOutputSerializer().serialize_error(err, REQUEST_ID))["Error"]
        assert got == {"Code": wire["Code"], "Message": wire["Message"]}
