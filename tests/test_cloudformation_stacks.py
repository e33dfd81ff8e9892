"""CloudFormation stacks through boto3 against a control-plane server: create, events,
rollback, update in place and by replacement, delete, change sets, exports and imports,
the waiters, and what another account sees."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2

FAST = {"Delay": 1, "MaxAttempts": 120}

NETWORK = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "a VPC and a subnet",
    "Parameters": {"Cidr": {"Type": "String", "Default": "10.20.0.0/16"},
                   "SubnetCidr": {"Type": "String", "Default": "10.20.1.0/24"}},
    "Resources": {
        "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}},
        "Subnet": {"Type": "AWS::EC2::Subnet",
                   "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": {"Ref": "SubnetCidr"},
                                  "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]}}},
    },
    "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-vpc"}}},
                "SubnetId": {"Value": {"Ref": "Subnet"}}},
}


def body(doc: dict) -> str:
    return json.dumps(doc)


@pytest.fixture
def cfn(shared_server):
    return shared_server.client("cloudformation")


def wait(cfn, waiter: str, name: str) -> dict:
    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig=FAST)
    except WaiterError:
        raise AssertionError(statuses(cfn, name)) from None
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def statuses(cfn, name: str) -> list[tuple[str, str, str | None]]:
    """(logical id, status, reason) of every event, oldest first."""
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return [(e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(events)]


def test_create_describe_and_delete_a_stack(cfn, ec2):
    stack_id = cfn.create_stack(StackName="net-1", TemplateBody=body(NETWORK))["StackId"]
    assert stack_id.startswith(f"arn:aws:cloudformation:ap-south-1:{ACCOUNT_1}:stack/net-1/")
    stack = wait(cfn, "stack_create_complete", "net-1")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Description"] == "a VPC and a subnet"
    outputs = {o["OutputKey"]: o for o in stack["Outputs"]}
    vpc_id, subnet_id = outputs["VpcId"]["OutputValue"], outputs["SubnetId"]["OutputValue"]
    assert outputs["VpcId"]["ExportName"] == "net-1-vpc"
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    assert vpc["CidrBlock"] == "10.20.0.0/16"
    assert {"Key": "aws:cloudformation:stack-name", "Value": "net-1"} in vpc["Tags"]
    subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    assert subnet["VpcId"] == vpc_id and subnet["AvailabilityZone"] == "ap-south-1a"

    resources = {r["LogicalResourceId"]: r for r in cfn.describe_stack_resources(StackName="net-1")["StackResources"]}
    assert resources["Vpc"]["PhysicalResourceId"] == vpc_id
    assert resources["Subnet"]["ResourceStatus"] == "CREATE_COMPLETE"
    detail = cfn.describe_stack_resource(StackName="net-1", LogicalResourceId="Subnet")["StackResourceDetail"]
    assert detail["PhysicalResourceId"] == subnet_id
    summaries = cfn.list_stack_resources(StackName="net-1")["StackResourceSummaries"]
    assert {s["LogicalResourceId"] for s in summaries} == {"Vpc", "Subnet"}
    events = statuses(cfn, "net-1")
    assert events[0] == ("net-1", "CREATE_IN_PROGRESS", "User Initiated")
    assert events[-1] == ("net-1", "CREATE_COMPLETE", None)
    # the VPC is made before the subnet that needs it
    assert events.index(("Vpc", "CREATE_COMPLETE", None)) < events.index(("Subnet", "CREATE_IN_PROGRESS", None))
    template = cfn.get_template(StackName="net-1")
    assert template["StagesAvailable"] == ["Original", "Processed"]

    cfn.delete_stack(StackName="net-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="net-1", WaiterConfig=FAST)
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    with pytest.raises(ClientError) as err:
        cfn.describe_stacks(StackName="net-1")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert err.value.response["Error"]["Message"] == "Stack with id net-1 does not exist"
    # by its id, a deleted stack is still shown
    gone = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
    assert gone["StackStatus"] == "DELETE_COMPLETE" and "DeletionTime" in gone
    events = statuses(cfn, stack_id)
    assert events.index(("Subnet", "DELETE_COMPLETE", None)) < events.index(("Vpc", "DELETE_IN_PROGRESS", None))
    listed = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert stack_id in [s["StackId"] for s in listed]


def test_errors_of_create(cfn):
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName="bad-type", TemplateBody=body(
            {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}))
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "Unrecognized resource types: [AWS::SQS::Queue]" in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName="no-param", TemplateBody=body(
            {"Parameters": {"X": {"Type": "String"}},
             "Resources": {"V": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "X"}}}}}))
    assert err.value.response["Error"]["Message"] == "Parameters: [X] must have values"
    cfn.create_stack(StackName="dup", TemplateBody=body(NETWORK),
                     Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.21.0.0/16"},
                                 {"ParameterKey": "SubnetCidr", "ParameterValue": "10.21.1.0/24"}])
    with pytest.raises(ClientError) as err:
        cfn.create_stack(StackName="dup", TemplateBody=body(NETWORK))
    assert err.value.response["Error"]["Code"] == "AlreadyExistsException"
    wait(cfn, "stack_create_complete", "dup")
    cfn.delete_stack(StackName="dup")
    cfn.get_waiter("stack_delete_complete").wait(StackName="dup", WaiterConfig=FAST)


def test_a_failing_subnet_rolls_the_stack_back(cfn, ec2):
    cfn.create_stack(StackName="rollback-1", TemplateBody=body(NETWORK),
                     Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.30.0.0/16"},
                                 {"ParameterKey": "SubnetCidr", "ParameterValue": "10.99.1.0/24"}])
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName="rollback-1", WaiterConfig=FAST)
    stack = cfn.describe_stacks(StackName="rollback-1")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = statuses(cfn, "rollback-1")
    failed = [e for e in events if e[1] == "CREATE_FAILED"]
    assert [e[0] for e in failed] == ["Subnet"]
    assert "10.99.1.0/24" in failed[0][2]
    assert "Resource handler returned message" in failed[0][2]
    assert ("rollback-1", "ROLLBACK_IN_PROGRESS",
            "The following resource(s) failed to create: [Subnet]. Rollback requested by user.") in events
    assert ("Vpc", "DELETE_COMPLETE", None) in events
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.30.0.0/16"]}])["Vpcs"]
    assert vpcs == []
    # a stack in ROLLBACK_COMPLETE can only be deleted
    with pytest.raises(ClientError) as err:
        cfn.update_stack(StackName="rollback-1", TemplateBody=body(NETWORK))
    assert "is in ROLLBACK_COMPLETE state and can not be updated." in err.value.response["Error"]["Message"]
    cfn.delete_stack(StackName="rollback-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="rollback-1", WaiterConfig=FAST)


def test_on_failure_do_nothing_keeps_what_was_made(cfn, ec2):
    cfn.create_stack(StackName="keep-1", TemplateBody=body(NETWORK), OnFailure="DO_NOTHING",
                     Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.31.0.0/16"},
                                 {"ParameterKey": "SubnetCidr", "ParameterValue": "10.98.1.0/24"}])
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName="keep-1", WaiterConfig=FAST)
    stack = cfn.describe_stacks(StackName="keep-1")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [Subnet]. "
    assert ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.31.0.0/16"]}])["Vpcs"]
    cfn.delete_stack(StackName="keep-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="keep-1", WaiterConfig=FAST)
    assert ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.31.0.0/16"]}])["Vpcs"] == []


SG = {
    "Resources": {
        "Group": {"Type": "AWS::EC2::SecurityGroup",
                  "Properties": {"GroupDescription": "web", "VpcId": {"Ref": "AWS::NoValue"},
                                 "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                           "CidrIp": "0.0.0.0/0"}]}},
    },
    "Outputs": {"GroupId": {"Value": {"Fn::GetAtt": ["Group", "GroupId"]}}},
}


def test_update_in_place_keeps_the_id_and_no_change_is_refused(cfn, ec2):
    cfn.create_stack(StackName="web-1", TemplateBody=body(SG))
    stack = wait(cfn, "stack_create_complete", "web-1")
    group_id = stack["Outputs"][0]["OutputValue"]
    with pytest.raises(ClientError) as err:
        cfn.update_stack(StackName="web-1", TemplateBody=body(SG))
    assert err.value.response["Error"]["Message"] == "No updates are to be performed."
    changed = json.loads(body(SG))
    changed["Resources"]["Group"]["Properties"]["SecurityGroupIngress"][0].update(FromPort=443, ToPort=443)
    cfn.update_stack(StackName="web-1", TemplateBody=body(changed))
    stack = wait(cfn, "stack_update_complete", "web-1")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == group_id
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert [(p["FromPort"], p["ToPort"]) for p in group["IpPermissions"]] == [(443, 443)]
    events = statuses(cfn, "web-1")
    assert ("Group", "UPDATE_COMPLETE", None) in events
    cfn.delete_stack(StackName="web-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="web-1", WaiterConfig=FAST)


def test_change_sets_create_then_update_with_replacement(cfn, ec2):
    cs = cfn.create_change_set(StackName="cs-1", ChangeSetName="first", ChangeSetType="CREATE",
                               TemplateBody=body(NETWORK),
                               Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.40.0.0/16"},
                                           {"ParameterKey": "SubnetCidr", "ParameterValue": "10.40.1.0/24"}])
    assert cfn.describe_stacks(StackName="cs-1")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=cs["Id"], StackName="cs-1", WaiterConfig=FAST)
    described = cfn.describe_change_set(ChangeSetName="first", StackName="cs-1")
    assert described["ExecutionStatus"] == "AVAILABLE"
    assert sorted((c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"])
                  for c in described["Changes"]) == [("Add", "Subnet"), ("Add", "Vpc")]
    cfn.execute_change_set(ChangeSetName=cs["Id"], StackName="cs-1")
    stack = wait(cfn, "stack_create_complete", "cs-1")
    old_subnet = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["SubnetId"]

    # the same again: a change set with no changes fails with AWS's words
    same = cfn.create_change_set(StackName="cs-1", ChangeSetName="same", TemplateBody=body(NETWORK),
                                 Parameters=[{"ParameterKey": "Cidr", "UsePreviousValue": True},
                                             {"ParameterKey": "SubnetCidr", "UsePreviousValue": True}])
    with pytest.raises(WaiterError):
        cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=same["Id"], WaiterConfig=FAST)
    failed = cfn.describe_change_set(ChangeSetName=same["Id"])
    assert failed["Status"] == "FAILED"
    assert failed["StatusReason"].startswith("The submitted information didn't contain changes.")
    cfn.delete_change_set(ChangeSetName=same["Id"])

    # a new subnet CIDR replaces the subnet (CidrBlock is create-only)
    update = cfn.create_change_set(StackName="cs-1", ChangeSetName="second", TemplateBody=body(NETWORK),
                                   Parameters=[{"ParameterKey": "Cidr", "UsePreviousValue": True},
                                               {"ParameterKey": "SubnetCidr", "ParameterValue": "10.40.2.0/24"}])
    cfn.get_waiter("change_set_create_complete").wait(ChangeSetName=update["Id"], WaiterConfig=FAST)
    changes = cfn.describe_change_set(ChangeSetName=update["Id"])["Changes"]
    assert [(c["ResourceChange"]["Action"], c["ResourceChange"]["LogicalResourceId"],
             c["ResourceChange"]["Replacement"]) for c in changes] == [("Modify", "Subnet", "True")]
    assert [s["ChangeSetName"] for s in cfn.list_change_sets(StackName="cs-1")["Summaries"]] == ["first", "second"]
    cfn.execute_change_set(ChangeSetName=update["Id"])
    stack = wait(cfn, "stack_update_complete", "cs-1")
    new_subnet = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["SubnetId"]
    assert new_subnet != old_subnet
    assert ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": [old_subnet]}])["Subnets"] == []
    assert ec2.describe_subnets(SubnetIds=[new_subnet])["Subnets"][0]["CidrBlock"] == "10.40.2.0/24"
    events = statuses(cfn, "cs-1")
    assert ("cs-1", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None) in events
    cfn.delete_stack(StackName="cs-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="cs-1", WaiterConfig=FAST)


CONSUMER = {
    "Resources": {
        "Subnet": {"Type": "AWS::EC2::Subnet",
                   "Properties": {"VpcId": {"Fn::ImportValue": "exp-1-vpc"}, "CidrBlock": "10.50.7.0/24"}},
    },
}


def test_exports_imports_and_what_another_account_sees(cfn, shared_server):
    cfn.create_stack(StackName="exp-1", TemplateBody=body(NETWORK),
                     Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.50.0.0/16"},
                                 {"ParameterKey": "SubnetCidr", "ParameterValue": "10.50.1.0/24"}])
    stack = wait(cfn, "stack_create_complete", "exp-1")
    vpc_id = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["VpcId"]
    exports = {e["Name"]: e for e in cfn.list_exports()["Exports"]}
    assert exports["exp-1-vpc"]["Value"] == vpc_id
    assert exports["exp-1-vpc"]["ExportingStackId"] == stack["StackId"]
    with pytest.raises(ClientError) as err:
        cfn.list_imports(ExportName="exp-1-vpc")
    assert err.value.response["Error"]["Message"] == "Export 'exp-1-vpc' is not imported by any stack."

    cfn.create_stack(StackName="imp-1", TemplateBody=body(CONSUMER))
    wait(cfn, "stack_create_complete", "imp-1")
    assert cfn.list_imports(ExportName="exp-1-vpc")["Imports"] == ["imp-1"]

    # another account sees none of it
    other = shared_server.client("cloudformation", ACCOUNT_2)
    assert "exp-1-vpc" not in {e["Name"] for e in other.list_exports()["Exports"]}
    assert "exp-1" not in [s["StackName"] for s in other.describe_stacks()["Stacks"]]
    with pytest.raises(ClientError) as err:
        other.describe_stacks(StackName=stack["StackId"])
    assert err.value.response["Error"]["Code"] == "ValidationError"

    # an imported export holds its stack
    cfn.delete_stack(StackName="exp-1")
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_delete_complete").wait(StackName="exp-1", WaiterConfig=FAST)
    held = cfn.describe_stacks(StackName="exp-1")["Stacks"][0]
    assert held["StackStatus"] == "DELETE_FAILED"
    assert held["StackStatusReason"] == "Export exp-1-vpc cannot be deleted as it is in use by imp-1"

    cfn.delete_stack(StackName="imp-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="imp-1", WaiterConfig=FAST)
    cfn.delete_stack(StackName="exp-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="exp-1", WaiterConfig=FAST)


def test_an_import_of_no_export_rolls_back(cfn):
    cfn.create_stack(StackName="imp-none", TemplateBody=body(CONSUMER))
    with pytest.raises(WaiterError):
        cfn.get_waiter("stack_create_complete").wait(StackName="imp-none", WaiterConfig=FAST)
    events = statuses(cfn, "imp-none")
    assert ("Subnet", "CREATE_FAILED", "No export named exp-1-vpc found") in events
    cfn.delete_stack(StackName="imp-none")


def test_termination_protection_and_validate_template(cfn):
    cfn.create_stack(StackName="prot-1", TemplateBody=body(SG), EnableTerminationProtection=True)
    wait(cfn, "stack_create_complete", "prot-1")
    with pytest.raises(ClientError) as err:
        cfn.delete_stack(StackName="prot-1")
    assert err.value.response["Error"]["Message"] == (
        "Stack [prot-1] cannot be deleted while TerminationProtection is enabled")
    cfn.update_termination_protection(StackName="prot-1", EnableTerminationProtection=False)
    cfn.delete_stack(StackName="prot-1")
    cfn.get_waiter("stack_delete_complete").wait(StackName="prot-1", WaiterConfig=FAST)
    checked = cfn.validate_template(TemplateBody=body(NETWORK))
    assert [p["ParameterKey"] for p in checked["Parameters"]] == ["Cidr", "SubnetCidr"]
    summary = cfn.get_template_summary(TemplateBody=body(NETWORK))
    assert summary["ResourceTypes"] == ["AWS::EC2::VPC", "AWS::EC2::Subnet"]
