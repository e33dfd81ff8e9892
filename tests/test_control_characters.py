"""Control characters in stored text: refused as AWS refuses them, and never echoed into
XML that an SDK cannot parse.

The fuzzer's repro: a tag value, key-pair name or security-group name/description with a
C0 control character was stored, and every later Describe of the account (also after a
restart) answered a document botocore could not parse. Now each field is validated where
it is decided, and the serializer replaces what XML 1.0 cannot carry, so state stored
before the validation existed still reads.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest
import requests

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.errors import code_of, message_of
from tests.helpers.server import ServerProcess, free_port
from vpclab.model import KINDS
from vpclab.model.ec2 import KeyPair, SecurityGroup, Vpc
from vpclab.store import open_store


def test_tag_value_with_control_character_is_refused(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.51.0.0/16")["Vpc"]["VpcId"]
    for key, value in [("k", "bad\x01value"), ("bad\x1bkey", "v"), ("k", "nul\x00")]:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            ec2.create_tags(Resources=[vpc], Tags=[{"Key": key, "Value": value}])
        assert code_of(err) == "InvalidParameterValue"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.create_vpc(CidrBlock="10.52.0.0/16", TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "x\x07"}]}])
    assert code_of(err) == "InvalidParameterValue"
    # EC2 takes any other Unicode character, tab, newline and CR included, and gives it back.
    odd = "tab\there\nnew\rline <&> ünï 😀"
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "odd", "Value": odd}])
    tags = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]
    assert {"Key": "odd", "Value": odd} in tags


def test_key_pair_name_with_control_character_is_refused(ec2):
    for name in ["bell\x07", "tab\tname", "del\x7f"]:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            ec2.create_key_pair(KeyName=name)
        assert code_of(err) == "InvalidParameterValue"
    assert not [k for k in ec2.describe_key_pairs()["KeyPairs"] if not k["KeyName"].isprintable()]


@pytest.mark.parametrize("name,description,noun", [
    ("esc\x1bname", "fine", "name"),
    ("fine-ctl", "nul\x00", "description"),
    ("apostrophe's", "fine", "name"),
    ("fine-quote", 'say "hi"', "description"),
])
def test_security_group_text_outside_aws_set_is_refused(ec2, name, description, noun):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.create_security_group(GroupName=name, Description=description)
    assert code_of(err) == "InvalidParameterValue"
    assert message_of(err).startswith(f"Invalid security group {noun}. Valid ")
    assert "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*" in message_of(err)


def test_security_group_non_ascii_says_so(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        ec2.create_security_group(GroupName="ok", Description="セキュリティグループ")
    assert code_of(err) == "InvalidParameterValue"
    assert message_of(err) == ("Value (セキュリティグループ) for parameter GroupDescription is invalid. "
                               "Character sets beyond ASCII are not supported.")


def test_every_allowed_character_is_accepted(ec2):
    text = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
    gid = ec2.create_security_group(GroupName=text, Description=text)["GroupId"]
    group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
    assert group["GroupName"] == text and group["Description"] == text


def test_error_message_echoing_a_control_character_is_well_formed(shared_server):
    """A message quoting the bad value (non-ASCII key name) stays parseable XML."""
    body = {"Action": "CreateKeyPair", "Version": "2016-11-15", "KeyName": "é\x01\x02"}
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCOUNT_1}/20240101/{REGION}/ec2/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=0123456789abcdef",
        "X-Amz-Date": "20240101T000000Z",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }
    resp = requests.post(shared_server.url + "/", data=body, headers=headers, timeout=30)
    assert resp.status_code == 400
    root = ET.fromstring(resp.content)
    assert root.find("./Errors/Error/Code").text == "InvalidParameterValue"
    assert "é\ufffd\ufffd" in root.find("./Errors/Error/Message").text


def test_bad_state_stored_before_validation_still_reads_after_restart(tmp_path):
    """A store pre-seeded with control characters (as the fuzzer left it before the fix):
    every Describe answers well-formed XML, the bad characters shown as U+FFFD."""
    state = tmp_path / "state"
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        vpc_id = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
        gid = ec2.create_security_group(GroupName="seed", Description="seed", VpcId=vpc_id)["GroupId"]
        key_id = ec2.create_key_pair(KeyName="seed")["KeyPairId"]
    finally:
        srv.stop()

    store = open_store(state, KINDS)
    try:
        with store.write() as tx:
            vpc = tx.get(Vpc, vpc_id)
            vpc.tags = {"Name": "bad\x01value\x1b", "bad\x02key": "v", "cr": "a\rb", "sur": "x\ud800y"}
            tx.put(vpc)
            group = tx.get(SecurityGroup, gid)
            group.group_name, group.description = "grp\x03", "desc\x00"
            tx.put(group)
            key = tx.get(KeyPair, key_id)
            key.key_name = "key\x07"
            tx.put(key)
    finally:
        store.close()

    srv = ServerProcess(state, srv.port).start()
    try:
        ec2 = srv.client("ec2")
        tags = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Tags"]}
        assert tags == {"Name": "bad\ufffdvalue\ufffd", "bad\ufffdkey": "v", "cr": "a\rb", "sur": "x\ufffdy"}
        described = {t["Value"] for t in ec2.describe_tags()["Tags"]}
        assert "bad\ufffdvalue\ufffd" in described
        group = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
        assert (group["GroupName"], group["Description"]) == ("grp\ufffd", "desc\ufffd")
        assert "key\ufffd" in {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]}
        assert ec2.describe_instances()["Reservations"] == []
        assert "Traceback" not in srv.log()
    finally:
        srv.stop()


def test_elbv2_tag_outside_model_pattern_is_a_validation_error(shared_server):
    """ELBv2 tags follow the model's pattern (letters, separators, numbers, _.:/=+-@)."""
    elb, ec2 = shared_server.client("elbv2"), shared_server.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    arn = elb.create_target_group(Name="ctl-chars", Protocol="TCP", Port=80, VpcId=vpc,
                                  Tags=[{"Key": "ok Ünï 1", "Value": "a_.:/=+-@ z"}])["TargetGroups"][0]["TargetGroupArn"]
    for key, value in [("k", "bad\x01"), ("bad\x1b", "v"), ("k", "comma,"), ("k", "quote'")]:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            elb.add_tags(ResourceArns=[arn], Tags=[{"Key": key, "Value": value}])
        assert code_of(err) == "ValidationError"
        assert "Member must satisfy regular expression pattern" in message_of(err)
    tags = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]
    assert tags == [{"Key": "ok Ünï 1", "Value": "a_.:/=+-@ z"}]
