"""What IMDS answers, as a pure function of an instance and a request (no root), and the
HTTP framing's bounds."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from vpclab.dataplane.agents.metadata import MAX_BODY, MAX_HEAD, _BadRequest, _parse
from vpclab.dataplane.agents.metadata_answers import (
    TOKENS_PER_INSTANCE,
    InstanceView,
    Request,
    Tokens,
    architecture,
    respond,
)

VIEW = InstanceView(
    instance_id="i-0aaaaaaaaaaaaaaaa", account="111111111111", region="ap-south-1", image_id="ami-1",
    instance_type="t3.micro", launch_index=0, reservation_id="r-1", launch_time=1700000000.0,
    private_ip="172.31.37.136", mac="02:00:00:00:00:01", interface_id="eni-1", zone="ap-south-1a",
    zone_id="aps1-az1", subnet_id="subnet-1", subnet_cidr="172.31.32.0/20", vpc_id="vpc-1",
    vpc_cidr="172.31.0.0/16", vpc_cidrs=("172.31.0.0/16",), group_ids=("sg-1", "sg-2"), group_names=("default", "web"),
    key_name="k", key_public="ssh-ed25519 AAAA k", user_data=b"#!/bin/sh\n", tags=(("Name", "a"),),
)


def get(path: str, view: InstanceView = VIEW, tokens: Tokens | None = None, now: float = 0.0, **headers):
    return respond(view, Request("GET", path, {k.lower().replace("_", "-"): v for k, v in headers.items()}),
                   tokens or Tokens(), now)


def put_token(tokens: Tokens, view: InstanceView = VIEW, ttl: str = "60", now: float = 0.0, **headers):
    hdrs = {"x-aws-ec2-metadata-token-ttl-seconds": ttl,
            **{k.lower().replace("_", "-"): v for k, v in headers.items()}}
    return respond(view, Request("PUT", "/latest/api/token", hdrs), tokens, now)


def test_values_and_listings():
    assert get("/latest/meta-data/instance-id").body == b"i-0aaaaaaaaaaaaaaaa"
    assert get("/latest/meta-data/hostname").body == b"ip-172-31-37-136.ap-south-1.compute.internal"
    assert get("/latest/meta-data/placement/").body == b"availability-zone\navailability-zone-id\nregion"
    assert get("/latest/meta-data/public-keys").body == b"0=k"
    assert get("/latest/meta-data/public-keys/0/openssh-key").body == b"ssh-ed25519 AAAA k\n"
    assert get("/latest/meta-data/security-groups").body == b"default\nweb"
    assert get("/latest/meta-data/network/interfaces/macs/").body == b"02:00:00:00:00:01/"
    assert get("/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/security-group-ids").body == \
        b"sg-1\nsg-2"
    assert get("/").body.split(b"\n")[-1] == b"latest"
    assert get("/2021-07-15/meta-data/ami-id").body == b"ami-1"
    user = get("/latest/user-data")
    assert (user.body, user.content_type) == (b"#!/bin/sh\n", "application/octet-stream")
    doc = json.loads(get("/latest/dynamic/instance-identity/document").body)
    assert doc["pendingTime"] == "2023-11-14T22:13:20Z" and doc["architecture"] == "x86_64"
    assert doc["availabilityZone"] == "ap-south-1a" and doc["privateIp"] == "172.31.37.136"
    assert b'"version" : "2017-09-30"' in get("/latest/dynamic/instance-identity/document").body


def test_what_is_absent_is_404():
    for path in ("/latest/meta-data/public-ipv4", "/latest/meta-data/public-hostname", "/latest/meta-data/nope",
                 "/latest/meta-data/instance-id/more", "/1999-01-01/meta-data/", "/latest/meta-data/tags/"):
        reply = get(path)
        assert reply.status == 404 and b"<h1>404 - Not Found</h1>" in reply.body and reply.content_type == "text/html"
    bare = replace(VIEW, key_public="", key_name=None, user_data=None)
    assert get("/latest/meta-data/public-keys/", bare).status == 404
    assert get("/latest/user-data", bare).status == 404
    assert get("/latest/", bare).body == b"dynamic\nmeta-data"


def test_tags_only_when_enabled():
    tagged = replace(VIEW, metadata_tags="enabled")
    assert get("/latest/meta-data/tags/instance/").status == 404
    assert get("/latest/meta-data/tags/instance", tagged).body == b"Name"
    assert get("/latest/meta-data/tags/instance/Name", tagged).body == b"a"


def test_tokens():
    tokens = Tokens()
    reply = put_token(tokens, ttl="60")
    assert reply.status == 200 and reply.ip_ttl == 1
    assert ("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "60") in reply.headers
    tok = reply.body.decode()
    assert get("/latest/meta-data/ami-id", tokens=tokens, now=30, x_aws_ec2_metadata_token=tok).status == 200
    assert get("/latest/meta-data/ami-id", tokens=tokens, now=60, x_aws_ec2_metadata_token=tok).status == 401
    other = replace(VIEW, instance_id="i-0bbbbbbbbbbbbbbbb")
    assert get("/latest/meta-data/ami-id", other, tokens, now=1, x_aws_ec2_metadata_token=tok).status == 401
    for ttl in ("0", "21601", "", "1e3", "٣"):
        assert put_token(tokens, ttl=ttl).status == 400
    assert put_token(tokens, x_forwarded_for="1.2.3.4").status == 403
    assert respond(VIEW, Request("GET", "/latest/api/token", {}), tokens, 0).status == 405
    assert respond(VIEW, Request("POST", "/latest/meta-data/", {}), tokens, 0).status == 405
    # Bounded: the oldest tokens go first.
    many = Tokens()
    first = put_token(many).body.decode()
    for _ in range(TOKENS_PER_INSTANCE):
        put_token(many)
    assert len(many.by_instance[VIEW.instance_id]) == TOKENS_PER_INSTANCE
    assert many.remaining(VIEW.instance_id, first, 0) is None


def test_http_tokens_and_endpoint():
    required = replace(VIEW, http_tokens="required")
    assert get("/latest/meta-data/ami-id", required).status == 401
    off = replace(VIEW, http_endpoint="disabled")
    assert get("/latest/meta-data/ami-id", off).status == 403
    assert put_token(Tokens(), off).status == 403
    assert put_token(Tokens(), replace(VIEW, hop_limit=2)).ip_ttl == 2


def test_architecture_by_type_name():
    assert [architecture(t) for t in ("t3.micro", "t4g.nano", "m6gd.large", "c7g.xlarge", "m1.small")] == \
        ["x86_64", "arm64", "arm64", "arm64", "x86_64"]


def test_parse_bounds():
    assert _parse(bytearray(b"GET /latest/meta-data/ HTTP/1.1\r\nHost: x")) is None
    request, version, used = _parse(bytearray(b"GET /latest/meta-data/?a=b HTTP/1.1\r\nHost: x\r\n\r\nGET"))
    assert (request.path, version, used) == ("/latest/meta-data/", "HTTP/1.1", 48)
    put = b"PUT /latest/api/token HTTP/1.1\r\nContent-Length: 3\r\n\r\nab"
    assert _parse(bytearray(put)) is None
    assert _parse(bytearray(put + b"c"))[2] == len(put) + 1
    for bad in (b"GET / HTTP/2.0\r\n\r\n", b"get / HTTP/1.1\r\n\r\n", b"GET  / HTTP/1.1\r\n\r\n",
                b"GET / HTTP/1.1\r\nBad header\r\n\r\n", b"GET / HTTP/1.1\r\nX : y\r\n\r\n",
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"GET / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1),
                b"GET / HTTP/1.1\r\nX: \xff\r\n\r\n", b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEAD):
        with pytest.raises(_BadRequest):
            _parse(bytearray(bad))


def test_vpc_ipv4_cidr_blocks_lists_every_associated_block_primary_first():
    import dataclasses
    view = dataclasses.replace(VIEW, vpc_cidrs=("172.31.0.0/16", "100.64.0.0/16"))
    mac = "/latest/meta-data/network/interfaces/macs/02:00:00:00:00:01/"
    assert get(mac + "vpc-ipv4-cidr-blocks", view).body == b"172.31.0.0/16\n100.64.0.0/16"
    assert get(mac + "vpc-ipv4-cidr-block", view).body == b"172.31.0.0/16"
