"""Images: a fixed catalogue of public AMIs that RunInstances accepts, and DescribeImages.

vpclab does not register or copy images. Each region offers the same handful of public
Linux images (Amazon Linux 2023 and 2, Debian 12, Ubuntu 24.04 and 22.04, each for x86_64
and arm64), under the owners AWS publishes them with. Their ids are fixed per region:
`ami-` and 17 hex digits derived from the region and the image name, so a script that
found an id once keeps working, and the same name has a different id in each region as
on AWS. `distribution` tells the data plane which userland an instance expects. The
Amazon Linux 2023 images have `ImdsSupport` `v2.0`, as AWS publishes them (their
instances require IMDSv2); the others have none.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError
from ..common.filters import filter_and_page
from ..common.lookup import IMAGE
from .regions import zones

AMAZON = "137112412989"  # alias "amazon"
DEBIAN = "136693071363"
CANONICAL = "099720109477"

#: Owner aliases DescribeImages' Owners accepts, and the accounts they stand for.
OWNER_ALIASES = {"amazon": AMAZON}


@dataclass(frozen=True)
class Image:
    name: str
    description: str
    owner_id: str
    owner_alias: str | None
    architecture: str  # x86_64 | arm64
    root_device_name: str
    creation_date: str
    distribution: str  # amazon-linux-2023 | amazon-linux-2 | debian-12 | ubuntu-24.04 | ubuntu-22.04
    boot_mode: str = "uefi-preferred"
    volume_size: int = 8
    # "v2.0": instances launched from it require IMDSv2 (`instance_metadata.defaults`).
    imds_support: str | None = None

    def image_id(self, region: str) -> str:
        return "ami-" + hashlib.sha256(f"vpclab:{region}:{self.name}".encode()).hexdigest()[:17]

    def snapshot_id(self, region: str) -> str:
        return "snap-" + hashlib.sha256(f"vpclab:snap:{region}:{self.name}".encode()).hexdigest()[:17]


def _catalogue() -> list[Image]:
    out: list[Image] = []
    for arch, deb, ubu in (("x86_64", "amd64", "amd64"), ("arm64", "arm64", "arm64")):
        out += [
            Image(f"al2023-ami-2023.6.20241121.0-kernel-6.1-{arch}",
                  f"Amazon Linux 2023 AMI 2023.6.20241121.0 {arch} HVM kernel-6.1",
                  AMAZON, "amazon", arch, "/dev/xvda", "2024-11-19T22:04:52.000Z", "amazon-linux-2023",
                  imds_support="v2.0"),
            Image(f"amzn2-ami-kernel-5.10-hvm-2.0.20241113.1-{arch}-gp2",
                  "Amazon Linux 2 Kernel 5.10 AMI 2.0.20241113.1 " + arch + " HVM gp2",
                  AMAZON, "amazon", arch, "/dev/xvda", "2024-11-14T18:32:10.000Z", "amazon-linux-2",
                  boot_mode="legacy-bios" if arch == "x86_64" else "uefi"),
            Image(f"debian-12-{deb}-20241201-1948",
                  "Debian 12 (20241201-1948)",
                  DEBIAN, None, arch, "/dev/xvda", "2024-12-01T20:13:18.000Z", "debian-12"),
            Image(f"ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{ubu}-server-20241119",
                  f"Canonical, Ubuntu, 24.04, {ubu} noble image",
                  CANONICAL, None, arch, "/dev/sda1", "2024-11-19T18:09:11.000Z", "ubuntu-24.04"),
            Image(f"ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-{ubu}-server-20241109",
                  f"Canonical, Ubuntu, 22.04 LTS, {ubu} jammy image build on 2024-11-09",
                  CANONICAL, None, arch, "/dev/sda1", "2024-11-09T09:12:44.000Z", "ubuntu-22.04"),
        ]
    return out


IMAGES: list[Image] = _catalogue()


def find_image(region: str, image_id: str) -> Image | None:
    """The catalogue image with id `image_id` in `region`, if there is one."""
    zones(region)
    return next((i for i in IMAGES if i.image_id(region) == image_id), None)


def image_not_found(ids: list[str] | str) -> AwsError:
    if isinstance(ids, str):
        ids = [ids]
    # AWS puts the ids in brackets here, unlike most NotFound messages.
    if len(ids) == 1:
        return AwsError(f"The image id '[{ids[0]}]' does not exist", code="InvalidAMIID.NotFound")
    return AwsError(f"The image ids '[{', '.join(ids)}]' do not exist", code="InvalidAMIID.NotFound")


def get_image(region: str, image_id: str) -> Image:
    """The image RunInstances was asked for, or AWS's Malformed / NotFound error."""
    IMAGE.check(image_id)
    image = find_image(region, image_id)
    if image is None:
        raise image_not_found(image_id)
    return image


