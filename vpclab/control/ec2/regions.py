"""Regions and Availability Zones (names and zone ids): the data and the Describe calls.

Zone ids are what PrivateLink matches zones by: `ap-south-1a` in one account is
`aps1-az1` everywhere, as the seed lab shows. Each zone also fixes which /20 of
172.31.0.0/16 its default subnet takes. A region's Availability Zones form one zone
group, `<region>-zg-1`, whose long name is the region's console name and `1`
(`US East (Ohio) 1`), as DescribeAvailabilityZones shows them now.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError
from ..common.filters import filter_and_page


@dataclass(frozen=True)
class Zone:
    name: str
    zone_id: str
    region: str
    default_cidr: str  # the default VPC's subnet in this zone


REGIONS: dict[str, list[Zone]] = {}


@dataclass(frozen=True)
class Place:
    """Where a region is, as DescribeAvailabilityZones names it."""

    long_name: str  # the console's region name
    geography: str
    sub_geography: str | None  # None where no AWS answer was found to copy


PLACES: dict[str, Place] = {
    "us-east-1": Place("US East (N. Virginia)", "United States of America", "Virginia"),
    "us-west-2": Place("US West (Oregon)", "United States of America", "Oregon"),
    "eu-west-1": Place("Europe (Ireland)", "Ireland", None),
    "ap-south-1": Place("Asia Pacific (Mumbai)", "India", None),
}


def _region(name: str, short: str, zones: list[tuple[str, str, str]]) -> None:
    REGIONS[name] = [Zone(f"{name}{letter}", f"{short}-{az}", name, cidr) for letter, az, cidr in zones]


_region("us-east-1", "use1", [("a", "az1", "172.31.0.0/20"), ("b", "az2", "172.31.16.0/20"), ("c", "az4", "172.31.32.0/20")])
_region("us-west-2", "usw2", [("a", "az1", "172.31.16.0/20"), ("b", "az2", "172.31.32.0/20"), ("c", "az3", "172.31.0.0/20")])
_region("eu-west-1", "euw1", [("a", "az1", "172.31.0.0/20"), ("b", "az2", "172.31.16.0/20"), ("c", "az3", "172.31.32.0/20")])
# The seed lab's instances got 172.31.37.x in ap-south-1a: its default subnet is 172.31.32.0/20.
_region("ap-south-1", "aps1", [("a", "az1", "172.31.32.0/20"), ("b", "az3", "172.31.0.0/20"), ("c", "az2", "172.31.16.0/20")])


class UnknownRegion(AwsError):
    code = "AuthFailure"
    status = 401


def zones(region: str) -> list[Zone]:
    if region not in REGIONS:
        raise UnknownRegion(f"vpclab does not serve the region '{region}'. Regions: {', '.join(REGIONS)}")
    return REGIONS[region]


def zone_by_name(region: str, name: str) -> Zone | None:
    return next((z for z in zones(region) if z.name == name), None)


def zone_by_id(region: str, zone_id: str) -> Zone | None:
    return next((z for z in zones(region) if z.zone_id == zone_id), None)


@operation("ec2", "DescribeRegions")
def describe_regions(ctx: RequestContext, req: dict) -> dict:
    items = [
        {"RegionName": name, "Endpoint": f"ec2.{name}.amazonaws.com", "OptInStatus": "opt-in-not-required"}
        for name in REGIONS
    ]
    names = req.get("RegionNames")
    if names:
        unknown = [n for n in names if n not in REGIONS]
        if unknown:
            raise AwsError(f"Invalid region: {unknown[0]}", code="InvalidParameterValue")
        items = [i for i in items if i["RegionName"] in names]
    fields = {
        "region-name": lambda i: i["RegionName"],
        "endpoint": lambda i: i["Endpoint"],
        "opt-in-status": lambda i: i["OptInStatus"],
    }
    page, _ = filter_and_page(items, req.get("Filters"), fields)
    return {"Regions": page}


def zone_group(region: str) -> str:
    """The zone group of a region's Availability Zones (`us-east-1-zg-1`)."""
    return f"{region}-zg-1"


def zone_view(z: Zone) -> dict:
    """One AvailabilityZone as DescribeAvailabilityZones answers it."""
    place = PLACES[z.region]
    view: dict = {
        "OptInStatus": "opt-in-not-required",
        "Messages": [],
        "RegionName": z.region,
        "ZoneName": z.name,
        "ZoneId": z.zone_id,
        "GroupName": zone_group(z.region),
        "NetworkBorderGroup": z.region,
        "ZoneType": "availability-zone",
        "GroupLongName": f"{place.long_name} 1",
        "Geography": [{"Name": place.geography}],
        "State": "available",
    }
    if place.sub_geography:
        view["SubGeography"] = [{"Name": place.sub_geography}]
    return view


@operation("ec2", "DescribeAvailabilityZones")
def describe_availability_zones(ctx: RequestContext, req: dict) -> dict:
    items = [zone_view(z) for z in zones(ctx.region)]
    if req.get("ZoneNames"):
        items = [i for i in items if i["ZoneName"] in req["ZoneNames"]]
    if req.get("ZoneIds"):
        items = [i for i in items if i["ZoneId"] in req["ZoneIds"]]
    fields = {
        "zone-name": lambda i: i["ZoneName"],
        "zone-id": lambda i: i["ZoneId"],
        "region-name": lambda i: i["RegionName"],
        "state": lambda i: i["State"],
        "zone-type": lambda i: i["ZoneType"],
        "group-name": lambda i: i["GroupName"],
        "group-long-name": lambda i: i["GroupLongName"],
        "opt-in-status": lambda i: i["OptInStatus"],
        "message": lambda i: [m["Message"] for m in i["Messages"]],
        "parent-zone-id": lambda i: i.get("ParentZoneId"),
        "parent-zone-name": lambda i: i.get("ParentZoneName"),
    }
    page, _ = filter_and_page(items, req.get("Filters"), fields)
    return {"AvailabilityZones": page}
