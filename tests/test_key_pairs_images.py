"""Key pairs and the image catalogue through real boto3."""
from __future__ import annotations

import base64
import hashlib
import subprocess

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.errors import code_of, message_of

# --- key pairs -------------------------------------------------------------------------------------

def test_create_rsa_key_pair(ec2, tmp_path):
    key = ec2.create_key_pair(KeyName="lab-rsa", TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "Name", "Value": "lab"}]}])
    assert key["KeyName"] == "lab-rsa"
    assert key["KeyPairId"].startswith("key-") and len(key["KeyPairId"]) == 21
    assert key["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert key["Tags"] == [{"Key": "Name", "Value": "lab"}]
    # The fingerprint is the SHA-1 of the PKCS#8 DER private key, as AWS computes it.
    pem = tmp_path / "k.pem"
    pem.write_text(key["KeyMaterial"] + "\n")
    pem.chmod(0o600)
    der = subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", str(pem)],
                         capture_output=True, check=False)
    if der.returncode == 0:
        assert key["KeyFingerprint"] == ":".join(f"{b:02x}" for b in hashlib.sha1(der.stdout).digest())
    assert len(key["KeyFingerprint"].split(":")) == 20
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(pem)], capture_output=True, text=True, check=True).stdout
    got = ec2.describe_key_pairs(KeyNames=["lab-rsa"], IncludePublicKey=True)["KeyPairs"][0]
    assert got["KeyPairId"] == key["KeyPairId"] and got["KeyType"] == "rsa"
    assert got["KeyFingerprint"] == key["KeyFingerprint"]
    assert got["PublicKey"].split()[:2] == public.split()[:2]
    assert "CreateTime" in got
    assert "PublicKey" not in ec2.describe_key_pairs(KeyNames=["lab-rsa"])["KeyPairs"][0]
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName="lab-rsa")
    assert code_of(err) == "InvalidKeyPair.Duplicate"
    assert message_of(err) == "The keypair 'lab-rsa' already exists."
    ec2.delete_key_pair(KeyName="lab-rsa")
    assert ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["lab-rsa"]}])["KeyPairs"] == []


def test_create_ed25519_key_pair(ec2, tmp_path):
    key = ec2.create_key_pair(KeyName="lab-ed", KeyType="ed25519", KeyFormat="pem")
    assert key["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    pem = tmp_path / "k"
    pem.write_text(key["KeyMaterial"] + "\n")
    pem.chmod(0o600)
    public = subprocess.run(["ssh-keygen", "-y", "-f", str(pem)], capture_output=True, text=True, check=True).stdout
    blob = base64.b64decode(public.split()[1])
    assert key["KeyFingerprint"] == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    ec2.delete_key_pair(KeyPairId=key["KeyPairId"])
    with pytest.raises(ClientError) as err:
        ec2.describe_key_pairs(KeyPairIds=[key["KeyPairId"]])
    assert code_of(err) == "InvalidKeyPair.NotFound"


def test_import_key_pair(ec2, tmp_path):
    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", str(path)], check=True)
    public = (tmp_path / "id.pub").read_bytes()
    key = ec2.import_key_pair(KeyName="imported", PublicKeyMaterial=public)
    # Imported RSA keys: MD5 of the DER public key.
    der = subprocess.run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", str(tmp_path / "id.pub")],
                         capture_output=True, text=True, check=True).stdout
    body = base64.b64decode("".join(line for line in der.splitlines() if not line.startswith("-----")))
    assert key["KeyFingerprint"] == ":".join(f"{b:02x}" for b in hashlib.md5(body).digest())
    with pytest.raises(ClientError) as err:
        ec2.import_key_pair(KeyName="imported", PublicKeyMaterial=public)
    assert code_of(err) == "InvalidKeyPair.Duplicate"
    with pytest.raises(ClientError) as err:
        ec2.import_key_pair(KeyName="junk", PublicKeyMaterial=b"not a key")
    assert code_of(err) == "InvalidKey.Format"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "ed")], check=True)
    ed = ec2.import_key_pair(KeyName="imported-ed", PublicKeyMaterial=(tmp_path / "ed.pub").read_bytes())
    fp = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "ed.pub")],
                        capture_output=True, text=True, check=True).stdout.split()[1]
    assert ed["KeyFingerprint"].rstrip("=") == fp.removeprefix("SHA256:")
    got = ec2.describe_key_pairs(KeyNames=["imported-ed"])["KeyPairs"][0]
    assert got["KeyType"] == "ed25519"
    ec2.delete_key_pair(KeyName="imported")
    ec2.delete_key_pair(KeyName="imported-ed")


