"""The CDK app in examples/cdk/: synthesized in-process (Python aws-cdk-lib; jsii runs
node), it is the provider stack of examples/cloudformation/, needs no bootstrap, and is
cfn-lint clean."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from cfnlint.decode.decode import decode_str

from tests.helpers.cfn_examples import EXAMPLES, PROVIDER_TEMPLATE, lint_findings

APP = EXAMPLES / "cdk" / "provider_stack.py"
STACK_NAME = "demo-provider-cdk"


def load_app() -> ModuleType:
    """examples/cdk/provider_stack.py as a module (examples/ is not a package)."""
    spec = importlib.util.spec_from_file_location("vpclab_example_cdk_provider", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory) -> dict:
    """The app's template (one synth per module: starting jsii's node takes seconds)."""
    return load_app().synthesize(str(tmp_path_factory.mktemp("cdk.out")), STACK_NAME)


def test_needs_no_bootstrap(synthesized):
    assert "Rules" not in synthesized  # CheckBootstrapVersion
    assert "BootstrapVersion" not in synthesized.get("Parameters", {})
    assert not [r for r in synthesized["Resources"].values() if r["Type"] == "AWS::CDK::Metadata"]


def test_is_the_provider_stack(synthesized):
    yaml_template, errors = decode_str(PROVIDER_TEMPLATE.read_text())
    assert not errors and yaml_template is not None

    def types(template: dict) -> dict[str, str]:
        return {k: v["Type"] for k, v in template["Resources"].items()}

    assert types(synthesized) == types(yaml_template)
    assert {"VpcId", "Subnets", "ImageId", "ConsumerPrincipal"} <= set(synthesized["Parameters"])
    assert synthesized["Parameters"]["Subnets"]["Type"] == "List<AWS::EC2::Subnet::Id>"
    props = {k: v["Properties"] for k, v in synthesized["Resources"].items()}
    assert props["EndpointService"]["AcceptanceRequired"] is True
    assert props["LoadBalancer"]["Type"] == "network" and props["LoadBalancer"]["Scheme"] == "internet-facing"
    assert props["TargetGroup"]["Targets"] == [{"Id": {"Ref": "ServerInstance"}, "Port": 80}]
    assert "nginx" in props["ServerInstance"]["UserData"]["Fn::Base64"]
    outputs = synthesized["Outputs"]
    assert outputs["ServiceId"]["Export"] == {"Name": f"{STACK_NAME}-ServiceId"}
    assert outputs["ServiceName"]["Export"] == {"Name": f"{STACK_NAME}-ServiceName"}


def test_is_cfn_lint_clean(synthesized):
    assert lint_findings(json.dumps(synthesized, indent=1)) == []
