"""The instance metadata service for real: curl inside instances, answers that match them,
IMDSv2 and v1 as HttpTokens says, tokens per instance, overlapping VPCs, hostile clients."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.instances import console_text, describe, launch, vexec, wait_state
from tests.helpers.waiting import wait_for

IMDS = "http://169.254.169.254"
TTL = "X-aws-ec2-metadata-token-ttl-seconds: 60"


def curl(srv, iid: str, *args: str) -> tuple[int, str]:
    """(HTTP status, body) of curl inside the instance; status 0 if nothing answered."""
    r = vexec(srv, iid, "curl", "-s", "-m", "5", "-w", "\n%{http_code}", *args)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def token(srv, iid: str) -> str:
    status, body = curl(srv, iid, "-X", "PUT", "-H", TTL, f"{IMDS}/latest/api/token")
    assert status == 200, body
    return body


def get(srv, iid: str, path: str, tok: str | None = None) -> tuple[int, str]:
    extra = ["-H", f"X-aws-ec2-metadata-token: {tok}"] if tok else []
    return curl(srv, iid, *extra, f"{IMDS}{path}")


def running(ec2, name: str, **kw) -> dict:
    inst = launch(ec2, name, **kw)
    wait_state(ec2, inst["InstanceId"], "running")
    return describe(ec2, inst["InstanceId"])


def served(srv, iid: str) -> None:
    """Wait until the service answers the instance (its VPC's listener opens on a pass)."""
    wait_for(lambda: curl(srv, iid, "-X", "PUT", "-H", TTL, f"{IMDS}/latest/api/token")[0] == 200,
             timeout=15, interval=0.2, what=f"IMDS for {iid}")


def test_answers_match_the_instance_v1_and_v2(dataplane_server):
    ec2 = dataplane_server.client("ec2", ACCOUNT_1)
    script = "#!/bin/sh\necho from-user-data\n"
    inst = running(ec2, "imds-a", user_data=script, MetadataOptions={"HttpTokens": "optional"})
    iid = inst["InstanceId"]
    served(dataplane_server, iid)
    tok = token(dataplane_server, iid)
    for t in (None, tok):
        assert get(dataplane_server, iid, "/latest/meta-data/instance-id", t) == (200, iid)
    assert get(dataplane_server, iid, "/latest/meta-data/local-ipv4") == (200, inst["PrivateIpAddress"])
    zone = inst["Placement"]
    assert get(dataplane_server, iid, "/latest/meta-data/placement/availability-zone") == \
        (200, zone["AvailabilityZone"])
    assert get(dataplane_server, iid, "/latest/meta-data/placement/availability-zone-id") == \
        (200, zone["AvailabilityZoneId"])
    assert get(dataplane_server, iid, "/latest/user-data") == (200, script)
    status, doc = get(dataplane_server, iid, "/latest/dynamic/instance-identity/document", tok)
    assert status == 200
    assert json.loads(doc)["instanceId"] == iid and json.loads(doc)["accountId"] == ACCOUNT_1
    # Listings, with and without the trailing slash, and what is not there.
    status, listing = get(dataplane_server, iid, "/latest/meta-data/", tok)
    assert status == 200 and {"ami-id", "instance-id", "placement/", "network/"} <= set(listing.split("\n"))
    # A default-subnet instance has a public address (MapPublicIpOnLaunch), as on EC2.
    assert "public-ipv4" in listing and "public-hostname" in listing and "public-keys/" not in listing
    assert get(dataplane_server, iid, "/latest/meta-data", tok) == (200, listing)
    assert get(dataplane_server, iid, "/latest/meta-data/placement", tok) == \
        get(dataplane_server, iid, "/latest/meta-data/placement/", tok)
    assert get(dataplane_server, iid, "/latest/", tok) == (200, "dynamic\nmeta-data\nuser-data")
    assert get(dataplane_server, iid, "/latest/meta-data/public-ipv4", tok) == (200, inst["PublicIpAddress"])
    assert get(dataplane_server, iid, "/latest/meta-data/public-hostname", tok) == (200, inst["PublicDnsName"])
    status, page = get(dataplane_server, iid, "/latest/meta-data/public-keys/", tok)
    assert status == 404 and "<title>404 - Not Found</title>" in page
    mac = get(dataplane_server, iid, "/latest/meta-data/mac", tok)[1]
    assert mac == inst["NetworkInterfaces"][0]["MacAddress"]
    base = f"/latest/meta-data/network/interfaces/macs/{mac}/"
    assert get(dataplane_server, iid, base + "interface-id", tok) == \
        (200, inst["NetworkInterfaces"][0]["NetworkInterfaceId"])
    assert get(dataplane_server, iid, base + "vpc-id", tok) == (200, inst["VpcId"])
    assert get(dataplane_server, iid, base + "subnet-id", tok) == (200, inst["SubnetId"])
    assert get(dataplane_server, iid, base + "security-group-ids", tok) == \
        (200, "\n".join(g["GroupId"] for g in inst["SecurityGroups"]))
    assert get(dataplane_server, iid, "/latest/meta-data/security-groups", tok) == \
        (200, "\n".join(g["GroupName"] for g in inst["SecurityGroups"]))
    # The token PUT's rules.
    put = ["-X", "PUT", f"{IMDS}/latest/api/token"]
    assert curl(dataplane_server, iid, "-H", TTL, "-H", "X-Forwarded-For: 10.0.0.1", *put)[0] == 403
    for ttl in ("0", "21601", "abc"):
        assert curl(dataplane_server, iid, "-H", f"X-aws-ec2-metadata-token-ttl-seconds: {ttl}", *put)[0] == 400
    assert curl(dataplane_server, iid, *put)[0] == 400
    assert get(dataplane_server, iid, "/latest/api/token")[0] == 405
    assert curl(dataplane_server, iid, "-X", "POST", f"{IMDS}/latest/meta-data/")[0] == 405
    # A bad or expired token is refused even though v1 is allowed.
    assert get(dataplane_server, iid, "/latest/meta-data/instance-id", "not-a-token")[0] == 401
    status, short = curl(dataplane_server, iid, "-X", "PUT", "-H", "X-aws-ec2-metadata-token-ttl-seconds: 1",
                         f"{IMDS}/latest/api/token")
    assert status == 200
    wait_for(lambda: get(dataplane_server, iid, "/latest/meta-data/instance-id", short)[0] == 401,
             timeout=5, interval=0.5, what="the 1 s token to expire")


def test_user_data_asks_imds_at_first_boot(dataplane_server):
    """A new VPC's service is up before its first instance boots: user data gets a token
    and the instance id (the AL2023 image requires IMDSv2)."""
    ec2 = dataplane_server.client("ec2", ACCOUNT_2)
    script = ("#!/bin/sh\n"
              f"T=$(curl -s -m 5 -X PUT -H '{TTL}' {IMDS}/latest/api/token)\n"
              f"echo imds-says-$(curl -s -m 5 -H \"X-aws-ec2-metadata-token: $T\" "
              f"{IMDS}/latest/meta-data/instance-id)\n")
    iid = launch(ec2, "imds-boot", user_data=script)["InstanceId"]
    wait_for(lambda: f"imds-says-{iid}" in console_text(ec2, iid), timeout=20, interval=0.3,
             what="user data's IMDS answer in the console")


def test_public_keys_come_from_the_launch_key(dataplane_server):
    ec2 = dataplane_server.client("ec2", ACCOUNT_1)
    ec2.create_key_pair(KeyName="imds-key")
    inst = running(ec2, "imds-key", user_data=None, KeyName="imds-key")
    iid = inst["InstanceId"]
    served(dataplane_server, iid)
    tok = token(dataplane_server, iid)
    assert get(dataplane_server, iid, "/latest/meta-data/public-keys/", tok) == (200, "0=imds-key")
    assert get(dataplane_server, iid, "/latest/meta-data/public-keys/0/", tok) == (200, "openssh-key")
    public = ec2.describe_key_pairs(KeyNames=["imds-key"], IncludePublicKey=True)["KeyPairs"][0]["PublicKey"]
    assert get(dataplane_server, iid, "/latest/meta-data/public-keys/0/openssh-key", tok) == \
        (200, public.strip() + "\n")
    assert get(dataplane_server, iid, "/latest/user-data", tok)[0] == 404


def test_http_tokens_required_and_modify(dataplane_server):
    """The AL2023 image requires IMDSv2; ModifyInstanceMetadataOptions changes what is
    served; HttpEndpoint disabled turns it off."""
    ec2 = dataplane_server.client("ec2", ACCOUNT_1)
    inst = running(ec2, "imds-req", user_data=None)
    iid = inst["InstanceId"]
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    served(dataplane_server, iid)
    path = "/latest/meta-data/instance-id"
    status, page = get(dataplane_server, iid, path)
    assert status == 401 and "<title>401 - Unauthorized</title>" in page
    assert get(dataplane_server, iid, path, token(dataplane_server, iid)) == (200, iid)

    out = ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="optional")
    assert out["InstanceMetadataOptions"]["State"] == "pending"
    wait_for(lambda: get(dataplane_server, iid, path) == (200, iid), timeout=10, interval=0.2,
             what="v1 allowed")
    wait_for(lambda: describe(ec2, iid)["MetadataOptions"]["State"] == "applied", timeout=10,
             what="options applied")

    ec2.modify_instance_metadata_options(InstanceId=iid, HttpTokens="required")
    wait_for(lambda: get(dataplane_server, iid, path)[0] == 401, timeout=10, interval=0.2,
             what="v1 refused again")
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpEndpoint="disabled")
    wait_for(lambda: curl(dataplane_server, iid, "-X", "PUT", "-H", TTL, f"{IMDS}/latest/api/token")[0] == 403,
             timeout=10, interval=0.2, what="endpoint off")
    ec2.modify_instance_metadata_options(InstanceId=iid, HttpEndpoint="enabled")
    served(dataplane_server, iid)