def test_key_pair_filters_errors_and_accounts(ec2, ec2_2):
    a = ec2.create_key_pair(KeyName="f-one")
    b = ec2.create_key_pair(KeyName="f-two", TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "env", "Value": "lab"}]}])

    def names(**kw):
        return sorted(k["KeyName"] for k in ec2.describe_key_pairs(**kw)["KeyPairs"])

    assert names(Filters=[{"Name": "key-name", "Values": ["f-*"]}]) == ["f-one", "f-two"]
    assert names(Filters=[{"Name": "key-pair-id", "Values": [a["KeyPairId"]]}]) == ["f-one"]
    assert names(Filters=[{"Name": "fingerprint", "Values": [b["KeyFingerprint"]]}]) == ["f-two"]
    assert names(Filters=[{"Name": "tag:env", "Values": ["lab"]}]) == ["f-two"]
    assert names(KeyPairIds=[a["KeyPairId"], b["KeyPairId"]]) == ["f-one", "f-two"]
    with pytest.raises(ClientError) as err:
        ec2.describe_key_pairs(KeyNames=["missing"])
    assert code_of(err) == "InvalidKeyPair.NotFound"
    assert message_of(err) == "The key pair 'missing' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName="x", KeyType="dsa")
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_key_pair(KeyName="dry", DryRun=True)
    assert code_of(err) == "DryRunOperation"
    assert names(KeyNames=["f-one"]) == ["f-one"]
    assert "dry" not in names()
    # Another account sees none of them, and may use the same names.
    assert [k for k in ec2_2.describe_key_pairs()["KeyPairs"] if k["KeyName"].startswith("f-")] == []
    with pytest.raises(ClientError) as err:
        ec2_2.describe_key_pairs(KeyPairIds=[a["KeyPairId"]])
    assert code_of(err) == "InvalidKeyPair.NotFound"
    theirs = ec2_2.create_key_pair(KeyName="f-one")
    assert theirs["KeyPairId"] != a["KeyPairId"]
    ec2_2.delete_key_pair(KeyName="f-one")
    # Deleting a missing name succeeds, as on AWS.
    assert ec2.delete_key_pair(KeyName="never-was")["Return"] is True
    ec2.delete_key_pair(KeyName="f-one")
    ec2.delete_key_pair(KeyPairId=b["KeyPairId"])
    assert names(Filters=[{"Name": "key-name", "Values": ["f-*"]}]) == []


