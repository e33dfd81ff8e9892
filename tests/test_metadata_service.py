"""The instance metadata service for real: curl inside instances, answers that match them,
IMDSv2 and v1 as HttpTokens says, tokens per instance, overlapping VPCs, hostile clients."""
from __future__ import annotations

import base64
import json

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.instances import describe, launch, vexec, wait_state
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
