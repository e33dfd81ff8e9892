"""The lab can be run again, next to what else the accounts hold, and cleans up only what
it made (by its tags); a failed lab says what it left and that its server still runs.

Real runs of `vpclab lab privatelink` (subprocesses), with the data plane where traffic
is part of the run.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.lab import processes_of, run_lab
from tests.helpers.server import ServerProcess, free_port
from vpclab.kernel import naming, netns


def report(result: subprocess.CompletedProcess) -> dict:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    return json.loads(result.stdout)


def walk_through(srv) -> dict[str, str]:
    """What the README's AWS CLI walk-through leaves in account 1 (and a group named like
    the lab's first one), none of it tagged by the lab."""
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    wizard = ec2.create_security_group(GroupName="launch-wizard-1", Description="mine", VpcId=vpc)["GroupId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                                 SecurityGroupIds=[web])["Instances"][0]["InstanceId"]
    tg = elb.create_target_group(Name="demo-service-tg", Protocol="TCP", Port=80, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="demo-service-nlb", Type="network", Subnets=subnets,
                                  SecurityGroups=[web])["LoadBalancers"][0]["LoadBalancerArn"]
    return {"web": web, "wizard": wizard, "instance": instance, "tg": tg, "lb": lb}


def still_there(srv, mine: dict[str, str]) -> None:
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    groups = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert {mine["web"], mine["wizard"]} <= groups
    inst = ec2.describe_instances(InstanceIds=[mine["instance"]])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "running"
    assert elb.describe_target_groups(TargetGroupArns=[mine["tg"]])["TargetGroups"]
    assert elb.describe_load_balancers(LoadBalancerArns=[mine["lb"]])["LoadBalancers"]


def lab_tagged(srv) -> list[str]:
    """Every EC2 resource in either account that carries the lab's tag."""
    found = []
    for account in (ACCOUNT_1, ACCOUNT_2):
        ec2 = srv.client("ec2", account)
        flt = [{"Name": "tag-key", "Values": ["vpclab:lab"]}]
        found += [i["InstanceId"] for r in ec2.describe_instances(Filters=flt)["Reservations"]
                  for i in r["Instances"] if i["State"]["Name"] != "terminated"]
        found += [g["GroupId"] for g in ec2.describe_security_groups(Filters=flt)["SecurityGroups"]]
        found += [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=flt)["VpcEndpoints"]
                  if e["State"] != "deleted"]
    return found


def test_lab_again_after_the_walk_through_and_a_kept_run(fast_dataplane_server):
    srv = fast_dataplane_server
    sd = srv.state_dir
    mine = walk_through(srv)

    kept = report(run_lab(sd, "--keep", "--json"))
    assert kept["outcome"] == "kept", kept
    steps = {s["step"]: s for s in kept["steps"]}
    assert steps["Step 1.2"]["ids"]["group"] == "launch-wizard-2"  # launch-wizard-1 is the user's
    assert kept["server"] == {"pid": srv.proc.pid, "started_by_lab": False, "running": True}

    again = report(run_lab(sd, "--json"))
    assert again["outcome"] == "ok", [s for s in again["steps"] if s["outcome"] == "failed"]
    steps = {s["step"]: s for s in again["steps"]}
    assert steps["Step 1.2"]["ids"]["group"] == "launch-wizard-3"
    assert "<title>Welcome to nginx!</title>" in again["curl_output"]
    assert "Step 3.8" not in steps  # not the lab's server: left running
    still_there(srv, mine)
    assert lab_tagged(srv)  # the kept run's things are still there

    cleanup = report(run_lab(sd, "--cleanup", "--json"))
    assert cleanup["outcome"] == "ok", cleanup
    found = {s["step"]: s for s in cleanup["steps"]}["Step 3.0"]["ids"]
    assert found[f"{ACCOUNT_1}:instances"] == "1" and found[f"{ACCOUNT_2}:endpoints"] == "1", found
    assert lab_tagged(srv) == []
    still_there(srv, mine)
    assert srv.proc.poll() is None  # the server the lab did not start keeps running


