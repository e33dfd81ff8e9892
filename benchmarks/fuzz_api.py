"""A model-driven fuzzer of the vpclab API: malformed requests to every implemented operation.

    python benchmarks/fuzz_api.py                      # 10,000 requests, seed 1, control plane
    python benchmarks/fuzz_api.py --requests 50000 --seed 7
    python benchmarks/fuzz_api.py --dataplane --requests 2000   # data plane on (root)

One command: it starts a `vpclab server` (temporary state directory, free port), makes a
small world through boto3 (VPCs, subnets, groups, a key pair, an instance, an NLB, a target
group and listener, an endpoint service and an endpoint in a second account) so that
requests carry ids that exist, then sends malformed requests round-robin over every
operation the server registers (`vpclab.protocol.dispatch.implemented`).

Each request starts from a valid input built from the botocore input shape (enums from the
model, ids from the world, lengths and ranges inside the model's limits) and is serialized
by botocore's own serializer for the service's protocol, which also says which wire key is
which shape. Then one to three mutations are applied on the wire: a value wrong for its
type, huge / empty / non-ASCII / control-character text, out-of-range numbers, bad enums
and ids, a value of the right type a handler must judge (boundaries, another enum,
an id of another kind or account), a required member dropped, unknown members, malformed list indices
(`Filter.x.Name`), duplicated parameters, deep lists, a scalar where a structure belongs,
invalid UTF-8. One request in ten is sent unmutated. Instance counts above 10 are sent as
10 (see `MAX_COUNT`); with `--dataplane`, RunInstances is pinned to one instance and no
request carries user data. Requests are signed with botocore's
SigV4Auth, form-encoded, to Host 127.0.0.1:port, without Origin.

Every response must have a status below 500 and parse with botocore's response parser for
its protocol: an error with a Code and a request id, or the operation's output. Afterwards
`PRAGMA integrity_check` runs on the state database, the server must still answer, the log
must hold no traceback, and after a restart every Describe operation of both accounts must
parse. The random choices follow the seed; resource ids the server makes are random, so
two runs send the same mutations to different ids.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime as dt
import http.client
import json
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import boto3
import botocore.auth
import botocore.credentials
import botocore.exceptions
import botocore.parsers
import botocore.serialize
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.model import OperationModel, Shape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import vpclab.control  # noqa: E402,F401  (registers every operation handler)
from vpclab.protocol import models  # noqa: E402
from vpclab.protocol.dispatch import implemented  # noqa: E402

from tests.helpers.server import ServerProcess, free_port  # noqa: E402  (the tests' own starter)

REGION = "ap-south-1"
ACCOUNTS = ("111111111111", "222222222222")
SIGNING = {"ec2": "ec2", "elbv2": "elasticloadbalancing", "sts": "sts"}
SERVICES = ("ec2", "elbv2", "sts")


# Serializing with botocore, remembering which wire key is which shape ------------------
class _Recording:
    """Mixed into botocore's serializers: records the shape of every scalar wire key."""

    def __init__(self):
        super().__init__()
        self.shapes: dict[str, Shape] = {}

    def _serialize(self, serialized, value, shape, prefix=""):
        if shape.type_name not in ("structure", "list", "map"):
            self.shapes[prefix] = shape
        super()._serialize(serialized, value, shape, prefix)


class _Ec2(_Recording, botocore.serialize.EC2Serializer):
    pass


class _Query(_Recording, botocore.serialize.QuerySerializer):
    pass


def wire(protocol: str, op: OperationModel, params: dict) -> tuple[list[tuple[str, str]], dict[str, Shape]]:
    """(form pairs, wire key -> scalar shape) of `params`, as botocore sends them."""
    serializer = _Ec2() if protocol == "ec2" else _Query()
    body = serializer.serialize_to_request(params, op)["body"]
    pairs = [(k, v if isinstance(v, str) else str(v)) for k, v in body.items()]
    return pairs, serializer.shapes


# The world requests point at -------------------------------------------------------------
@dataclass
class Pool:
    """Ids and names that exist on the server, refreshed from Describe calls."""

    values: dict[str, list[str]] = field(default_factory=dict)

    def pick(self, rng: random.Random, kind: str) -> str | None:
        found = self.values.get(kind)
        return rng.choice(found) if found else None


def _clients(url: str, account: str):
    def make(service):
        return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id=account,
                            aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}))
    return make("ec2"), make("elbv2")


