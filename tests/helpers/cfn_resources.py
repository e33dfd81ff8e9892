"""CloudFormation's resource providers driven against a control plane of the test's own.

`ControlPlane` is what `vpclab server` assembles, in the test's process: the store, the
Gateway, its `InProcessClient` (the one a stack's resources call through) and the
lifecycle timer that moves states on without a data plane. In-process, a provider's call
carries CloudFormation's standing (its `aws:cloudformation:*` tags), as in the server.

`ServerCalls` has the same shape over a running server's console API (for the data-plane
test, whose data plane lives in the server's process). Over HTTP the server cannot tell
that CloudFormation calls, so it leaves CloudFormation's own tags out of what it sends.
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import requests

from tests.helpers.accounts import ACCOUNT_1, REGION
from vpclab import control, model
from vpclab.control.cloudformation.resources import Api, StackRef
from vpclab.control.common import lifecycle
from vpclab.control.ec2.regions import REGIONS
from vpclab.protocol.gateway import Gateway
from vpclab.protocol.in_process import CallResult, InProcessClient
from vpclab.store import open_store


class ControlPlane:
    """A store, a Gateway over it and the lifecycle timer, in this process; `stop()` ends the timer."""

    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(state_dir, model.KINDS)
        self.gateway = Gateway(self.store, False, extras={"state_dir": state_dir}, regions=set(REGIONS))
        self.calls = InProcessClient(self.gateway)
        self.gateway.extras["calls"] = self.calls
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._settle, daemon=True)
        self._timer.start()

    def _settle(self) -> None:
        while not self._stop.wait(0.1):
            lifecycle.settle(self.store, time.time(), control.LIFECYCLE_STEPS, False)

    def api(self, account: str = ACCOUNT_1, region: str = REGION) -> Api:
        return Api(self.calls, account, region)

    def call(self, operation: str, params: dict[str, Any] | None = None, service: str = "ec2",
             account: str = ACCOUNT_1, region: str = REGION) -> dict[str, Any]:
        """A user's call (not CloudFormation's): the output, or AssertionError with the AWS error."""
        result = self.calls.call(account, region, service, operation, dict(params or {}))
        assert result.error is None, result.error
        return result.output or {}

    def stop(self) -> None:
        self._stop.set()
        self._timer.join()
        self.store.close()


class ServerCalls:
    def __init__(self, srv):
        self.url = srv.url + "/console/api/call"
        page = requests.get(srv.url + "/console/", timeout=10).text
        self.token = re.search(r'name="vpclab-console-token" content="([^"]+)"', page).group(1)

    def call(self, account: str, region: str, service: str, operation: str, params: dict) -> CallResult:
        resp = requests.post(self.url, json={"account": account, "region": region, "service": service,
                                             "operation": operation, "params": _without_cfn_tags(params)},
                             headers={"X-Vpclab-Console-Token": self.token}, timeout=120)
        body = resp.json()
        if "error" in body:
            return CallResult(resp.status_code, body["error"])
        return CallResult(resp.status_code, None, json.dumps(body["output"]).encode())


def _without_cfn_tags(value: Any) -> Any:
    """`value` without CloudFormation's own tags (and without a tag list they leave empty)."""
    if isinstance(value, dict):
        out = {k: _without_cfn_tags(v) for k, v in value.items()}
        if out.get("Tags") == [] and value.get("Tags"):
            del out["Tags"]
        if "TagSpecifications" in out:
            out["TagSpecifications"] = [t for t in out["TagSpecifications"] if t.get("Tags")]
            if not out["TagSpecifications"]:
                del out["TagSpecifications"]
        return out
    if isinstance(value, list):
        return [_without_cfn_tags(v) for v in value
                if not (isinstance(v, dict) and str(v.get("Key", "")).startswith("aws:cloudformation:"))]
    return value


def stack_ref(logical_id: str, name: str = "lab-stack", account: str = ACCOUNT_1, region: str = REGION) -> StackRef:
    return StackRef(name, f"arn:aws:cloudformation:{region}:{account}:stack/{name}/"
                          "6a9d3f10-0000-4000-8000-000000000001", logical_id)