@pytest.mark.netns
def test_failed_lab_says_what_it_left_and_that_its_server_runs(tmp_path):
    """Account 2 has no default subnets, so its RunInstances fails (MissingInput); the lab
    started its own server, says it still runs and how to stop it, and `--cleanup`
    removes what the run made and stops that server."""
    sd = tmp_path / "lab"
    srv = ServerProcess(sd, free_port()).start()
    ec2 = srv.client("ec2", ACCOUNT_2)
    for subnet in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    srv.stop()
    try:
        failed = run_lab(sd, "--json")
        assert failed.returncode == 1
        out = report(failed)
        assert out["outcome"] == "failed" and out["failed_step"] == "Step 2.1", out["failed_step"]
        assert out["server"]["started_by_lab"] and out["server"]["running"]
        pid = out["server"]["pid"]
        assert Path(f"/proc/{pid}").exists()
        text = " ".join(out["next"])
        assert f"vpclab lab privatelink --cleanup --state-dir {sd}" in text
        assert f"The lab's server (pid {pid}" in text and f"vpclab down --state-dir {sd}" in text

        # The same, for a person.
        plain = run_lab(sd)
        assert plain.returncode == 1 and "Traceback" not in plain.stdout + plain.stderr
        assert "is still running" not in plain.stdout  # this run found the server running
        assert f"The server at {out['endpoint_url']} (pid {pid}) keeps running" in plain.stdout

        cleanup = report(run_lab(sd, "--cleanup", "--json"))
        assert cleanup["outcome"] == "ok", cleanup
        assert "Step 3.8" in {s["step"] for s in cleanup["steps"]}
        assert cleanup["server"]["running"] is False
        assert netns.list_namespaces(naming.prefix_for_state_dir(sd)) == []
        assert processes_of(sd) == []
    finally:
        from vpclab.commands.down import tear_down

        tear_down(sd)


def test_cleanup_that_cannot_says_what_does(server):
    """A lab-tagged endpoint service that another account's endpoint (not the lab's) still
    connects to cannot be deleted (ExistingVpcEndpointConnections): `--cleanup` fails in
    one step and names the commands that remove everything (`vpclab down`, then removing
    the state directory). Control plane only: cleanup needs no data plane."""
    from vpclab.lab.tagged import tag_specification, tags

    ec2_1, elb_1, ec2_2 = server.client("ec2", ACCOUNT_1), server.client("elbv2", ACCOUNT_1), \
        server.client("ec2", ACCOUNT_2)
    subnets = [s["SubnetId"] for s in ec2_1.describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    lb = elb_1.create_load_balancer(Name="lab-nlb", Type="network", Subnets=subnets,
                                    Tags=tags("privatelink", "r1"))["LoadBalancers"][0]["LoadBalancerArn"]
    svc = ec2_1.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb], AcceptanceRequired=True,
        TagSpecifications=[tag_specification("vpc-endpoint-service", "privatelink", "r1")])["ServiceConfiguration"]
    ec2_1.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"],
                                                  AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    vpc2 = ec2_2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets2 = [s["SubnetId"] for s in ec2_2.describe_subnets()["Subnets"]]
    ec2_2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc2, ServiceName=svc["ServiceName"],
                              SubnetIds=subnets2[:1])  # not the lab's: no lab tags

    result = run_lab(server.state_dir, "--cleanup", "--json")
    assert result.returncode == 1
    out = report(result)
    assert out["failed_step"] == "Step 3.2"
    failed = {s["step"]: s for s in out["steps"]}["Step 3.2"]
    assert "ExistingVpcEndpointConnections" in failed["detail"], failed
    text = " ".join(out["next"])
    assert f"vpclab down --state-dir {server.state_dir}" in text and f"rm -rf {server.state_dir}" in text
    assert "left for inspection" not in text
    assert server.proc.poll() is None  # not the lab's server: still running