def test_tokens_are_per_instance(dataplane_server):
    ec2 = dataplane_server.client("ec2", ACCOUNT_1)
    a = running(ec2, "imds-tok-a", user_data=None)["InstanceId"]
    b = running(ec2, "imds-tok-b", user_data=None)["InstanceId"]
    served(dataplane_server, a)
    served(dataplane_server, b)
    tok_a = token(dataplane_server, a)
    assert get(dataplane_server, a, "/latest/meta-data/instance-id", tok_a) == (200, a)
    assert get(dataplane_server, b, "/latest/meta-data/instance-id", tok_a)[0] == 401


def test_overlapping_vpcs_answer_their_own_instance(dataplane_server):
    """Both accounts' default VPCs are 172.31.0.0/16: an instance at the same address in
    each gets its own answers."""
    ip = "172.31.32.50"
    ids = {}
    for account in (ACCOUNT_1, ACCOUNT_2):
        ec2 = dataplane_server.client("ec2", account)
        inst = running(ec2, f"imds-{account}", user_data=None, PrivateIpAddress=ip)
        assert inst["PrivateIpAddress"] == ip
        ids[account] = inst["InstanceId"]
    for account, iid in ids.items():
        served(dataplane_server, iid)
        tok = token(dataplane_server, iid)
        assert get(dataplane_server, iid, "/latest/meta-data/instance-id", tok) == (200, iid)
        status, doc = get(dataplane_server, iid, "/latest/dynamic/instance-identity/document", tok)
        assert json.loads(doc)["accountId"] == account


