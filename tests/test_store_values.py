"""Value dataclasses inside resources (rules, subnet mappings, registered targets): the store
encodes them with `dataclasses.asdict` and decodes them from the field types, and rows
written while they were plain dicts still load.

The three rows below are copied from the state.db of a server of that version (a group
with a CIDR and a group rule, a two-zone internal NLB, an ip target group with one
registered and one draining target).
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from vpclab.control.ec2.security_group_rules import render_rule
from vpclab.control.ec2.security_groups import render as render_group
from vpclab.control.elbv2.load_balancers import render as render_lb
from vpclab.control.elbv2.target_health import describe
from vpclab.model import KINDS
from vpclab.model.ec2 import SecurityGroup, SecurityGroupRule
from vpclab.model.elbv2 import LoadBalancer, RegisteredTarget, SubnetMapping, TargetGroup
from vpclab.store import Resource, open_store, resource
from vpclab.store.sqlite import SCHEMA

GROUP_ROW = (
    '{"id":"sg-82ecff1eb8c56ca61","account":"111111111111","region":"ap-south-1","tags":{},"created":1796656626.766817,'
    '"vpc_id":"vpc-d21013c5a67ea6ca1","group_name":"web","description":"web","rules":[{"id":"sgr-a448e0ed985f48fcc",'
    '"egress":true,"protocol":"-1","from_port":-1,"to_port":-1,"cidr_ipv4":"0.0.0.0/0","cidr_ipv6":null,'
    '"prefix_list_id":null,"group_id":null,"group_owner":null,"description":null,"tags":{}},{"id":"sgr-607a110566ec985e0",'
    '"egress":false,"protocol":"tcp","from_port":80,"to_port":80,"cidr_ipv4":"10.0.0.0/8","cidr_ipv6":null,'
    '"prefix_list_id":null,"group_id":null,"group_owner":null,"description":"lan","tags":{"k":"v"}},{"id":"sgr-33dec2567fc0b6ad1",'
    '"egress":false,"protocol":"tcp","from_port":80,"to_port":80,"cidr_ipv4":null,"cidr_ipv6":null,"prefix_list_id":null,'
    '"group_id":"sg-db88c7ac065ba7baf","group_owner":"111111111111","description":null,"tags":{"k":"v"}}]}'
)

TARGET_GROUP_ROW = (
    '{"id":"arn:aws:elasticloadbalancing:ap-south-1:111111111111:targetgroup/tg/56b3aacc448dffd9","account":"111111111111",'
    '"region":"ap-south-1","name":"tg","protocol":"TCP","port":80,"vpc_id":"vpc-d21013c5a67ea6ca1","target_type":"ip",'
    '"ip_address_type":"ipv4","health_check":{"HealthCheckProtocol":"TCP","HealthCheckPort":"traffic-port",'
    '"HealthCheckEnabled":true,"HealthCheckIntervalSeconds":30,"HealthCheckTimeoutSeconds":10,"HealthyThresholdCount":5,'
    '"UnhealthyThresholdCount":2},"attributes":{},"targets":[{"id":"172.31.32.10","port":80,"availability_zone":"ap-south-1a",'
    '"registered":1796656626.807842,"deregistering_since":null},{"id":"172.31.32.11","port":8080,"availability_zone":"ap-south-1a",'
    '"registered":1796656626.807842,"deregistering_since":1796656626.811465}],"tags":{},"created":1796656626.786955}'
)

LOAD_BALANCER_ROW = (
    '{"id":"arn:aws:elasticloadbalancing:ap-south-1:111111111111:loadbalancer/net/nlb/66a5ce128dac2b81",'
    '"account":"111111111111","region":"ap-south-1","name":"nlb","type":"network","scheme":"internal",'
    '"vpc_id":"vpc-d21013c5a67ea6ca1","ip_address_type":"ipv4","dns_name":"internal-nlb-66a5ce128dac2b81.elb.ap-south-1.amazonaws.com",'
    '"canonical_hosted_zone_id":"ZVDDRBQ08TROA","mappings":[{"zone":"ap-south-1a","zone_id":"aps1-az1",'
    '"subnet_id":"subnet-36428ec8c11dff5ab","network_interface_id":"eni-90fdff7014b91c085","private_ip":"172.31.38.228",'
    '"allocation_id":null},{"zone":"ap-south-1b","zone_id":"aps1-az3","subnet_id":"subnet-685593a958db934c0",'
    '"network_interface_id":"eni-1254c9e253f127443","private_ip":"172.31.9.227","allocation_id":null}],'
    '"security_group_ids":[],"enforce_sg_inbound_on_privatelink":true,"state":"active","attributes":{},'
    '"tags":{},"created":1796656626.791927}'
)


def write_rows(state_dir: Path, rows: list[tuple[str, str]]) -> None:
    """A fresh state.db holding `rows` (kind, JSON body), as a server of that version left it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(state_dir / "state.db")
    db.executescript(SCHEMA)
    for kind, body in rows:
        doc = json.loads(body)
        db.execute("INSERT INTO resources (kind, id, account, region, body) VALUES (?, ?, ?, ?, ?)",
                   (kind, doc["id"], doc["account"], doc["region"], body))
    db.commit()
    db.close()


