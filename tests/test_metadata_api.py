"""MetadataOptions through real boto3: defaults from the image's ImdsSupport, RunInstances'
and ModifyInstanceMetadataOptions' validation, DescribeInstances' State."""
from __future__ import annotations

import pytest

from tests.helpers.errors import error_of
from tests.helpers.waiting import wait_for


def image(ec2, name: str) -> dict:
    return ec2.describe_images(Filters=[{"Name": "name", "Values": [name]},
                                        {"Name": "architecture", "Values": ["x86_64"]}])["Images"][0]


def launch(ec2, name: str = "al2023-ami-2023*", **kw) -> dict:
    return ec2.run_instances(ImageId=image(ec2, name)["ImageId"], InstanceType="t3.micro",
                             MinCount=1, MaxCount=1, **kw)["Instances"][0]


def options(ec2, iid: str) -> dict:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]


def test_al2023_has_imds_support_v2_and_the_others_none(ec2):
    assert image(ec2, "al2023-ami-2023*")["ImdsSupport"] == "v2.0"
    for name in ("amzn2-ami-kernel-5.10*", "debian-12-*", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble*"):
        assert "ImdsSupport" not in image(ec2, name)


def test_defaults_follow_the_image(ec2):
    al2023 = launch(ec2)
    assert al2023["MetadataOptions"] == {
        "State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}
    debian = launch(ec2, "debian-12-*")
    assert options(ec2, debian["InstanceId"]) == {
        "State": "applied", "HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}


def test_run_instances_takes_metadata_options(ec2):
    inst = launch(ec2, MetadataOptions={"HttpTokens": "optional", "HttpPutResponseHopLimit": 5,
                                        "InstanceMetadataTags": "enabled"})
    got = options(ec2, inst["InstanceId"])
    assert (got["HttpTokens"], got["HttpPutResponseHopLimit"], got["InstanceMetadataTags"], got["HttpEndpoint"]) \
        == ("optional", 5, "enabled", "enabled")


@pytest.mark.parametrize("given", [
    {"HttpTokens": "sometimes"}, {"HttpEndpoint": "on"}, {"HttpPutResponseHopLimit": 0},
    {"HttpPutResponseHopLimit": 65}, {"InstanceMetadataTags": "yes"}, {"HttpProtocolIpv6": "maybe"},
])
def test_invalid_options_are_refused(ec2, given):
    err = error_of(launch, ec2, MetadataOptions=given)
    assert err["Code"] == "InvalidParameterValue"
    name, value = next(iter(given.items()))
    assert name in err["Message"] and str(value) in err["Message"]
    iid = launch(ec2)["InstanceId"]
    err = error_of(ec2.modify_instance_metadata_options, InstanceId=iid, **given)
    assert err["Code"] == "InvalidParameterValue"


def test_modify_shows_pending_then_applied(ec2):
    iid = launch(ec2)["InstanceId"]
    out = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional", HttpPutResponseHopLimit=3)
    assert out["InstanceId"] == iid
    assert out["InstanceMetadataOptions"] == {
        "State": "pending", "HttpTokens": "optional", "HttpPutResponseHopLimit": 3, "HttpEndpoint": "enabled",
        "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}
    assert options(ec2, iid)["State"] == "pending"
    wait_for(lambda: options(ec2, iid)["State"] == "applied", timeout=5, what="applied")
    assert options(ec2, iid)["HttpTokens"] == "optional"
    # Only what the call names changes.
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpEndpoint="disabled")
    got = options(ec2, iid)
    assert (got["HttpTokens"], got["HttpPutResponseHopLimit"], got["HttpEndpoint"]) == ("optional", 3, "disabled")


def test_modify_errors(ec2):
    assert error_of(ec2.modify_instance_metadata_options, InstanceId="i-0123456789abcdef0",
                    HttpTokens="required")["Code"] == "InvalidInstanceID.NotFound"
    assert error_of(ec2.modify_instance_metadata_options, InstanceId="bogus",
                    HttpTokens="required")["Code"] == "InvalidInstanceID.Malformed"
    iid = launch(ec2)["InstanceId"]
    assert error_of(ec2.modify_instance_metadata_options, InstanceId=iid)["Code"] == "MissingParameter"
    assert error_of(ec2.modify_instance_metadata_options, InstanceId=iid, HttpTokens="required",
                    DryRun=True)["Code"] == "DryRunOperation"