HOSTILE = r"""
import socket, time
def conn():
    s = socket.create_connection(("169.254.169.254", 80), timeout=10)
    return s
def answer(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
# A huge header: 400, connection closed.
s = conn(); s.sendall(b"GET /latest/meta-data/ HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
print("huge", answer(s).split(b"\r\n")[0].decode())
# Not HTTP: 400.
s = conn(); s.sendall(b"\x00\x01garbage\r\n\r\n"); print("garbage", answer(s).split(b"\r\n")[0].decode())
# An unknown method: 405.
s = conn(); s.sendall(b"BREW /latest/meta-data/ HTTP/1.1\r\nHost: x\r\n\r\n")
print("brew", answer(s).split(b"\r\n")[0].decode())
# Slowloris: a byte every 0.3 s; the service cuts it off when the request is due.
slow = [conn() for _ in range(40)]
start = time.monotonic()
for s in slow:
    s.sendall(b"G")
print("holding", flush=True)
open("/tmp/holding", "w").close()
alive = slow[0]
alive.settimeout(0.3)
while True:
    try:
        alive.sendall(b"E")
        if alive.recv(1) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print("slow cut after %.0f" % (time.monotonic() - start))
"""


def test_hostile_clients_do_not_break_the_service(dataplane_server):
    ec2 = dataplane_server.client("ec2", ACCOUNT_1)
    bad = running(ec2, "imds-bad", user_data=None, MetadataOptions={"HttpTokens": "optional"})["InstanceId"]
    good = running(ec2, "imds-good", user_data=None, MetadataOptions={"HttpTokens": "optional"})["InstanceId"]
    served(dataplane_server, bad)
    served(dataplane_server, good)
    hostile = subprocess.Popen(
        [sys.executable, "-m", "vpclab.cli", "exec", "--state-dir", str(dataplane_server.state_dir), bad,
         "--", "python3", "-c", HOSTILE], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in hostile.stdout:
            lines.append(line.strip())
            if line.startswith("holding"):
                break
        # While 40 slow connections of `bad` are open, `good` is answered at once.
        for _ in range(3):
            assert get(dataplane_server, good, "/latest/meta-data/instance-id") == (200, good)
        rest, _ = hostile.communicate(timeout=30)
        lines += rest.split()
    finally:
        if hostile.poll() is None:
            hostile.kill()
    text = " ".join(lines)
    assert "huge HTTP/1.1 400 Bad Request" in text
    assert "garbage HTTP/1.1 400 Bad Request" in text
    assert "brew HTTP/1.1 405 Method Not Allowed" in text
    cut = int(text.split("slow cut after ")[1].split()[0])
    assert cut <= 8
    # And the hostile instance itself is served again.
    assert get(dataplane_server, bad, "/latest/meta-data/instance-id") == (200, bad)


def test_security_groups_do_not_filter_the_metadata_service(dataplane_server):
    """As on AWS: an instance whose groups allow no egress at all still reaches IMDS."""
    srv = dataplane_server
    ec2 = srv.client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    gid = ec2.create_security_group(GroupName="no-egress", Description="none", VpcId=vpc)["GroupId"]
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    iid = launch(ec2, "closed", user_data=None, SecurityGroupIds=[gid])["InstanceId"]
    wait_state(ec2, iid, "running")
    wait_for(lambda: vexec(srv, iid, "sh", "-c", "t=$(curl -s -m 2 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "
                                                 "http://169.254.169.254/latest/api/token) && curl -s -m 2 -H "
                                                 "\"X-aws-ec2-metadata-token: $t\" "
                                                 "http://169.254.169.254/latest/meta-data/instance-id").stdout == iid,
             what="IMDS through a group with no egress")
    # Other egress is dropped (the group allows none).
    assert vexec(srv, iid, "curl", "-s", "-m", "2", "http://172.31.0.1/").returncode == 28  # dropped: a timeout
