def test_describe_vpcs_gives_default_vpc(ec2):
    vpcs = ec2.describe_vpcs()["Vpcs"]
    assert [v["CidrBlock"] for v in vpcs] == ["172.31.0.0/16"]
    assert vpcs[0]["IsDefault"] is True


def test_create_and_delete_vpc(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "lab"}]}])["Vpc"]
    got = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["lab"]}])["Vpcs"]
    assert [v["VpcId"] for v in got] == [vpc["VpcId"]]
    ec2.delete_vpc(VpcId=vpc["VpcId"])
    import botocore.exceptions, pytest
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])
    assert err.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"


def test_sts(shared_server):
    sts = shared_server.client("sts", "222222222222")
    assert sts.get_caller_identity()["Account"] == "222222222222"