def build_world(url: str, suffix: str = "") -> list[str]:
    """Resources for requests to name; returns what could not be made (printed, not fatal).
    `suffix` makes the names of a rebuild differ from those still standing."""
    failed: list[str] = []

    def attempt(what, fn):
        try:
            return fn()
        except Exception as err:  # a world step the server refuses is reported, not fatal
            failed.append(f"{what}: {err}")
            return None

    ec2, elb = _clients(url, ACCOUNTS[0])
    ec2_2, _ = _clients(url, ACCOUNTS[1])
    vpc = attempt("default vpc", lambda: ec2.describe_vpcs(
        Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"])
    subnets = attempt("default subnets", lambda: [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]) or []
    extra = attempt("vpc", lambda: ec2.create_vpc(CidrBlock="10.90.0.0/16")["Vpc"]["VpcId"])
    if extra:
        attempt("subnet", lambda: ec2.create_subnet(VpcId=extra, CidrBlock="10.90.1.0/24"))
    gid = attempt("group", lambda: ec2.create_security_group(
        GroupName=f"fuzz-web{suffix}", Description="fuzz", VpcId=vpc)["GroupId"])
    if gid:
        attempt("ingress", lambda: ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]))
    attempt("key pair", lambda: ec2.create_key_pair(KeyName=f"fuzz-key{suffix}"))
    image = attempt("image", lambda: ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"])
    if image and subnets:
        attempt("instance", lambda: ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1,
                                                      MaxCount=1, SubnetId=subnets[0]))
    tg = attempt("target group", lambda: elb.create_target_group(
        Name=f"fuzz-tg{suffix}", Protocol="TCP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"])
    lb = attempt("nlb", lambda: elb.create_load_balancer(
        Name=f"fuzz-nlb{suffix}", Type="network", Subnets=subnets[:2])["LoadBalancers"][0]["LoadBalancerArn"])
    if lb and tg:
        attempt("listener", lambda: elb.create_listener(
            LoadBalancerArn=lb, Protocol="TCP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}]))
    if lb:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = elb.describe_load_balancers(LoadBalancerArns=[lb])["LoadBalancers"][0]["State"]["Code"]
            if state == "active":
                break
            time.sleep(0.2)
        svc = attempt("endpoint service", lambda: ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[lb], AcceptanceRequired=True)["ServiceConfiguration"])
        if svc:
            attempt("permissions", lambda: ec2.modify_vpc_endpoint_service_permissions(
                ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNTS[1]}:root"]))
            vpc_2 = attempt("vpc 2", lambda: ec2_2.describe_vpcs(
                Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"])
            subnets_2 = attempt("subnets 2", lambda: [s["SubnetId"] for s in ec2_2.describe_subnets(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]) or []
            if vpc_2:
                attempt("endpoint", lambda: ec2_2.create_vpc_endpoint(
                    VpcEndpointType="Interface", VpcId=vpc_2, ServiceName=svc["ServiceName"],
                    SubnetIds=subnets_2[:1]))
            attempt("notification", lambda: ec2.create_vpc_endpoint_connection_notification(
                ServiceId=svc["ServiceId"], ConnectionNotificationArn="arn:aws:sns:ap-south-1:111111111111:t",
                ConnectionEvents=["Accept"]))
    return failed


#: What `build_world` makes that requests most need; a refresh rebuilds when one is gone.
WORLD_KINDS = ("sg", "instance", "lb", "tg", "listener", "service-id", "endpoint", "key-name")


def refresh_pool(url: str) -> Pool:
    """What exists now, for both accounts (failures leave a kind empty)."""
    pool: dict[str, list[str]] = collections.defaultdict(list)
    for account in ACCOUNTS:
        ec2, elb = _clients(url, account)
        calls = [
            ("vpc", lambda: [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]),
            ("vpc-cidr", lambda: [f"{v['VpcId']}|{v['CidrBlock']}" for v in ec2.describe_vpcs()["Vpcs"]]),
            ("subnet", lambda: [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]]),
            ("sg", lambda: [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]),
            ("sg-name", lambda: [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]),
            ("sgr", lambda: [r["SecurityGroupRuleId"]
                             for r in ec2.describe_security_group_rules()["SecurityGroupRules"]]),
            ("instance", lambda: [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                                  for i in r["Instances"]]),
            ("eni", lambda: [e["NetworkInterfaceId"]
                             for e in ec2.describe_network_interfaces()["NetworkInterfaces"]]),
            ("key-name", lambda: [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]]),
            ("key-id", lambda: [k["KeyPairId"] for k in ec2.describe_key_pairs()["KeyPairs"]]),
            ("image", lambda: [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]][:3]),
            ("service-id", lambda: [s["ServiceId"] for s in
                                    ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]]),
            ("service-name", lambda: [s["ServiceName"] for s in
                                      ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]]),
            ("endpoint", lambda: [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]]),
            ("notification", lambda: [n["ConnectionNotificationId"] for n in
                                      ec2.describe_vpc_endpoint_connection_notifications()
                                      ["ConnectionNotificationSet"]]),
            ("lb", lambda: [lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]]),
            ("tg", lambda: [t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]]),
        ]
        for kind, fn in calls:
            try:
                pool[kind] += fn()
            except Exception:  # a kind the server cannot list stays empty
                pass
        for lb in list(pool["lb"]):
            try:
                pool["listener"] += [x["ListenerArn"] for x in elb.describe_listeners(LoadBalancerArn=lb)["Listeners"]]
            except Exception:
                pass
    pool["arn"] = pool["lb"] + pool["tg"] + pool["listener"]
    pool["ec2-id"] = pool["vpc"] + pool["subnet"] + pool["sg"] + pool["instance"] + pool["endpoint"]
    return Pool(dict(pool))


# Valid inputs from the model -------------------------------------------------------------
#: Member name -> pool kind, for strings (and lists of strings) that name a resource.
ID_MEMBERS = {
    "VpcId": "vpc", "VpcIds": "vpc", "SubnetId": "subnet", "SubnetIds": "subnet", "Subnets": "subnet",
    "GroupId": "sg", "GroupIds": "sg", "SecurityGroupIds": "sg", "SecurityGroups": "sg",
    "GroupName": "sg-name", "GroupNames": "sg-name", "SecurityGroupRuleId": "sgr",
    "SecurityGroupRuleIds": "sgr", "InstanceId": "instance", "InstanceIds": "instance",
    "NetworkInterfaceId": "eni", "NetworkInterfaceIds": "eni", "KeyName": "key-name",
    "KeyNames": "key-name", "KeyPairId": "key-id", "KeyPairIds": "key-id", "ImageId": "image",
    "ImageIds": "image", "ServiceId": "service-id", "ServiceIds": "service-id",
    "ServiceName": "service-name", "ServiceNames": "service-name", "VpcEndpointId": "endpoint",
    "VpcEndpointIds": "endpoint", "ConnectionNotificationId": "notification",
    "ConnectionNotificationIds": "notification", "LoadBalancerArn": "lb", "LoadBalancerArns": "lb",
    "NetworkLoadBalancerArns": "lb", "TargetGroupArn": "tg", "TargetGroupArns": "tg",
    "ListenerArn": "listener", "ListenerArns": "listener", "ResourceArns": "arn", "Resources": "ec2-id",
    "ResourceId": "ec2-id",
}
PLAIN = {
    "CidrBlock": ["10.0.0.0/16", "10.90.2.0/24", "172.31.200.0/24"], "CidrIp": ["0.0.0.0/0", "10.0.0.0/8"],
    "CidrIpv4": ["0.0.0.0/0"], "AvailabilityZone": ["ap-south-1a", "ap-south-1b"],
    "InstanceType": ["t3.micro", "m1.small"], "IpProtocol": ["tcp", "udp", "icmp", "-1"],
    "Protocol": ["TCP", "UDP"], "Name": ["fuzz-x", "vpc-id", "tag:Name", "state"],
    "Key": ["Name", "env"], "Value": ["web", ""], "Description": ["fuzz"],
    "AllowedPrincipals": [f"arn:aws:iam::{ACCOUNTS[1]}:root"],
    "AddAllowedPrincipals": [f"arn:aws:iam::{ACCOUNTS[1]}:root"],
    "RemoveAllowedPrincipals": [f"arn:aws:iam::{ACCOUNTS[1]}:root"],
    "ConnectionNotificationArn": ["arn:aws:sns:ap-south-1:111111111111:topic"],
    "PublicKeyMaterial": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBz7Yw1qKf2M3t8nq0yB3w4m1u7L0fXo2g6r9k3p5sQd"],
}


