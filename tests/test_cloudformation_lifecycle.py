"""CloudFormation stacks over their whole life: the real AWS CLI's `deploy` and
`delete-stack`, an instance replaced by an update (the old one terminated), a provider
stack whose endpoint service another account's endpoint holds (DELETE_FAILED, then a
retry), and a server restarted in the middle of an operation."""
from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import WaiterError

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.server import ServerProcess, free_port
from tests.test_awscli import aws_json, run_aws

FAST = {"Delay": 1, "MaxAttempts": 120}


def events(cfn, name: str) -> list[tuple[str, str, str | None]]:
    found = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(found)]


def image(ec2, index: int = 0) -> str:
    return ec2.describe_images(Owners=["amazon"])["Images"][index]["ImageId"]


def instance_template(image_id: str) -> dict:
    return {
        "Parameters": {"Image": {"Type": "AWS::EC2::Image::Id", "Default": image_id}},
        "Resources": {"Web": {"Type": "AWS::EC2::Instance",
                              "Properties": {"ImageId": {"Ref": "Image"}, "InstanceType": "t3.micro"}}},
        "Outputs": {"InstanceId": {"Value": {"Ref": "Web"}}},
    }


def test_aws_cli_deploy_update_and_delete_stack(shared_server, tmp_path):
    ec2 = shared_server.client("ec2")
    path = tmp_path / "web.json"
    path.write_text(json.dumps(instance_template(image(ec2, 0))))
    run_aws(shared_server, "cloudformation", "deploy", "--stack-name", "cli-web", "--template-file", str(path))
    [stack] = aws_json(shared_server, "cloudformation", "describe-stacks", "--stack-name", "cli-web")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    first = stack["Outputs"][0]["OutputValue"]
    assert ec2.describe_instances(InstanceIds=[first])["Reservations"][0]["Instances"][0]["State"]["Name"] \
        == "running"

    # Deploying the same template again: the CLI reports no changes and succeeds.
    again = run_aws(shared_server, "cloudformation", "deploy", "--stack-name", "cli-web", "--template-file",
                    str(path), "--no-fail-on-empty-changeset")
    assert "No changes to deploy" in again.stdout

    # Another image replaces the instance: a new id, the old one terminated. The CLI names
    # its change set after the current second, and the no-changes one above is kept
    # (FAILED, as on AWS): a deploy in the same second would meet AlreadyExistsException.
    second = int(time.time())
    while int(time.time()) == second:
        time.sleep(0.05)
    other = image(ec2, 1)
    run_aws(shared_server, "cloudformation", "deploy", "--stack-name", "cli-web", "--template-file", str(path),
            "--parameter-overrides", f"Image={other}")
    [stack] = aws_json(shared_server, "cloudformation", "describe-stacks", "--stack-name", "cli-web")["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    second = stack["Outputs"][0]["OutputValue"]
    assert second != first
    states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(
        InstanceIds=[first, second])["Reservations"] for i in r["Instances"]}
    assert states[second] == "running" and states[first] in ("shutting-down", "terminated")
    cfn = shared_server.client("cloudformation")
    assert ("Web", "UPDATE_IN_PROGRESS",
            "Requested update requires the creation of a new physical resource; hence creating one.") \
        in events(cfn, "cli-web")

    run_aws(shared_server, "cloudformation", "delete-stack", "--stack-name", "cli-web")
    run_aws(shared_server, "cloudformation", "wait", "stack-delete-complete", "--stack-name", "cli-web")
    state = ec2.describe_instances(InstanceIds=[second])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")


PROVIDER = {
    "Parameters": {"Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"},
                   "Consumer": {"Type": "String"}},
    "Resources": {
        "Nlb": {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Type": "network", "Scheme": "internal", "Subnets": {"Ref": "Subnets"}}},
        "Service": {"Type": "AWS::EC2::VPCEndpointService",
                    "Properties": {"AcceptanceRequired": True, "NetworkLoadBalancerArns": [{"Ref": "Nlb"}]}},
        "Permissions": {"Type": "AWS::EC2::VPCEndpointServicePermissions",
                        "Properties": {"ServiceId": {"Ref": "Service"},
                                       "AllowedPrincipals": [{"Fn::Sub": "arn:aws:iam::${Consumer}:root"}]}},
    },
    "Outputs": {"ServiceName": {"Value": {"Fn::Sub": "com.amazonaws.vpce.${AWS::Region}.${Service}"}}},
}

CONSUMER = {
    "Parameters": {"ServiceName": {"Type": "String"}, "Vpc": {"Type": "AWS::EC2::VPC::Id"},
                   "Subnets": {"Type": "List<AWS::EC2::Subnet::Id>"}},
    "Resources": {
        "Endpoint": {"Type": "AWS::EC2::VPCEndpoint",
                     "Properties": {"VpcId": {"Ref": "Vpc"}, "ServiceName": {"Ref": "ServiceName"},
                                    "VpcEndpointType": "Interface", "SubnetIds": {"Ref": "Subnets"}}},
    },
    "Outputs": {"DnsName": {"Value": {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::Select": [
        0, {"Fn::GetAtt": ["Endpoint", "DnsEntries"]}]}]}]}}},
}


