"""The CDK app in examples/cdk/: synthesized in-process (Python aws-cdk-lib; jsii runs
node), it is the provider stack of examples/cloudformation/, needs no bootstrap, is
cfn-lint clean, and deploys on vpclab."""
from __future__ import annotations

import importlib.util
import json
from types import ModuleType

import pytest
from cfnlint.decode.decode import decode_str

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.cfn_examples import (
    EXAMPLES, FAST_WAIT, PROVIDER_TEMPLATE, leftovers, lint_findings, network_parameters, outputs,
)

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
    assert synthesized["Parameters"] == yaml_template["Parameters"]
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


def test_deploys_on_vpclab(server, synthesized):
    """The synthesized template as CloudFormation's CreateStack gets it: CREATE_COMPLETE,
    the endpoint service requires acceptance, and DeleteStack leaves nothing behind."""
    ec2, cf = server.client("ec2", ACCOUNT_1), server.client("cloudformation", ACCOUNT_1)
    parameters = [{"ParameterKey": k, "ParameterValue": v} for k, v in network_parameters(ec2).items()]
    cf.create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(synthesized), Parameters=parameters)
    cf.get_waiter("stack_create_complete").wait(StackName=STACK_NAME, WaiterConfig=FAST_WAIT)
    stack = cf.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    made = {r["LogicalResourceId"]: r["ResourceStatus"]
            for r in cf.list_stack_resources(StackName=STACK_NAME)["StackResourceSummaries"]}
    assert made == {logical_id: "CREATE_COMPLETE" for logical_id in synthesized["Resources"]}
    service_id = outputs(cf, STACK_NAME)["ServiceId"]
    svc = ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"][0]
    assert svc["AcceptanceRequired"] is True
    allowed = ec2.describe_vpc_endpoint_service_permissions(ServiceId=service_id)["AllowedPrincipals"]
    assert [p["Principal"] for p in allowed] == ["arn:aws:iam::222222222222:root"]

    cf.delete_stack(StackName=STACK_NAME)
    cf.get_waiter("stack_delete_complete").wait(StackName=STACK_NAME, WaiterConfig=FAST_WAIT)
    assert leftovers(server, ACCOUNT_1) == {kind: [] for kind in leftovers(server, ACCOUNT_1)}