def load(state_dir: Path, rows: list[tuple[str, str]]):
    write_rows(state_dir, rows)
    return open_store(state_dir, KINDS)


def test_dict_era_rows_load_as_typed_objects(tmp_path: Path) -> None:
    store = load(tmp_path, [("security-group", GROUP_ROW), ("load-balancer", LOAD_BALANCER_ROW),
                            ("target-group", TARGET_GROUP_ROW)])
    with store.read() as tx:
        (group,) = tx.list(SecurityGroup)
        (lb,) = tx.list(LoadBalancer)
        (tg,) = tx.list(TargetGroup)
    assert group.rules == [
        SecurityGroupRule(id="sgr-a448e0ed985f48fcc", egress=True, protocol="-1", from_port=-1, to_port=-1,
                          cidr_ipv4="0.0.0.0/0"),
        SecurityGroupRule(id="sgr-607a110566ec985e0", egress=False, protocol="tcp", from_port=80, to_port=80,
                          cidr_ipv4="10.0.0.0/8", description="lan", tags={"k": "v"}),
        SecurityGroupRule(id="sgr-33dec2567fc0b6ad1", egress=False, protocol="tcp", from_port=80, to_port=80,
                          group_id="sg-db88c7ac065ba7baf", group_owner="111111111111", tags={"k": "v"}),
    ]
    assert lb.mappings == [
        SubnetMapping(zone="ap-south-1a", zone_id="aps1-az1", subnet_id="subnet-36428ec8c11dff5ab",
                      network_interface_id="eni-90fdff7014b91c085", private_ip="172.31.38.228"),
        SubnetMapping(zone="ap-south-1b", zone_id="aps1-az3", subnet_id="subnet-685593a958db934c0",
                      network_interface_id="eni-1254c9e253f127443", private_ip="172.31.9.227"),
    ]
    assert tg.targets == [
        RegisteredTarget(id="172.31.32.10", port=80, availability_zone="ap-south-1a", registered=1796656626.807842),
        RegisteredTarget(id="172.31.32.11", port=8080, availability_zone="ap-south-1a", registered=1796656626.807842,
                         deregistering_since=1796656626.811465),
    ]
    # Written again, each row is the old one; a mapping gains the field it did not have.
    assert json.loads(group.to_json()) == json.loads(GROUP_ROW)
    assert json.loads(tg.to_json()) == json.loads(TARGET_GROUP_ROW)
    old_lb = json.loads(LOAD_BALANCER_ROW)
    for m in old_lb["mappings"]:
        m["public_ip"] = None
    assert json.loads(lb.to_json()) == old_lb
    store.close()