def render(image: Image, region: str) -> dict:
    return {
        "ImageId": image.image_id(region),
        "ImageLocation": f"{image.owner_alias or image.owner_id}/{image.name}",
        "State": "available",
        "OwnerId": image.owner_id,
        "ImageOwnerAlias": image.owner_alias,
        "CreationDate": image.creation_date,
        "Public": True,
        "Architecture": image.architecture,
        "ImageType": "machine",
        "Name": image.name,
        "Description": image.description,
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "RootDeviceName": image.root_device_name,
        "RootDeviceType": "ebs",
        "VirtualizationType": "hvm",
        "Hypervisor": "xen",
        "EnaSupport": True,
        "SriovNetSupport": "simple",
        "BootMode": image.boot_mode,
        "ImdsSupport": image.imds_support,
        "BlockDeviceMappings": [{
            "DeviceName": image.root_device_name,
            "Ebs": {
                "DeleteOnTermination": True,
                "SnapshotId": image.snapshot_id(region),
                "VolumeSize": image.volume_size,
                "VolumeType": "gp3" if "gp2" not in image.name else "gp2",
                "Encrypted": False,
            },
        }],
    }


FILTERS = {
    "image-id": lambda r: r["ImageId"],
    "name": lambda r: r["Name"],
    "description": lambda r: r["Description"],
    "owner-id": lambda r: r["OwnerId"],
    "owner-alias": lambda r: r["ImageOwnerAlias"],
    "architecture": lambda r: r["Architecture"],
    "state": lambda r: r["State"],
    "platform-details": lambda r: r["PlatformDetails"],
    "usage-operation": lambda r: r["UsageOperation"],
    "image-type": lambda r: r["ImageType"],
    "is-public": lambda r: r["Public"],
    "root-device-name": lambda r: r["RootDeviceName"],
    "root-device-type": lambda r: r["RootDeviceType"],
    "virtualization-type": lambda r: r["VirtualizationType"],
    "hypervisor": lambda r: r["Hypervisor"],
    "ena-support": lambda r: r["EnaSupport"],
    "manifest-location": lambda r: r["ImageLocation"],
    "creation-date": lambda r: r["CreationDate"],
    "boot-mode": lambda r: r["BootMode"],
    "block-device-mapping.device-name": lambda r: r["BlockDeviceMappings"][0]["DeviceName"],
    "block-device-mapping.snapshot-id": lambda r: r["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"],
    "block-device-mapping.volume-size": lambda r: r["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"],
    "block-device-mapping.volume-type": lambda r: r["BlockDeviceMappings"][0]["Ebs"]["VolumeType"],
    "block-device-mapping.delete-on-termination": lambda r: True,
    "block-device-mapping.encrypted": lambda r: False,
}


def _owned_by(image: Image, owners: list[str], account: str) -> bool:
    for owner in owners:
        if owner == "self":
            owner = account  # the caller owns none of the catalogue
        owner = OWNER_ALIASES.get(owner, owner)
        if owner == image.owner_id:
            return True
    return False


@operation("ec2", "DescribeImages")
def describe_images(ctx: RequestContext, req: dict) -> dict:
    ids = req.get("ImageIds") or []
    for image_id in ids:
        IMAGE.check(image_id)
    images = list(IMAGES)
    if ids:
        known = {i.image_id(ctx.region): i for i in images}
        missing = [i for i in ids if i not in known]
        if missing:
            raise image_not_found(missing)
        images = [i for i in images if i.image_id(ctx.region) in ids]
    owners = req.get("Owners")
    if owners:
        images = [i for i in images if _owned_by(i, owners, ctx.account)]
    rows = [render(i, ctx.region) for i in images]
    page, token = filter_and_page(rows, req.get("Filters"), FILTERS, tags=lambda r: {},
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"Images": page, "NextToken": token}
