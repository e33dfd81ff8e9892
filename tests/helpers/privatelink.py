"""An interface endpoint as a PrivateLink API test reads it: described, and waited for."""
from __future__ import annotations

import time


def endpoint(ec2, endpoint_id: str) -> dict:
    return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]


def wait_state(ec2, endpoint_id: str, state: str, timeout: float = 10) -> dict:
    """The endpoint once it is in `state`; fails (asserting its state) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        ep = endpoint(ec2, endpoint_id)
        if ep["State"] == state or time.monotonic() > deadline:
            assert ep["State"] == state
            return ep
        time.sleep(0.1)