def test_the_api_shows_dict_era_rows_as_before(tmp_path: Path) -> None:
    """What the control plane renders of the loaded rows (the answers of that version)."""
    store = load(tmp_path, [("security-group", GROUP_ROW), ("load-balancer", LOAD_BALANCER_ROW),
                            ("target-group", TARGET_GROUP_ROW)])
    with store.read() as tx:
        (group,) = tx.list(SecurityGroup)
        (lb,) = tx.list(LoadBalancer)
        (tg,) = tx.list(TargetGroup)
        health = describe(tx, tg)
    shown = render_group(group)
    assert shown["IpPermissions"] == [{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "lan"}], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [{"GroupId": "sg-db88c7ac065ba7baf", "UserId": "111111111111", "Description": None}],
    }]
    assert shown["IpPermissionsEgress"] == [{
        "IpProtocol": "-1", "FromPort": None, "ToPort": None,
        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": None}], "Ipv6Ranges": [], "PrefixListIds": [],
        "UserIdGroupPairs": [],
    }]
    assert render_rule(group, group.rules[2]) == {
        "SecurityGroupRuleId": "sgr-33dec2567fc0b6ad1", "GroupId": "sg-82ecff1eb8c56ca61",
        "GroupOwnerId": "111111111111", "IsEgress": False, "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "CidrIpv4": None, "CidrIpv6": None, "PrefixListId": None,
        "ReferencedGroupInfo": {"GroupId": "sg-db88c7ac065ba7baf", "UserId": "111111111111"},
        "Description": None, "Tags": [{"Key": "k", "Value": "v"}],
        "SecurityGroupRuleArn": "arn:aws:ec2:ap-south-1:111111111111:security-group-rule/sgr-33dec2567fc0b6ad1",
    }
    assert render_lb(lb)["AvailabilityZones"] == [
        {"ZoneName": "ap-south-1a", "SubnetId": "subnet-36428ec8c11dff5ab",
         "LoadBalancerAddresses": [{"PrivateIPv4Address": "172.31.38.228"}]},
        {"ZoneName": "ap-south-1b", "SubnetId": "subnet-685593a958db934c0",
         "LoadBalancerAddresses": [{"PrivateIPv4Address": "172.31.9.227"}]},
    ]
    assert health == [
        {"Target": {"Id": "172.31.32.10", "Port": 80, "AvailabilityZone": "ap-south-1a"}, "HealthCheckPort": "80",
         "TargetHealth": {"State": "unused", "Reason": "Target.NotInUse",
                          "Description": "Target group is not configured to receive traffic from the load balancer"},
         "AdministrativeOverride": {"State": "no_override", "Reason": "AdministrativeOverride.NoOverride",
                                    "Description": "No override is currently active on target"}},
        {"Target": {"Id": "172.31.32.11", "Port": 8080, "AvailabilityZone": "ap-south-1a"}, "HealthCheckPort": "8080",
         "TargetHealth": {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                          "Description": "Target deregistration is in progress"},
         "AdministrativeOverride": {"State": "no_override", "Reason": "AdministrativeOverride.NoOverride",
                                    "Description": "No override is currently active on target"}},
    ]
    store.close()


def test_unknown_nested_keys_are_dropped_and_missing_ones_take_defaults(tmp_path: Path) -> None:
    group = json.loads(GROUP_ROW)
    group["rules"] = [{"id": "sgr-1", "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "10.0.0.0/8",
                       "gone_since": "a later version"}]
    lb = json.loads(LOAD_BALANCER_ROW)
    lb["mappings"] = [{"zone": "ap-south-1a", "subnet_id": "subnet-1", "private_ip": "10.0.0.9", "weight": 3}]
    tg = json.loads(TARGET_GROUP_ROW)
    tg["targets"] = [{"id": "10.0.0.5", "port": 80, "health": "ok"}]
    store = load(tmp_path, [("security-group", json.dumps(group)), ("load-balancer", json.dumps(lb)),
                            ("target-group", json.dumps(tg))])
    with store.read() as tx:
        assert tx.list(SecurityGroup)[0].rules == [
            SecurityGroupRule(id="sgr-1", egress=False, protocol="tcp", from_port=22, to_port=22,
                              cidr_ipv4="10.0.0.0/8")]
        assert tx.list(LoadBalancer)[0].mappings == [
            SubnetMapping(zone="ap-south-1a", zone_id="", subnet_id="subnet-1", network_interface_id="",
                          private_ip="10.0.0.9", allocation_id=None)]
        assert tx.list(TargetGroup)[0].targets == [
            RegisteredTarget(id="10.0.0.5", port=80, availability_zone=None, registered=0.0, deregistering_since=None)]
    store.close()


# Any resource may hold value dataclasses: in lists, dicts and optionals, at any depth ------------

@dataclass
class Port:
    number: int = 0
    name: str = ""


@dataclass
class Door:
    ports: list[Port] = field(default_factory=list)
    main: Port | None = None


@resource("test-house")
@dataclass
class House(Resource):
    doors: list[Door] = field(default_factory=list)
    by_name: dict[str, Door] = field(default_factory=dict)
    front: Door | None = None
    back: Door | None = None
    notes: list[dict] = field(default_factory=list)


def test_values_round_trip_through_the_store(tmp_path: Path) -> None:
    door = Door(ports=[Port(80, "http"), Port(443)], main=Port(80, "http"))
    house = House(id="h-1", account="111111111111", region="ap-south-1", doors=[door, Door()],
                  by_name={"garden": Door(main=Port(8080))}, front=door, notes=[{"free": "form"}])
    store = open_store(tmp_path, [House])
    with store.write() as tx:
        tx.put(house)
    store.close()
    again = open_store(tmp_path, [House])
    with again.read() as tx:
        loaded = tx.get(House, "h-1")
    assert loaded == house
    assert loaded is not None and isinstance(loaded.by_name["garden"].main, Port)
    assert loaded.back is None and loaded.notes == [{"free": "form"}]
    assert House.from_json(house.to_json()) == house
    assert json.loads(house.to_json())["doors"][0] == dataclasses.asdict(door)
    again.close()