def subnets(ec2) -> list[dict]:
    return ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]


def test_provider_stack_held_by_a_connection_fails_to_delete_then_goes(shared_server):
    ec2_1, ec2_2 = shared_server.client("ec2"), shared_server.client("ec2", ACCOUNT_2)
    cfn_1, cfn_2 = shared_server.client("cloudformation"), shared_server.client("cloudformation", ACCOUNT_2)
    cfn_1.create_stack(StackName="provider", TemplateBody=json.dumps(PROVIDER), Parameters=[
        {"ParameterKey": "Subnets", "ParameterValue": ",".join(s["SubnetId"] for s in subnets(ec2_1))},
        {"ParameterKey": "Consumer", "ParameterValue": ACCOUNT_2}])
    cfn_1.get_waiter("stack_create_complete").wait(StackName="provider", WaiterConfig=FAST)
    service_name = cfn_1.describe_stacks(StackName="provider")["Stacks"][0]["Outputs"][0]["OutputValue"]
    mine = subnets(ec2_2)
    cfn_2.create_stack(StackName="consumer", TemplateBody=json.dumps(CONSUMER), Parameters=[
        {"ParameterKey": "ServiceName", "ParameterValue": service_name},
        {"ParameterKey": "Vpc", "ParameterValue": mine[0]["VpcId"]},
        {"ParameterKey": "Subnets", "ParameterValue": ",".join(s["SubnetId"] for s in mine)}])
    cfn_2.get_waiter("stack_create_complete").wait(StackName="consumer", WaiterConfig=FAST)
    dns = cfn_2.describe_stacks(StackName="consumer")["Stacks"][0]["Outputs"][0]["OutputValue"]
    assert ".vpce.amazonaws.com" in dns

    cfn_1.delete_stack(StackName="provider")
    with pytest.raises(WaiterError):
        cfn_1.get_waiter("stack_delete_complete").wait(StackName="provider", WaiterConfig=FAST)
    stack = cfn_1.describe_stacks(StackName="provider")["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Service]. "
    failed = [e for e in events(cfn_1, "provider") if e[1] == "DELETE_FAILED"]
    assert failed[0][0] == "Service"
    assert "Service has existing active VPC Endpoint connections!" in failed[0][2]
    # what the service needs stays: the NLB is not deleted before the service
    resources = {r["LogicalResourceId"]: r["ResourceStatus"]
                 for r in cfn_1.list_stack_resources(StackName="provider")["StackResourceSummaries"]}
    assert resources["Nlb"] == "CREATE_COMPLETE" and resources["Service"] == "DELETE_FAILED"

    # The consumer goes first; then the provider's second delete finishes.
    cfn_2.delete_stack(StackName="consumer")
    cfn_2.get_waiter("stack_delete_complete").wait(StackName="consumer", WaiterConfig=FAST)
    cfn_1.delete_stack(StackName="provider")
    cfn_1.get_waiter("stack_delete_complete").wait(StackName="provider", WaiterConfig=FAST)
    assert ec2_1.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []
    assert shared_server.client("elbv2").describe_load_balancers()["LoadBalancers"] == []


@pytest.fixture
def answering_at_once(tmp_path):
    """A server whose stack operations answer at once, as AWS's do (`VPCLAB_STACK_WAIT=0`):
    the create is still going on when the server stops."""
    srv = ServerProcess(tmp_path / "state", free_port(), env={"VPCLAB_STACK_WAIT": "0"}).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_a_restart_mid_operation_leaves_a_state_aws_shows(answering_at_once):
    """The server stops while a stack is being made; after the restart the stack is
    CREATE_FAILED (no thread carries the create on), and DeleteStack removes what it made."""
    server = answering_at_once
    cfn = server.client("cloudformation")
    ec2 = server.client("ec2")
    template = {"Resources": {
        f"Vpc{i}": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": f"10.{60 + i}.0.0/16"}} for i in range(3)}}
    template["Resources"]["Web"] = {"Type": "AWS::EC2::Instance", "DependsOn": ["Vpc0", "Vpc1", "Vpc2"],
                                    "Properties": {"ImageId": image(ec2), "InstanceType": "t3.micro"}}
    cfn.create_stack(StackName="restart-1", TemplateBody=json.dumps(template))
    server.stop()
    server.start()
    cfn = server.client("cloudformation")
    for _ in range(100):
        stack = cfn.describe_stacks(StackName="restart-1")["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.1)
    assert stack["StackStatus"] in ("CREATE_FAILED", "CREATE_COMPLETE")
    if stack["StackStatus"] == "CREATE_FAILED":
        assert stack["StackStatusReason"] == "The vpclab server stopped during the operation"
    cfn.delete_stack(StackName="restart-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="restart-1", WaiterConfig=FAST)
    assert [v for v in server.client("ec2").describe_vpcs()["Vpcs"] if not v["IsDefault"]] == []