def _recipes() -> dict[str, "Callable[[Inputs], dict]"]:
    """Valid inputs for operations whose shape alone rarely gives an accepted request (rules
    between members: a permission needs a protocol and ports, a subnet a CIDR inside its
    VPC). Member names are checked by botocore's serializer, which raises on a wrong one."""

    def permissions(i: "Inputs") -> list[dict]:
        port = i.rng.choice((22, 80, 443, i.rng.randint(1, 65535)))
        peer = ({"IpRanges": [{"CidrIp": i.rng.choice(PLAIN["CidrIp"]), "Description": "fuzz"}]}
                if i.rng.random() < 0.7 else {"UserIdGroupPairs": [{"GroupId": i.id("sg")}]})
        return [{"IpProtocol": i.rng.choice(("tcp", "udp")), "FromPort": port, "ToPort": port, **peer}]

    def subnet_cidr(i: "Inputs") -> dict:
        vpc, _, cidr = (i.id("vpc-cidr") or "||").partition("|")
        base = cidr.split(".")[:2] or ["10", "90"]
        return {"VpcId": vpc, "CidrBlock": f"{'.'.join(base)}.{i.rng.randrange(64, 255)}.0/24"}

    rules = lambda i: {"GroupId": i.id("sg"), "IpPermissions": permissions(i)}  # noqa: E731
    descriptions = lambda i: {"GroupId": i.id("sg"), "SecurityGroupRuleDescriptions": [  # noqa: E731
        {"SecurityGroupRuleId": i.id("sgr"), "Description": "fuzz"}]}
    name = lambda i: f"fz-{i.rng.randrange(10**6)}"  # noqa: E731
    listener_attrs = [("tcp.idle_timeout.seconds", "350")]
    lb_attrs = [("load_balancing.cross_zone.enabled", "true"), ("deletion_protection.enabled", "false")]
    tg_attrs = [("deregistration_delay.timeout_seconds", "10"), ("proxy_protocol_v2.enabled", "true")]

    def attrs(i: "Inputs", pairs) -> list[dict]:
        key, value = i.rng.choice(pairs)
        return [{"Key": key, "Value": value}]

    return {
        "ec2:AuthorizeSecurityGroupIngress": rules, "ec2:AuthorizeSecurityGroupEgress": rules,
        "ec2:RevokeSecurityGroupIngress": rules, "ec2:RevokeSecurityGroupEgress": rules,
        "ec2:UpdateSecurityGroupRuleDescriptionsIngress": descriptions,
        "ec2:UpdateSecurityGroupRuleDescriptionsEgress": descriptions,
        "ec2:ModifySecurityGroupRules": lambda i: {"GroupId": i.id("sg"), "SecurityGroupRules": [{
            "SecurityGroupRuleId": i.id("sgr"), "SecurityGroupRule": {
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv4": "10.0.0.0/8"}}]},
        "ec2:CreateSubnet": subnet_cidr,
        "ec2:CreateVpc": lambda i: {"CidrBlock": f"10.{i.rng.randrange(100, 255)}.0.0/16"},
        "ec2:DeleteVpc": lambda i: {"VpcId": i.id("vpc")},
        "ec2:CreateNetworkInterface": lambda i: {"SubnetId": i.id("subnet")},
        "ec2:DeleteNetworkInterface": lambda i: {"NetworkInterfaceId": i.id("eni")},
        "ec2:RunInstances": lambda i: {"ImageId": i.id("image"), "InstanceType": "t3.micro", "MinCount": 1,
                                       "MaxCount": 1, "SubnetId": i.id("subnet")},
        "ec2:StartInstances": lambda i: {"InstanceIds": [i.id("instance")]},
        "ec2:ModifyInstanceAttribute": lambda i: i.rng.choice((
            {"InstanceId": i.id("instance"), "DisableApiTermination": {"Value": i.rng.random() < 0.5}},
            {"InstanceId": i.id("instance"), "InstanceType": {"Value": "t3.small"}},
            {"InstanceId": i.id("instance"), "Groups": [i.id("sg")]})),
        "ec2:CreateVpcEndpoint": lambda i: {"VpcEndpointType": "Interface", "VpcId": i.id("vpc"),
                                            "ServiceName": i.id("service-name"), "SubnetIds": [i.id("subnet")]},
        "ec2:ModifyVpcEndpoint": lambda i: i.rng.choice((
            {"VpcEndpointId": i.id("endpoint"), "AddSubnetIds": [i.id("subnet")]},
            {"VpcEndpointId": i.id("endpoint"), "PrivateDnsEnabled": i.rng.random() < 0.5},
            {"VpcEndpointId": i.id("endpoint"), "AddSecurityGroupIds": [i.id("sg")]})),
        "ec2:CreateVpcEndpointServiceConfiguration": lambda i: {
            "NetworkLoadBalancerArns": [i.id("lb")], "AcceptanceRequired": i.rng.random() < 0.5},
        "ec2:ModifyVpcEndpointServiceConfiguration": lambda i: {
            "ServiceId": i.id("service-id"), "AcceptanceRequired": i.rng.random() < 0.5},
        "ec2:StartVpcEndpointServicePrivateDnsVerification": lambda i: {"ServiceId": i.id("service-id")},
        "ec2:CreateVpcEndpointConnectionNotification": lambda i: {
            "ServiceId": i.id("service-id"), "ConnectionNotificationArn": PLAIN["ConnectionNotificationArn"][0],
            "ConnectionEvents": ["Accept", "Reject"]},
        "elbv2:CreateLoadBalancer": lambda i: {"Name": name(i), "Type": "network", "Subnets": [i.id("subnet")]},
        "elbv2:CreateTargetGroup": lambda i: {"Name": name(i), "Protocol": "TCP", "Port": 80, "VpcId": i.id("vpc")},
        "elbv2:CreateListener": lambda i: {
            "LoadBalancerArn": i.id("lb"), "Protocol": "TCP", "Port": i.rng.randint(1, 65535),
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": i.id("tg")}]},
        "elbv2:DeleteListener": lambda i: {"ListenerArn": i.id("listener")},
        "elbv2:ModifyListener": lambda i: {"ListenerArn": i.id("listener"), "Port": i.rng.randint(1, 65535)},
        "elbv2:DescribeListenerAttributes": lambda i: {"ListenerArn": i.id("listener")},
        "elbv2:ModifyListenerAttributes": lambda i: {"ListenerArn": i.id("listener"),
                                                     "Attributes": attrs(i, listener_attrs)},
        "elbv2:ModifyLoadBalancerAttributes": lambda i: {"LoadBalancerArn": i.id("lb"),
                                                         "Attributes": attrs(i, lb_attrs)},
        "elbv2:ModifyTargetGroupAttributes": lambda i: {"TargetGroupArn": i.id("tg"),
                                                        "Attributes": attrs(i, tg_attrs)},
        "elbv2:RegisterTargets": lambda i: {"TargetGroupArn": i.id("tg"), "Targets": [{"Id": i.id("instance")}]},
        "elbv2:DeregisterTargets": lambda i: {"TargetGroupArn": i.id("tg"), "Targets": [{"Id": i.id("instance")}]},
        "elbv2:SetSecurityGroups": lambda i: {"LoadBalancerArn": i.id("lb"), "SecurityGroups": [i.id("sg")]},
        "elbv2:SetSubnets": lambda i: {"LoadBalancerArn": i.id("lb"), "Subnets": [i.id("subnet"), i.id("subnet")]},
    }


class Inputs:
    """A valid-looking input dict for an operation, from its shape and the world."""

    RECIPES: dict = {}

    def __init__(self, rng: random.Random, pool: Pool, optional: float = 0.3):
        self.rng = rng
        self.pool = pool
        self.optional = optional  # how often an optional member is set

    def id(self, kind: str) -> str:
        return self.pool.pick(self.rng, kind) or f"{kind}-0123456789abcdef0"

    def for_operation(self, service: str, op: OperationModel) -> dict:
        """A recipe's input (where there is one, six times in ten), else one from the shape:
        half the time the required members alone, else with some optional ones."""
        if op.input_shape is None:
            return {}
        recipe = self.RECIPES.get(f"{service}:{op.name}")
        if recipe is not None and self.rng.random() < 0.6:
            return recipe(self)
        self.optional = 0.0 if self.rng.random() < 0.5 else 0.3
        return self.structure(op.input_shape)

    def structure(self, shape: Shape, depth: int = 0) -> dict:
        out = {}
        for name, member in shape.members.items():
            if name == "DryRun":
                continue
            required = name in shape.required_members
            if required or (depth < 4 and self.rng.random() < self.optional):
                out[name] = self.value(member, name, depth + 1)
        return out

    def value(self, shape: Shape, name: str, depth: int):
        kind = shape.type_name
        if kind == "structure":
            return self.structure(shape, depth)
        if kind == "list":
            return [self.value(shape.member, name, depth + 1) for _ in range(self.rng.choice((1, 1, 2)))]
        if kind == "map":
            return {"k": self.value(shape.value, name, depth + 1)}
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind in ("integer", "long"):
            lo, hi = int(shape.metadata.get("min", 1)), int(shape.metadata.get("max", 1000))
            if "Port" in name:
                lo, hi = 80, 80
            return self.rng.randint(lo, max(lo, min(hi, 1000)))
        if kind in ("float", "double"):
            return 1.5
        if kind == "timestamp":
            return dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
        if kind == "blob":
            return PLAIN["PublicKeyMaterial"][0].encode()
        return self.string(shape, name)

    def string(self, shape: Shape, name: str) -> str:
        if getattr(shape, "enum", None):
            return self.rng.choice(shape.enum)
        if name in ID_MEMBERS:
            found = self.pool.pick(self.rng, ID_MEMBERS[name])
            if found is not None:
                return found
        if name in PLAIN:
            return self.rng.choice(PLAIN[name])
        return f"fuzz-{self.rng.randrange(10**6)}"


Inputs.RECIPES = _recipes()


# Mutations on the wire -----------------------------------------------------------------
CONTROL = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\x7f"
TEXTS = [
    "", " ", "   leading", "trailing   ", "\t", "\n", "ünïcödé", "😀" * 10, "\u202eevil", "a\u0301" * 20,
    "x" * 256, "x" * 4097, "x" * 70000, "<xml attr='1'>&amp;</xml>", "]]>", "' OR '1'='1", "%s%n%x",
    "${jndi:ldap://x}", "../../etc/passwd", "\\", "null", "None", "undefined", "0", "-1", "true",
    "a\x00b", "\x01\x02\x1b[31m", "bell\x07", "cr\rlf\n", "\ufffe\uffff", "\U0010ffff", "𝔘𝔫𝔦",
]
NUMBERS = ["abc", "", "1.5", "-1", "0", "2147483648", "-2147483649", "9223372036854775808",
           "-9223372036854775809", "9" * 40, "1e3", " 5", "5 ", "0x10", "١٢", "+7", "NaN", "Infinity", "--1"]
BOOLEANS = ["maybe", "TRUE", "True", "1", "0", "", "yes", "false ", "t"]
TIMESTAMPS = ["2020-13-45", "1e300", "-1e300", "nan", "yesterday", "", "2024-02-30T00:00:00Z",
              "99999999999999999999", "2024-01-01T25:61:61"]
IDS = ["vpc-", "vpc-zzzzzzzz", "vpc-0123456789abcdef0123", "sg-ffffffffffffffff0", "subnet-12345678",
       "i-../../x", "vpce-svc-", "eni-00000000", "sgr-0", "key-", "vpc-12345678", "i-ffffffffffffffff0",
       "arn:aws:elasticloadbalancing:ap-south-1:111111111111:loadbalancer/net/x/0123456789abcdef",
       "arn:aws:elasticloadbalancing:ap-south-1:111111111111:targetgroup/x",
       "arn:aws:elasticloadbalancing:ap-south-1:111111111111:listener/net/a/b/c",
       "arn:", "arn:aws:elasticloadbalancing", "com.amazonaws.vpce.ap-south-1.vpce-svc-00000000000000000"]
CIDRS = ["10.0.0.0/33", "300.1.1.1/16", "::/0", "10.0.0.0", "10.0.0.0/-1", "10.0.0.1/16", "0.0.0.0/0",
         "10.0.0.0/28", "10.0.0.0/8", "fe80::/64", "10.0.0.0/16/16", "1.2.3.4/32"]


@dataclass
class Request:
    service: str
    operation: str
    pairs: list[tuple[str, str]]
    raw_tail: bytes = b""
    account: str = ACCOUNTS[0]
    region: str = REGION
    mutations: list[str] = field(default_factory=list)
    # Header changes made after signing (None removes the header): what the request
    # guard must refuse with an AWS error.
    headers: dict[str, str | None] = field(default_factory=dict)

    def body(self) -> bytes:
        return urllib.parse.urlencode(self.pairs).encode() + self.raw_tail


class Mutator:
    def __init__(self, rng: random.Random, pool: "Pool"):
        self.rng = rng
        self.pool = pool

    def bad_value(self, shape: Shape | None, key: str) -> str:
        rng = self.rng
        kind = shape.type_name if shape is not None else "string"
        leaf = key.rsplit(".", 1)[-1]
        choices: list[str] = list(TEXTS)
        if kind in ("integer", "long", "float", "double"):
            choices = NUMBERS + ["65536", "70000", "-2", "4096"]
        elif kind == "boolean":
            choices = BOOLEANS
        elif kind == "timestamp":
            choices = TIMESTAMPS
        elif shape is not None and getattr(shape, "enum", None):
            choices = ["notanenum", shape.enum[0].upper(), shape.enum[0].lower() + " ", "", "*"] + TEXTS[:8]
        elif "Cidr" in leaf:
            choices = CIDRS + TEXTS[:6]
        elif leaf.endswith(("Id", "Arn", "Name")) or leaf[:-2].endswith(("Id", "Arn")) or "." in key:
            choices = IDS + TEXTS
        value = rng.choice(choices)
        if rng.random() < 0.05:
            value += rng.choice(CONTROL)
        return value

    def odd_value(self, shape: Shape | None, key: str, pool: "Pool") -> str:
        """A value of the right type that a handler must still judge: boundaries, another
        valid enum, an id of another kind or account, an empty string."""
        rng = self.rng
        kind = shape.type_name if shape is not None else "string"
        if kind in ("integer", "long"):
            return rng.choice(["0", "-1", "1", "65535", "65536", "2147483647", "9223372036854775807",
                               "-9223372036854775808", "1000000", "255", "256", "-2"])
        if kind in ("float", "double"):
            return rng.choice(["0", "-0.0", "1e308", "NaN", "Infinity", "-Infinity"])
        if kind == "boolean":
            return rng.choice(["true", "false"])
        if kind == "timestamp":
            return rng.choice(["0", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-01-01"])
        if shape is not None and getattr(shape, "enum", None):
            return rng.choice(shape.enum)
        kinds = [k for k, v in pool.values.items() if v]
        if kinds and rng.random() < 0.8:
            return pool.pick(rng, rng.choice(kinds))
        return rng.choice(["", "*", "default", "true", "0"])

    def mutate(self, req: Request, shapes: dict[str, Shape], op: OperationModel | None) -> None:
        for _ in range(self.rng.choice((1, 1, 1, 2, 3))):
            name = self.rng.choice(MUTATIONS)
            getattr(self, name)(req, shapes, op)
            req.mutations.append(name)

    # each: (request, wire key -> shape, operation) -> None, mutating req.pairs
    def _member_keys(self, req: Request) -> list[int]:
        return [i for i, (k, _) in enumerate(req.pairs) if k not in ("Action", "Version")]

    def wrong_value(self, req, shapes, op):
        keys = self._member_keys(req)
        if not keys:
            return self.unknown_member(req, shapes, op)
        i = self.rng.choice(keys)
        key = req.pairs[i][0]
        req.pairs[i] = (key, self.bad_value(shapes.get(key), key))

    def typed_value(self, req, shapes, op):
        keys = self._member_keys(req)
        if not keys:
            return self.unknown_member(req, shapes, op)
        i = self.rng.choice(keys)
        key = req.pairs[i][0]
        req.pairs[i] = (key, self.odd_value(shapes.get(key), key, self.pool))

    def every_value(self, req, shapes, op):
        for i in self._member_keys(req):
            key = req.pairs[i][0]
            req.pairs[i] = (key, self.bad_value(shapes.get(key), key))

    def drop_required(self, req, shapes, op):
        shape = op.input_shape if op is not None else None
        if shape is None or not shape.required_members:
            return self.drop_any(req, shapes, op)
        member = self.rng.choice(shape.required_members)
        wire_name = _wire_name(req.service, shape.members[member], member)
        req.pairs = [(k, v) for k, v in req.pairs if k.split(".", 1)[0] != wire_name]

    def drop_any(self, req, shapes, op):
        keys = self._member_keys(req)
        if keys:
            del req.pairs[self.rng.choice(keys)]

    def unknown_member(self, req, shapes, op):
        key = self.rng.choice(["Bogus", "Filter.1.Bogus", "TagSpecification.1.Tag.1.Bogus", "X-Amz-Foo",
                               "Tag.1.Key.1", "Action.1", "dryRun", "Version.Extra", ".", "..", "=",
                               "\u00e9t\u00e9", "\x00", "k" * 5000])
        req.pairs.append((key, self.rng.choice(TEXTS[:10])))

    def bad_index(self, req, shapes, op):
        listed = [i for i, (k, _) in enumerate(req.pairs) if any(p.isdigit() for p in k.split("."))]
        if not listed:
            return self.unknown_member(req, shapes, op)
        i = self.rng.choice(listed)
        key, value = req.pairs[i]
        parts = key.split(".")
        j = self.rng.choice([n for n, p in enumerate(parts) if p.isdigit()])
        parts[j] = self.rng.choice(["x", "0", "-1", "", "99999999999999999999", "1e3", " 1", "١", "01",
                                    "4294967297", "1.5"])
        req.pairs[i] = (".".join(parts), value)

    def duplicate(self, req, shapes, op):
        keys = self._member_keys(req) or [0]
        key, value = req.pairs[self.rng.choice(keys)]
        req.pairs.append((key, self.bad_value(shapes.get(key), key) if self.rng.random() < 0.5 else value))

    def deep_list(self, req, shapes, op):
        listed = [k for k, _ in req.pairs if k.endswith(".1")]
        if not listed:
            return self.unknown_member(req, shapes, op)
        key = self.rng.choice(listed)
        stem = key[:-2]
        value = dict(req.pairs)[key][:40]  # long lists, not a body over the 16 MiB limit
        n = self.rng.choice((60, 200, 1001, 5000))
        req.pairs += [(f"{stem}.{i}", value) for i in range(2, n + 1)]

    def scalar_for_structure(self, req, shapes, op):
        shape = op.input_shape if op is not None else None
        nested = [n for n, m in (shape.members.items() if shape else ()) if m.type_name in ("structure", "list")]
        if not nested:
            return self.unknown_member(req, shapes, op)
        member_name = self.rng.choice(nested)
        member = shape.members[member_name]
        name = _wire_name(req.service, member, member_name)
        req.pairs.append((name, self.rng.choice(["abc", "", "1"])))
        if member.type_name == "list":
            req.pairs.append((f"{name}.1", "abc"))

    def empty_list(self, req, shapes, op):
        listed = [k.rsplit(".", 1)[0] for k, _ in req.pairs if k.endswith(".1")]
        if not listed:
            return self.unknown_member(req, shapes, op)
        req.pairs.append((self.rng.choice(listed), ""))

    def invalid_utf8(self, req, shapes, op):
        keys = self._member_keys(req)
        key = req.pairs[self.rng.choice(keys)][0] if keys else "Bogus"
        junk = self.rng.choice([b"%ff%fe", b"%ED%A0%80", b"%C3%28", b"%E0%A4%A", b"\xff\xfe", b"%00", b"%", b"%zz"])
        req.raw_tail += b"&" + urllib.parse.quote(key).encode() + b"=" + junk

    def wrong_version(self, req, shapes, op):
        req.pairs = [(k, v) for k, v in req.pairs if k != "Version"]
        if self.rng.random() < 0.5:
            req.pairs.append(("Version", self.rng.choice(["1999-01-01", "", "x"])))

    def other_region(self, req, shapes, op):
        req.region = self.rng.choice(["us-east-1", "mars-north-9", "eu-west-1"])

    def other_account(self, req, shapes, op):
        req.account = self.rng.choice([ACCOUNTS[1], "AKIAFUZZ", "000000000000", "1" * 13])

    def transport(self, req, shapes, op):
        """What no SDK sends: a browser's headers, a foreign Host, another media type, a
        false Content-Encoding, a missing or broken signature."""
        name, value = self.rng.choice([
            ("Content-Type", "text/plain"), ("Content-Type", "application/json"), ("Content-Type", None),
            ("Content-Encoding", "gzip"), ("Content-Encoding", "br"), ("Origin", "http://evil.example"),
            ("Sec-Fetch-Site", "cross-site"), ("Host", "evil.example"), ("Authorization", None),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=x"), ("Authorization", "Bearer x"),
            ("X-Amz-Date", None), ("X-Amz-Date", "yesterday"),
        ])
        req.headers[name] = value


MUTATIONS = (["wrong_value"] * 8 + ["typed_value"] * 8 + ["every_value"] * 2 + ["drop_required"] * 3 + ["drop_any"] * 2
             + ["unknown_member"] * 2 + ["bad_index"] * 3 + ["duplicate"] * 3 + ["deep_list"]
             + ["scalar_for_structure"] * 2 + ["empty_list"] + ["invalid_utf8"] * 2 + ["wrong_version"]
             + ["other_region"] + ["other_account"] * 2 + ["transport"] * 2)


def _wire_name(service: str, member: Shape, default: str) -> str:
    """A member's wire name as botocore spells it (`default` is its name in the parent)."""
    if service == "ec2":
        if "queryName" in member.serialization:
            return member.serialization["queryName"]
        name = member.serialization.get("name")
        return name[0].upper() + name[1:] if name else default
    return member.serialization.get("name", default)


# Sending and checking ------------------------------------------------------------------
@dataclass
class Report:
    sent: int = 0
    statuses: collections.Counter = field(default_factory=collections.Counter)
    codes: collections.Counter = field(default_factory=collections.Counter)
    succeeded: collections.Counter = field(default_factory=collections.Counter)
    server_errors: int = 0
    unparseable: int = 0
    transport_sent: int = 0
    transport_accepted: int = 0  # requests no SDK sends that the guard let through
    covered: set = field(default_factory=set)
    operations: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    integrity: str = ""
    alive: bool = False
    tracebacks: int = 0
    log_lines: int = 0
    stored: dict = field(default_factory=dict)
    describe_after_restart: str = ""
    log_excerpt: str = ""
    world_failures: list[str] = field(default_factory=list)

    def add(self, other: "Report") -> None:
        """Fold in the request figures of another client's run."""
        self.sent += other.sent
        self.statuses.update(other.statuses)
        self.codes.update(other.codes)
        self.succeeded.update(other.succeeded)
        self.server_errors += other.server_errors
        self.unparseable += other.unparseable
        self.transport_sent += other.transport_sent
        self.transport_accepted += other.transport_accepted
        self.covered |= other.covered
        self.operations = other.operations
        self.failures += other.failures[:50 - len(self.failures)]

    @property
    def ok(self) -> bool:
        return (self.server_errors == 0 and self.unparseable == 0 and self.transport_accepted == 0
                and self.integrity == "ok"
                and self.alive and self.tracebacks == 0 and self.describe_after_restart in ("", "ok"))

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items()))
        out = [
            f"requests sent:        {self.sent}",
            f"per status:           {statuses}",
            "error codes (top 12): " + ", ".join(f"{c} {n}" for c, n in self.codes.most_common(12)),
            f"distinct error codes: {len(self.codes)}",
            f"5xx responses:        {self.server_errors}",
            f"unparseable:          {self.unparseable}",
            f"transport mutations:  {self.transport_sent} sent, {self.transport_accepted} accepted (must be 0)",
            f"operations covered:   {len(self.covered)} of {self.operations}",
            f"operations with a 2xx answer: {len(self.succeeded)}; never: "
            + (", ".join(sorted(self.covered - set(self.succeeded))) or "none"),
            f"seconds:              {self.seconds:.1f} ({self.sent / max(self.seconds, 1e-9):.0f} requests/s)",
            f"integrity_check:      {self.integrity}",
            f"server still answers: {'yes' if self.alive else 'NO'}",
            f"resources stored:     {sum(self.stored.values())} ("
            + ", ".join(f"{k} {n}" for k, n in self.stored.items()) + ")",
            f"tracebacks in log:    {self.tracebacks}",
            f"server log lines:     {self.log_lines}",
        ]
        if self.describe_after_restart:
            out.append(f"describe after restart: {self.describe_after_restart}")
        if self.world_failures:
            out.append(f"world set-up steps refused: {len(self.world_failures)}: " + "; ".join(self.world_failures)[:600])
        out += [f"  FAIL {f}" for f in self.failures[:20]]
        if self.log_excerpt:
            out.append("first traceback in the server log:\n" + self.log_excerpt)
        return out


class Client:
    """One keep-alive HTTP connection; requests signed with botocore's SigV4Auth."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, req: Request) -> tuple[int, dict, bytes]:
        url = f"http://127.0.0.1:{self.port}/"
        body = req.body()
        aws = AWSRequest(method="POST", url=url, data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        creds = botocore.credentials.Credentials(req.account, "test")
        botocore.auth.SigV4Auth(creds, SIGNING[req.service], req.region).add_auth(aws)
        headers = {k: v for k, v in aws.headers.items()}
        headers["Host"] = f"127.0.0.1:{self.port}"
        for name, value in req.headers.items():
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        for attempt in range(2):
            try:
                self.conn.request("POST", "/", body=body, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def check(service: str, op: OperationModel | None, status: int, headers: dict, body: bytes) -> str | None:
    """Why this response is not what an AWS SDK can read, or None."""
    if status >= 500:
        return f"status {status}"
    try:
        ET.fromstring(body)
    except ET.ParseError as err:
        return f"not well-formed XML ({err})"
    protocol = models.service(service).protocol
    try:
        parsed = botocore.parsers.create_parser(protocol).parse(
            {"body": body, "headers": headers, "status_code": status},
            op.output_shape if op is not None and status < 300 else None)
    except Exception as err:  # botocore's parser is the oracle: anything it raises is a finding
        return f"botocore cannot parse ({type(err).__name__}: {err})"
    if not parsed.get("ResponseMetadata", {}).get("RequestId"):
        return "no request id"
    if status >= 300 and not parsed.get("Error", {}).get("Code"):
        return "error without a Code"
    if status < 300 and "Error" in parsed:
        return "status 2xx with an Error"
    return None


def error_code(service: str, body: bytes) -> str:
    parsed = botocore.parsers.create_parser(models.service(service).protocol).parse(
        {"body": body, "headers": {}, "status_code": 400}, None)
    return parsed["Error"]["Code"]


def operations() -> list[tuple[str, str]]:
    return [(s, n) for s in SERVICES for n in implemented(s)]


#: RunInstances launches up to MaxCount instances while the subnet has addresses (one
#: MaxCount=100000 makes ~4,000, and every later Describe carries them), so a fuzzed count
#: above `MAX_COUNT` is sent as `MAX_COUNT`: malformed counts still go, huge ones do not.
MAX_COUNT = 10
COUNTS = ("MinCount", "MaxCount")
#: With the data plane on, instances are real: one instance per launch, and no user data
#: (random bytes run as a script are nobody's test).
DROPPED = ("UserData",)


def cap_counts(req: Request) -> None:
    def capped(value: str) -> str:
        return str(MAX_COUNT) if re.fullmatch(r" *[+-]?[0-9]+ *", value) and int(value) > MAX_COUNT else value
    req.pairs = [(k, capped(v) if k in COUNTS else v) for k, v in req.pairs]


def pin(req: Request) -> None:
    req.pairs = [(k, "1" if k in COUNTS else v) for k, v in req.pairs if k.split(".", 1)[0] not in DROPPED]
    if req.operation == "RunInstances":
        present = {k for k, _ in req.pairs}
        req.pairs += [(k, "1") for k in COUNTS if k not in present]


def fuzz(url: str, requests: int, seed: int, report: Report | None = None,
         refresh_every: int = 1000, dataplane: bool = False) -> Report:
    """Send `requests` malformed requests round-robin over every implemented operation."""
    rng = random.Random(seed)
    report = report or Report()
    ops = operations()
    rng.shuffle(ops)
    report.operations = len(ops)
    port = urllib.parse.urlsplit(url).port
    client = Client(port)
    pool = refresh_pool(url)
    mutator = Mutator(rng, pool)
    start = time.monotonic()
    for n in range(requests):
        if n and n % refresh_every == 0:
            pool = mutator.pool = refresh_pool(url)
            if not all(pool.values.get(k) for k in WORLD_KINDS):  # the fuzz deleted some of it
                build_world(url, suffix=f"-{n}")
                pool = mutator.pool = refresh_pool(url)
        service, name = ops[n % len(ops)]
        svc = models.service(service)
        op = svc.operation(name)
        params = Inputs(rng, pool).for_operation(service, op)
        try:
            pairs, shapes = wire(svc.protocol, op, params)
        except Exception as err:  # an input botocore cannot serialize is the fuzzer's own bug
            raise AssertionError(f"botocore refused the fuzzer's input for {name}: {params!r}") from err
        req = Request(service, name, pairs, account=ACCOUNTS[0] if rng.random() < 0.8 else ACCOUNTS[1])
        if rng.random() >= 0.1:
            mutator.mutate(req, shapes, op)
        cap_counts(req)
        if dataplane:
            pin(req)
        status, headers, body = client.send(req)
        report.sent += 1
        report.statuses[status] += 1
        report.covered.add(f"{service}:{name}")
        problem = check(service, op, status, headers, body)
        if problem is not None and req.headers and status >= 400 and status < 500:
            # A request whose signature and body are both unreadable (a broken Authorization
            # and a non-form body, or an action two services share without its Version)
            # says nothing of its service: either envelope is a fair answer, as long as
            # botocore reads a code and a request id from it.
            other = "elbv2" if models.service(service).protocol == "ec2" else "ec2"
            if check(other, None, status, headers, body) is None:
                problem = None
        if req.headers:
            report.transport_sent += 1
            if problem is None and status < 400:
                report.transport_accepted += 1
                problem = f"accepted a request no SDK sends ({req.headers})"
        if problem is None and status >= 300:
            report.codes[error_code(service, body)] += 1
        elif problem is None:
            report.succeeded[f"{service}:{name}"] += 1
        if problem is not None:
            if status >= 500:
                report.server_errors += 1
            elif status >= 400 or not req.headers:
                report.unparseable += 1
            if len(report.failures) < 50:
                report.failures.append(f"{service}:{name} {req.mutations} {problem}: "
                                       f"{req.body()[:300]!r} -> {body[:300]!r}")
    report.seconds += time.monotonic() - start
    return report


def integrity_check(state_dir: Path) -> tuple[str, dict[str, int]]:
    """SQLite's integrity check of the state database, and its resources by kind."""
    db = sqlite3.connect(f"file:{state_dir / 'state.db'}?mode=ro", uri=True)
    try:
        result = "; ".join(row[0] for row in db.execute("PRAGMA integrity_check"))
        kinds = dict(db.execute("SELECT kind, count(*) FROM resources GROUP BY kind ORDER BY 2 DESC"))
        return result, kinds
    finally:
        db.close()


def answers(url: str) -> bool:
    try:
        ec2, _ = _clients(url, ACCOUNTS[0])
        ec2.describe_vpcs()
        return True
    except Exception:
        return False


def describe_everything(url: str) -> str:
    """Every implemented Describe operation of both accounts, no arguments: 'ok' or what failed."""
    failed = []
    for account in ACCOUNTS:
        clients = dict(zip(("ec2", "elbv2"), _clients(url, account)))
        for service in ("ec2", "elbv2"):
            for name in implemented(service):
                op = models.service(service).operation(name)
                if not name.startswith("Describe") or (op.input_shape and op.input_shape.required_members):
                    continue
                try:
                    clients[service]._make_api_call(name, {})
                except botocore.exceptions.ClientError as err:  # an AWS error is an answer
                    if err.response["ResponseMetadata"]["HTTPStatusCode"] >= 500:
                        failed.append(f"{account} {name}: {err}")
                except Exception as err:  # a response botocore cannot read
                    failed.append(f"{account} {name}: {type(err).__name__}: {str(err)[:120]}")
    return "ok" if not failed else f"{len(failed)} failed: " + "; ".join(failed[:5])


# The server's log --------------------------------------------------------------------
def tracebacks(server: ServerProcess) -> tuple[int, int, str]:
    """How many tracebacks and lines the server's log holds, and the first traceback."""
    text = server.log()
    at = text.find("Traceback")
    excerpt = text[max(0, at - 300):at + 3000] if at >= 0 else ""
    return text.count("Traceback"), len(text.splitlines()), excerpt


def run(server: ServerProcess, requests: int, seed: int, restart: bool = True, clients: int = 1) -> Report:
    """Fuzz a started server (from `clients` connections at once, each with its own seed),
    then check the database, the server, its log and a restart."""
    report = Report()
    report.world_failures = build_world(server.url)
    if clients == 1:
        fuzz(server.url, requests, seed, report, dataplane=server.dataplane)
    else:
        parts = [Report() for _ in range(clients)]
        start = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            futures = [pool.submit(fuzz, server.url, requests // clients + (i < requests % clients),
                                   seed * 1000 + i, parts[i], dataplane=server.dataplane)
                       for i in range(clients)]
            for future in futures:
                future.result()
        for part in parts:
            report.add(part)
        report.seconds = time.monotonic() - start
    report.integrity, report.stored = integrity_check(server.state_dir)
    report.alive = answers(server.url)
    if restart:
        server.stop()
        server.start()
        report.describe_after_restart = describe_everything(server.url)
    report.tracebacks, report.log_lines, report.log_excerpt = tracebacks(server)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1, help="concurrent connections (default 1)")
    parser.add_argument("--dataplane", action="store_true", help="run the server with its data plane (root)")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    args = parser.parse_args(argv)
    state = Path(tempfile.mkdtemp(prefix="vpclab-fuzz-"))
    server = ServerProcess(state / "state", free_port(), dataplane=args.dataplane, cwd=ROOT, start_timeout=60)
    print(f"fuzzing {len(operations())} operations with {args.requests} requests (seed {args.seed}, "
          f"{args.clients} client{'s' if args.clients > 1 else ''}, "
          f"data plane {'on' if args.dataplane else 'off'}, state {server.state_dir})", flush=True)
    try:
        server.start()
        report = run(server, args.requests, args.seed, clients=args.clients)
        if args.dataplane:
            running = json.loads((server.state_dir / "server.json").read_text()).get("dataplane")
            print(f"data plane running: {'yes' if running else 'NO (see the server log)'}")
    finally:
        server.stop()
        if args.dataplane:
            from vpclab.commands.down import tear_down
            from vpclab.kernel import naming, netns

            tear_down(server.state_dir)
            left = netns.list_namespaces(naming.prefix_for_state_dir(server.state_dir))
            print(f"namespaces left after vpclab down: {len(left)}")
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
