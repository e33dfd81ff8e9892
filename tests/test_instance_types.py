"""DescribeInstanceTypes through real boto3: the catalogue RunInstances accepts, filtered
by architecture (what the console's Launch instances page offers for an image), paged."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def test_the_catalogue_is_what_run_instances_accepts(ec2):
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    assert types["t2.micro"]["VCpuInfo"]["DefaultVCpus"] == 1
    assert types["t2.micro"]["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
    assert types["t4g.micro"]["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
    assert types["m5.large"]["VCpuInfo"] == {"DefaultVCpus": 2, "DefaultCores": 1, "DefaultThreadsPerCore": 2}
    assert types["t2.micro"]["MemoryInfo"] == {"SizeInMiB": 1024}  # what its instances' cgroups allow
    assert types["t3.nano"]["MemoryInfo"] == {"SizeInMiB": 512}
    assert types["m5.large"]["MemoryInfo"] == {"SizeInMiB": 8192}
    assert "t9.huge" not in types
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=image, InstanceType="t9.huge", MinCount=1, MaxCount=1)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_filters_by_architecture_and_names(ec2):
    arm = ec2.describe_instance_types(Filters=[
        {"Name": "processor-info.supported-architecture", "Values": ["arm64"]}])["InstanceTypes"]
    assert arm and all(t["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"] for t in arm)
    assert "t2.micro" not in {t["InstanceType"] for t in arm}
    named = ec2.describe_instance_types(InstanceTypes=["t2.micro", "t3.micro"])["InstanceTypes"]
    assert sorted(t["InstanceType"] for t in named) == ["t2.micro", "t3.micro"]
    micro = ec2.describe_instance_types(Filters=[{"Name": "instance-type", "Values": ["t*.micro"]}])["InstanceTypes"]
    assert {t["InstanceType"] for t in micro} == {"t2.micro", "t3.micro", "t3a.micro", "t4g.micro"}
    half = ec2.describe_instance_types(Filters=[{"Name": "memory-info.size-in-mib", "Values": ["512"]}])["InstanceTypes"]
    assert {t["InstanceType"] for t in half} == {"t2.nano", "t3.nano", "t3a.nano", "t4g.nano"}


def test_an_unknown_type_is_aws_error(ec2):
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(InstanceTypes=["t2.micro", "t9.huge"])
    assert err.value.response["Error"]["Code"] == "InvalidInstanceType"
    assert "t9.huge" in err.value.response["Error"]["Message"]


def test_pages_of_at_most_100(ec2):
    everything = ec2.describe_instance_types()["InstanceTypes"]
    pages = list(ec2.get_paginator("describe_instance_types").paginate(PaginationConfig={"PageSize": 20}))
    assert all(len(p["InstanceTypes"]) <= 20 for p in pages)
    assert [t["InstanceType"] for p in pages for t in p["InstanceTypes"]] == [t["InstanceType"] for t in everything]
    with pytest.raises(ClientError) as err:
        ec2.describe_instance_types(MaxResults=101)
    assert err.value.response["Error"]["Code"] == "InvalidParameterValue"