def test_key_name_used_by_instances(ec2):
    ec2.create_key_pair(KeyName="lab-key")
    image = ec2.describe_images(Owners=["136693071363"], Filters=[
        {"Name": "architecture", "Values": ["x86_64"]}])["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             KeyName="lab-key")["Instances"][0]
    assert inst["KeyName"] == "lab-key"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    ec2.delete_key_pair(KeyName="lab-key")


# --- images ----------------------------------------------------------------------------------------

def test_catalogue(ec2):
    images = ec2.describe_images()["Images"]
    names = {i["Name"] for i in images}
    assert any(n.startswith("al2023-ami-2023") and n.endswith("x86_64") for n in names)
    assert any(n.startswith("al2023-ami-2023") and n.endswith("arm64") for n in names)
    assert any(n.startswith("debian-12-amd64") for n in names)
    assert any(n.startswith("debian-12-arm64") for n in names)
    assert any("ubuntu-noble-24.04-amd64" in n for n in names)
    assert any("ubuntu-noble-24.04-arm64" in n for n in names)
    for image in images:
        assert image["ImageId"].startswith("ami-") and len(image["ImageId"]) == 21
        assert image["State"] == "available" and image["Public"] is True
        assert image["RootDeviceType"] == "ebs" and image["RootDeviceName"].startswith("/dev/")
        assert image["PlatformDetails"] == "Linux/UNIX"
        assert image["BlockDeviceMappings"][0]["DeviceName"] == image["RootDeviceName"]
    al = [i for i in images if i["Name"].startswith("al2023")][0]
    assert al["OwnerId"] == "137112412989" and al["ImageOwnerAlias"] == "amazon"
    # Ids are fixed: the same in every call and account, different per region.
    again = ec2.describe_images(ImageIds=[al["ImageId"]])["Images"]
    assert again == [al]


def test_ids_per_region(shared_server, ec2, ec2_2):
    ours = {i["Name"]: i["ImageId"] for i in ec2.describe_images()["Images"]}
    theirs = {i["Name"]: i["ImageId"] for i in ec2_2.describe_images()["Images"]}
    assert ours == theirs
    east = shared_server.client("ec2", region="us-east-1")
    east_ids = {i["Name"]: i["ImageId"] for i in east.describe_images()["Images"]}
    assert east_ids.keys() == ours.keys()
    assert not set(east_ids.values()) & set(ours.values())
    with pytest.raises(ClientError) as err:
        east.run_instances(ImageId=next(iter(ours.values())), InstanceType="t2.micro", MinCount=1, MaxCount=1)
    assert code_of(err) == "InvalidAMIID.NotFound"


def test_owners_and_filters(ec2):
    def names(**kw):
        return {i["Name"] for i in ec2.describe_images(**kw)["Images"]}

    assert all(n.startswith(("al2023", "amzn2")) for n in names(Owners=["amazon"]))
    assert names(Owners=["amazon"]) == names(Owners=["137112412989"])
    assert all(n.startswith("debian-12") for n in names(Owners=["136693071363"]))
    assert all(n.startswith("ubuntu/") for n in names(Owners=["099720109477"]))
    assert names(Owners=["self"]) == set()
    assert names(Owners=[ACCOUNT_1]) == set()
    arm = names(Filters=[{"Name": "architecture", "Values": ["arm64"]}])
    assert arm and all("arm64" in n for n in arm)
    assert names(Filters=[{"Name": "owner-alias", "Values": ["amazon"]}]) == names(Owners=["amazon"])
    assert names(Filters=[{"Name": "owner-id", "Values": ["136693071363"]}]) == names(Owners=["136693071363"])
    assert names(Filters=[{"Name": "name", "Values": ["debian-12-amd64-*"]}, {"Name": "state", "Values": ["available"]},
                          {"Name": "platform-details", "Values": ["Linux/UNIX"]}]) == \
        {n for n in names() if n.startswith("debian-12-amd64-")}
    ids = [i["ImageId"] for i in ec2.describe_images(Filters=[{"Name": "name", "Values": ["al2023*"]}])["Images"]]
    assert names(Filters=[{"Name": "image-id", "Values": ids[:1]}]) == names(ImageIds=ids[:1])
    pages = list(ec2.get_paginator("describe_images").paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) >= 2 and sum(len(p["Images"]) for p in pages) == len(names())


def test_image_errors(ec2):
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-12345678"])
    assert code_of(err) == "InvalidAMIID.NotFound"
    assert message_of(err) == "The image id '[ami-12345678]' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.describe_images(ImageIds=["ami-nope"])
    assert code_of(err) == "InvalidAMIID.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.describe_images(Filters=[{"Name": "bogus", "Values": ["1"]}])
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_images(DryRun=True)
    assert code_of(err) == "DryRunOperation"


def test_arm_image_needs_arm_type(ec2):
    arm = ec2.describe_images(Owners=["099720109477"], Filters=[
        {"Name": "architecture", "Values": ["arm64"]}, {"Name": "name", "Values": ["*noble*"]}])["Images"][0]
    inst = ec2.run_instances(ImageId=arm["ImageId"], InstanceType="t4g.small", MinCount=1, MaxCount=1)["Instances"][0]
    assert inst["Architecture"] == "arm64" and inst["RootDeviceName"] == "/dev/sda1"
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId=arm["ImageId"], InstanceType="t3.small", MinCount=1, MaxCount=1)
    assert code_of(err) == "InvalidParameterValue"
    assert "architecture" in message_of(err)
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
