"""DescribeAvailabilityZones in AWS's current form, through real boto3: the zone group
`<region>-zg-1` and its long name, and the fields user code reads."""
from __future__ import annotations

import pytest


def test_zones_of_the_region(ec2):
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == ["ap-south-1a", "ap-south-1b", "ap-south-1c"]
    assert zones[0] == {
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "RegionName": "ap-south-1",
        "ZoneName": "ap-south-1a",
        "ZoneId": "aps1-az1",
        "GroupName": "ap-south-1-zg-1",
        "NetworkBorderGroup": "ap-south-1",
        "ZoneType": "availability-zone",
        "GroupLongName": "Asia Pacific (Mumbai) 1",
        "Geography": [{"Name": "India"}],
        "State": "available",
    }
    assert {z["GroupName"] for z in zones} == {"ap-south-1-zg-1"}


@pytest.mark.parametrize("name, value, expected", [
    ("group-name", "ap-south-1-zg-1", 3),
    ("group-name", "ap-south-1", 0),  # the old form is not a zone group any more
    ("group-long-name", "Asia Pacific (Mumbai) 1", 3),
    ("zone-type", "availability-zone", 3),
    ("opt-in-status", "opt-in-not-required", 3),
    ("zone-id", "aps1-az3", 1),
    ("message", "*", 0),
])
def test_filters(ec2, name, value, expected):
    zones = ec2.describe_availability_zones(Filters=[{"Name": name, "Values": [value]}])["AvailabilityZones"]
    assert len(zones) == expected


def test_another_region(shared_server):
    zone = shared_server.client("ec2", region="us-east-1").describe_availability_zones()["AvailabilityZones"][0]
    assert (zone["GroupName"], zone["GroupLongName"]) == ("us-east-1-zg-1", "US East (N. Virginia) 1")
    assert zone["Geography"] == [{"Name": "United States of America"}]
    assert zone["SubGeography"] == [{"Name": "Virginia"}]
