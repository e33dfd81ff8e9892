"""NLB listeners and ELBv2 tags through real boto3."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.elbv2 import default_subnets, default_vpc, nlb, tcp_group, unique
from tests.helpers.errors import error_of

CERT = "arn:aws:acm:ap-south-1:111111111111:certificate/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def elb(shared_server):
    return shared_server.client("elbv2")


@pytest.fixture
def elb_2(shared_server):
    return shared_server.client("elbv2", ACCOUNT_2)


@pytest.fixture
def lab(shared_server):
    """An NLB on one default subnet and a TCP target group in the default VPC."""
    ec2 = shared_server.client("ec2")
    elb = shared_server.client("elbv2")
    vpc_id = default_vpc(ec2)
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    tg = tcp_group(elb, vpc_id)
    yield {"lb": lb["LoadBalancerArn"], "tg": tg["TargetGroupArn"], "vpc": vpc_id, "ec2": ec2}
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def forward(tg_arn: str) -> list[dict]:
    return [{"Type": "forward", "TargetGroupArn": tg_arn}]


def test_create_describe_delete(elb, lab):
    listener = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                                   DefaultActions=forward(lab["tg"]))["Listeners"][0]
    assert listener["Protocol"] == "TCP" and listener["Port"] == 80
    action = listener["DefaultActions"][0]
    assert action["Type"] == "forward" and action["TargetGroupArn"] == lab["tg"]
    assert action["ForwardConfig"]["TargetGroups"] == [{"TargetGroupArn": lab["tg"], "Weight": 1}]
    assert elb.describe_listeners(LoadBalancerArn=lab["lb"])["Listeners"] == [listener]
    assert elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"] == [listener]
    # Identical again: the same listener.
    again = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                                DefaultActions=forward(lab["tg"]))["Listeners"][0]
    assert again["ListenerArn"] == listener["ListenerArn"]
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    assert elb.describe_listeners(LoadBalancerArn=lab["lb"])["Listeners"] == []
    assert error_of(elb.delete_listener, ListenerArn=listener["ListenerArn"])["Code"] == "ListenerNotFound"
    assert error_of(elb.describe_listeners, ListenerArns=[listener["ListenerArn"]])["Code"] == "ListenerNotFound"
    assert error_of(elb.describe_listeners)["Code"] == "ValidationError"


def test_forward_config_form(elb, lab):
    listener = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=81, DefaultActions=[
        {"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": lab["tg"]}]}}])["Listeners"][0]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == lab["tg"]


def test_duplicate_listener(elb, lab):
    elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80, DefaultActions=forward(lab["tg"]))
    udp = elb.create_target_group(Name=unique("udp"), Protocol="TCP_UDP", Port=80, VpcId=lab["vpc"])["TargetGroups"][0]
    error = error_of(elb.create_listener, LoadBalancerArn=lab["lb"], Protocol="TCP_UDP", Port=80,
                     DefaultActions=forward(udp["TargetGroupArn"]))
    code, message = error["Code"], error["Message"]
    assert code == "DuplicateListener"
    assert message == "A listener already exists on this port for this load balancer"


@pytest.mark.parametrize("listener_protocol,tg_protocol,ok", [
    ("TCP", "TCP", True), ("TCP", "TCP_UDP", True), ("TCP", "UDP", False), ("TCP", "TLS", False),
    ("UDP", "UDP", True), ("UDP", "TCP_UDP", True), ("UDP", "TCP", False),
    ("TCP_UDP", "TCP_UDP", True), ("TCP_UDP", "TCP", False),
    ("TLS", "TCP", True), ("TLS", "TLS", True), ("TLS", "UDP", False),
])
def test_protocol_compatibility(elb, lab, listener_protocol, tg_protocol, ok):
    tg = elb.create_target_group(Name=unique("p"), Protocol=tg_protocol, Port=80, VpcId=lab["vpc"])["TargetGroups"][0]
    kwargs = {"Certificates": [{"CertificateArn": CERT}]} if listener_protocol == "TLS" else {}
    call = (elb.create_listener, dict(LoadBalancerArn=lab["lb"], Protocol=listener_protocol, Port=443,
                                      DefaultActions=forward(tg["TargetGroupArn"]), **kwargs))
    if ok:
        call[0](**call[1])
    else:
        assert error_of(call[0], **call[1])["Code"] == "IncompatibleProtocols"


def test_http_listener_refused(elb, lab):
    assert error_of(elb.create_listener, LoadBalancerArn=lab["lb"], Protocol="HTTP", Port=80,
                    DefaultActions=forward(lab["tg"]))["Code"] == "ValidationError"


def test_tls_needs_a_certificate(elb, lab):
    error = error_of(elb.create_listener, LoadBalancerArn=lab["lb"], Protocol="TLS", Port=443,
                     DefaultActions=forward(lab["tg"]))
    code, message = error["Code"], error["Message"]
    assert (code, message) == ("ValidationError", "A certificate must be specified for TLS listeners")
    listener = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TLS", Port=443,
                                   Certificates=[{"CertificateArn": CERT}],
                                   DefaultActions=forward(lab["tg"]))["Listeners"][0]
    assert listener["Certificates"] == [{"CertificateArn": CERT}]
    assert listener["SslPolicy"]


def test_target_group_on_one_load_balancer_only(elb, lab):
    elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80, DefaultActions=forward(lab["tg"]))
    # A second listener of the same NLB may use it.
    elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=8080, DefaultActions=forward(lab["tg"]))
    other = nlb(elb, [default_subnets(lab["ec2"])[1]["SubnetId"]])
    assert error_of(elb.create_listener, LoadBalancerArn=other["LoadBalancerArn"], Protocol="TCP", Port=80,
                    DefaultActions=forward(lab["tg"]))["Code"] == "TargetGroupAssociationLimit"
    elb.delete_load_balancer(LoadBalancerArn=other["LoadBalancerArn"])


def test_unknown_target_group_and_load_balancer(elb, elb_2, lab):
    missing_tg = lab["tg"][:-16] + "0" * 16
    assert error_of(elb.create_listener, LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                    DefaultActions=forward(missing_tg))["Code"] == "TargetGroupNotFound"
    assert error_of(elb_2.create_listener, LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                    DefaultActions=forward(lab["tg"]))["Code"] == "LoadBalancerNotFound"
    assert error_of(elb.create_listener, LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                    DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}]
                    )["Code"] == "ValidationError"


def test_target_group_of_another_vpc(elb, lab):
    ec2 = lab["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    tg = tcp_group(elb, vpc)
    assert error_of(elb.create_listener, LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                    DefaultActions=forward(tg["TargetGroupArn"]))["Code"] == "InvalidConfigurationRequest"
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    ec2.delete_vpc(VpcId=vpc)


def test_modify_listener(elb, lab):
    listener = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                                   DefaultActions=forward(lab["tg"]))["Listeners"][0]
    elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=81, DefaultActions=forward(lab["tg"]))
    out = elb.modify_listener(ListenerArn=listener["ListenerArn"], Port=8000)["Listeners"][0]
    assert out["Port"] == 8000
    assert error_of(elb.modify_listener, ListenerArn=listener["ListenerArn"], Port=81)["Code"] == "DuplicateListener"
    assert error_of(elb.modify_listener, ListenerArn=listener["ListenerArn"], Protocol="TLS")["Code"] == "ValidationError"
    out = elb.modify_listener(ListenerArn=listener["ListenerArn"], Protocol="TLS",
                              Certificates=[{"CertificateArn": CERT}])["Listeners"][0]
    assert out["Protocol"] == "TLS" and out["Certificates"] == [{"CertificateArn": CERT}]
    tg2 = tcp_group(elb, lab["vpc"])
    out = elb.modify_listener(ListenerArn=listener["ListenerArn"], Protocol="TCP",
                              DefaultActions=forward(tg2["TargetGroupArn"]))["Listeners"][0]
    assert out["DefaultActions"][0]["TargetGroupArn"] == tg2["TargetGroupArn"]
    assert "Certificates" not in out


def test_listener_attributes(elb, lab):
    listener = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                                   DefaultActions=forward(lab["tg"]))["Listeners"][0]
    arn = listener["ListenerArn"]
    attrs = elb.describe_listener_attributes(ListenerArn=arn)["Attributes"]
    assert attrs == [{"Key": "tcp.idle_timeout.seconds", "Value": "350"}]
    elb.modify_listener_attributes(ListenerArn=arn, Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": "6000"}])
    assert elb.describe_listener_attributes(ListenerArn=arn)["Attributes"][0]["Value"] == "6000"
    for value in ("59", "6001", "x"):
        assert error_of(elb.modify_listener_attributes, ListenerArn=arn,
                        Attributes=[{"Key": "tcp.idle_timeout.seconds", "Value": value}])["Code"] == "ValidationError"
    assert error_of(elb.modify_listener_attributes, ListenerArn=arn,
                    Attributes=[{"Key": "other", "Value": "1"}])["Code"] == "ValidationError"


def test_listener_paging(elb, lab):
    for port in (1001, 1002, 1003):
        elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=port, DefaultActions=forward(lab["tg"]))
    ports = [l["Port"] for p in elb.get_paginator("describe_listeners").paginate(
        LoadBalancerArn=lab["lb"], PaginationConfig={"PageSize": 2}) for l in p["Listeners"]]
    assert ports == [1001, 1002, 1003]


# Tags ------------------------------------------------------------------------------------------------

def test_tags_on_all_three_kinds(elb, elb_2, lab):
    listener = elb.create_listener(LoadBalancerArn=lab["lb"], Protocol="TCP", Port=80,
                                   DefaultActions=forward(lab["tg"]),
                                   Tags=[{"Key": "role", "Value": "front"}])["Listeners"][0]
    arns = [lab["lb"], lab["tg"], listener["ListenerArn"]]
    elb.add_tags(ResourceArns=arns, Tags=[{"Key": "env", "Value": "lab"}])
    got = {d["ResourceArn"]: {t["Key"]: t["Value"] for t in d["Tags"]}
           for d in elb.describe_tags(ResourceArns=arns)["TagDescriptions"]}
    assert got[lab["lb"]] == {"env": "lab"}
    assert got[listener["ListenerArn"]] == {"role": "front", "env": "lab"}
    elb.remove_tags(ResourceArns=[lab["lb"]], TagKeys=["env"])
    assert elb.describe_tags(ResourceArns=[lab["lb"]])["TagDescriptions"][0]["Tags"] == []
    assert error_of(elb_2.add_tags, ResourceArns=[lab["lb"]], Tags=[{"Key": "x", "Value": "y"}])["Code"] == "LoadBalancerNotFound"
    assert error_of(elb_2.describe_tags, ResourceArns=[lab["tg"]])["Code"] == "TargetGroupNotFound"
    assert error_of(elb_2.describe_tags, ResourceArns=[listener["ListenerArn"]])["Code"] == "ListenerNotFound"


def test_tag_limits(elb, lab):
    code = error_of(elb.add_tags, ResourceArns=[lab["tg"]],
                    Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])["Code"]
    assert code == "DuplicateTagKeys"
    elb.add_tags(ResourceArns=[lab["tg"]], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(elb.add_tags, ResourceArns=[lab["tg"]], Tags=[{"Key": "one-more", "Value": "v"}])["Code"] == "TooManyTags"
    elb.add_tags(ResourceArns=[lab["tg"]], Tags=[{"Key": "k0", "Value": "changed"}])  # overwrite is fine
    assert error_of(elb.create_target_group, Name=unique("t"), Protocol="TCP", Port=80, VpcId=lab["vpc"],
                    Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])["Code"] == "TooManyTags"
    assert error_of(elb.create_load_balancer, Name=unique("t"), Type="network",
                    Subnets=[default_subnets(lab["ec2"])[0]["SubnetId"]],
                    Tags=[{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "1"}])["Code"] == "DuplicateTagKeys"
