"""EBS volumes: DescribeVolumes, CreateVolume, AttachVolume, DetachVolume, DeleteVolume.

DescribeVolumes answers with two kinds of volume. The root volume every instance shows
is derived from the instance (`volume_attachments.root_volume_id`): its size, type and
snapshot are its image's, it is `in-use` and attached at the root device, and it is gone
once the instance is terminated. Volumes CreateVolume makes are stored records: vpclab
gives an instance no block device of its own, so attaching one changes what the API
shows (here and in the instance's BlockDeviceMappings), not what the instance sees.

A stored volume is `creating` for `lifecycle.SETTLE_DELAY` after CreateVolume, then
`available`, `in-use` while an attachment lives (`volume_attachments.py`).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from ...model.ec2 import Instance, Volume, VolumeAttachment
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.lifecycle import SETTLE_DELAY
from ..common.lookup import INSTANCE, VOLUME, find_owned, get_owned
from ..common.tags import tag_list, tags_from_specs
from .images import find_image
from .images import render as render_image
from .instances import get_instances, root_device_name, visible_instances
from .regions import zone_by_id, zone_by_name
from .volume_attachments import (
    has_root_volume,
    instance_attachments,
    live_attachments,
    root_volume_id,
)


#: Sizes each type takes, GiB (the EBS user guide's volume types).
SIZE_RANGES = {"gp2": (1, 16384), "gp3": (1, 16384), "io1": (4, 16384), "io2": (4, 65536),
               "st1": (125, 16384), "sc1": (125, 16384), "standard": (1, 1024)}

#: gp3's baseline, which it has unless the request asks for more.
GP3_IOPS, GP3_THROUGHPUT = 3000, 125


def _gp2_iops(size: int) -> int:
    """gp2's baseline: 3 IOPS per GiB, at least 100, at most 16,000."""
    return min(16000, max(100, 3 * size))


def _performance(volume_type: str, size: int, iops: int | None, throughput: int | None) -> tuple[int | None, int | None]:
    if volume_type == "gp3":
        return iops or GP3_IOPS, throughput or GP3_THROUGHPUT
    if volume_type == "gp2":
        return _gp2_iops(size), None
    return iops, None


# --- Rendering -------------------------------------------------------------------------

def _zone_id(region: str, name: str) -> str | None:
    zone = zone_by_name(region, name)
    return zone.zone_id if zone else None


def _attachment_view(volume_id: str, instance_id: str, device: str, state: str, attach_time: float,
                     delete_on_termination: bool) -> dict:
    return {"AttachTime": attach_time, "Device": device, "InstanceId": instance_id, "State": state,
            "VolumeId": volume_id, "DeleteOnTermination": delete_on_termination}


def _root_volume(inst: Instance) -> dict:
    """The root volume `inst` shows, as DescribeVolumes reports it."""
    image = find_image(inst.region, inst.image_id)
    ebs = render_image(image, inst.region)["BlockDeviceMappings"][0]["Ebs"] if image else {}
    size = int(ebs.get("VolumeSize", 8))
    volume_type = str(ebs.get("VolumeType", "gp3"))
    iops, throughput = _performance(volume_type, size, None, None)
    vol_id = root_volume_id(inst)
    return {
        "VolumeId": vol_id,
        "Size": size,
        "SnapshotId": ebs.get("SnapshotId", ""),
        "AvailabilityZone": inst.availability_zone,
        "AvailabilityZoneId": _zone_id(inst.region, inst.availability_zone),
        "State": "in-use",
        "CreateTime": inst.launch_time,
        "Attachments": [_attachment_view(vol_id, inst.id, root_device_name(inst), "attached", inst.launch_time, True)],
        "Encrypted": bool(ebs.get("Encrypted", False)),
        "VolumeType": volume_type,
        "Iops": iops,
        "Throughput": throughput,
        "MultiAttachEnabled": False,
        "OwnerId": inst.account,
        "Tags": [],
        "VolumeArn": f"arn:aws:ec2:{inst.region}:{inst.account}:volume/{vol_id}",
    }


def _state(tx: Transaction, vol: Volume, now: float) -> str:
    if now - vol.created < SETTLE_DELAY:
        return "creating"
    return "in-use" if live_attachments(tx, vol, now) else "available"


def render(tx: Transaction, vol: Volume, now: float) -> dict:
    attachments = [_attachment_view(vol.id, a.attachment.instance_id, a.attachment.device, a.state,
                                    a.attachment.attach_time, a.attachment.delete_on_termination)
                   for a in live_attachments(tx, vol, now)]
    return {
        "VolumeId": vol.id,
        "Size": vol.size,
        "SnapshotId": vol.snapshot_id,
        "AvailabilityZone": vol.availability_zone,
        "AvailabilityZoneId": _zone_id(vol.region, vol.availability_zone),
        "State": _state(tx, vol, now),
        "CreateTime": vol.created,
        "Attachments": attachments,
        "Encrypted": vol.encrypted,
        "VolumeType": vol.volume_type,
        "Iops": vol.iops,
        "Throughput": vol.throughput,
        "MultiAttachEnabled": vol.multi_attach_enabled,
        "OwnerId": vol.account,
        "Tags": tag_list(vol.tags) or [],
        "VolumeArn": f"arn:aws:ec2:{vol.region}:{vol.account}:volume/{vol.id}",
    }


def _stored(tx: Transaction, ctx: RequestContext) -> list[Volume]:
    return tx.list(Volume, ctx.account, ctx.region)


def _get_volume(tx: Transaction, ctx: RequestContext, volume_id: str) -> Volume:
    return get_owned(tx, ctx, Volume, volume_id, VOLUME)


def _root_owner(tx: Transaction, ctx: RequestContext, volume_id: str) -> Instance | None:
    """The instance whose root volume `volume_id` is, if it is one."""
    for inst in visible_instances(tx, ctx):
        if has_root_volume(inst) and root_volume_id(inst) == volume_id:
            return inst
    return None


# --- DescribeVolumes -------------------------------------------------------------------

def _attached(key: str) -> Callable[[dict], list]:
    return lambda v: [a.get(key) for a in v["Attachments"]]


FILTERS = {
    "volume-id": lambda v: v["VolumeId"],
    "attachment.instance-id": _attached("InstanceId"),
    "attachment.device": _attached("Device"),
    "attachment.status": _attached("State"),
    "attachment.delete-on-termination": _attached("DeleteOnTermination"),
    "availability-zone": lambda v: v["AvailabilityZone"],
    "availability-zone-id": lambda v: v["AvailabilityZoneId"],
    "encrypted": lambda v: v["Encrypted"],
    "multi-attach-enabled": lambda v: v["MultiAttachEnabled"],
    "size": lambda v: v["Size"],
    "snapshot-id": lambda v: v["SnapshotId"],
    "status": lambda v: v["State"],
    "volume-type": lambda v: v["VolumeType"],
    "owner-id": lambda v: v["OwnerId"],
}


@operation("ec2", "DescribeVolumes")
def describe_volumes(ctx: RequestContext, req: dict) -> dict:
    now = ctx.now.timestamp()
    with ctx.read() as tx:
        rows = [_root_volume(i) for i in visible_instances(tx, ctx) if has_root_volume(i)]
        rows += [render(tx, v, now) for v in _stored(tx, ctx)]
    rows = VOLUME.select(rows, req.get("VolumeIds"), lambda r: r["VolumeId"])
    page, token = filter_and_page(rows, req.get("Filters"), FILTERS,
                                  tags=lambda r: {t["Key"]: t["Value"] for t in r["Tags"]},
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"Volumes": page, "NextToken": token}


# --- CreateVolume ----------------------------------------------------------------------

def _zone_name(ctx: RequestContext, req: dict) -> str:
    if req.get("AvailabilityZone"):
        zone = zone_by_name(ctx.region, req["AvailabilityZone"])
        if zone is None:
            raise InvalidParameterValue(f"Invalid availability zone: [{req['AvailabilityZone']}]")
        return zone.name
    if req.get("AvailabilityZoneId"):
        zone = zone_by_id(ctx.region, req["AvailabilityZoneId"])
        if zone is None:
            raise InvalidParameterValue(f"Invalid availability zone id: [{req['AvailabilityZoneId']}]")
        return zone.name
    raise MissingParameter("The request must contain the parameter AvailabilityZone")


def _size(req: dict, volume_type: str) -> int:
    if req.get("Size") is None:
        if req.get("SnapshotId"):
            return 8  # vpclab's snapshots are its images' root snapshots, 8 GiB
        raise MissingParameter("The request must contain the parameter size/snapshotId")
    size = int(req["Size"])
    low, high = SIZE_RANGES[volume_type]
    # Unconfirmed wording; the code is AWS's.
    if size < low:
        raise InvalidParameterValue(f"Volume of {size}GiB is too small; minimum is {low}GiB.")
    if size > high:
        raise InvalidParameterValue(f"Volume of {size}GiB is too large; maximum is {high}GiB.")
    return size


@operation("ec2", "CreateVolume")
def create_volume(ctx: RequestContext, req: dict) -> dict:
    zone = _zone_name(ctx, req)
    volume_type = req.get("VolumeType") or "gp2"
    if volume_type not in SIZE_RANGES:
        raise InvalidParameterValue(f"Value ({volume_type}) for parameter volumeType is invalid.")
    size = _size(req, volume_type)
    if volume_type in ("io1", "io2") and not req.get("Iops"):
        raise MissingParameter("The parameter iops must be specified for io1 volumes.")
    if req.get("Throughput") is not None and volume_type != "gp3":
        raise InvalidParameterValue(
            f"The parameter throughput is not supported for {volume_type} volumes.")  # unconfirmed wording
    iops, throughput = _performance(volume_type, size, req.get("Iops"), req.get("Throughput"))
    tags = tags_from_specs(req.get("TagSpecifications"), "volume")
    with ctx.write() as tx:
        token = req.get("ClientToken")
        if token:
            for old in tx.list(Volume, ctx.account, ctx.region, client_token=token):
                return render(tx, old, ctx.now.timestamp())
        vol = Volume(id=new_id("vol"), account=ctx.account, region=ctx.region, tags=tags,
                     created=ctx.now.timestamp(), availability_zone=zone, size=size, volume_type=volume_type,
                     iops=iops, throughput=throughput, encrypted=bool(req.get("Encrypted")),
                     snapshot_id=req.get("SnapshotId") or "",
                     multi_attach_enabled=bool(req.get("MultiAttachEnabled")), client_token=token or "")
        tx.put(vol)
        return render(tx, vol, ctx.now.timestamp())


# --- AttachVolume / DetachVolume -------------------------------------------------------

_DEVICE = re.compile(r"^(/dev/)?(sd[a-z][0-9]*|xvd[a-z]{1,2}|hd[a-z])$")


@operation("ec2", "AttachVolume")
def attach_volume(ctx: RequestContext, req: dict) -> dict:
    device = req["Device"]
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        if _root_owner(tx, ctx, req["VolumeId"]) is not None:
            raise AwsError(f"{req['VolumeId']} is already attached to an instance", code="VolumeInUse")
        vol = _get_volume(tx, ctx, req["VolumeId"])
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
        if not _DEVICE.match(device):
            raise InvalidParameterValue(f"Value ({device}) for parameter device is invalid. "
                                        f"{device} is not a valid EBS device name.")
        state = _state(tx, vol, now)
        if state == "in-use":
            raise AwsError(f"{vol.id} is already attached to an instance", code="VolumeInUse")
        if state != "available":
            raise AwsError(f"{vol.id} is not 'available'.", code="IncorrectState")
        if inst.state not in ("running", "stopped"):
            raise AwsError(f"Instance '{inst.id}' is not 'running'.", code="IncorrectInstanceState")
        if vol.availability_zone != inst.availability_zone:
            raise AwsError(f"The volume '{vol.id}' is not in the same availability zone as instance "
                           f"'{inst.id}'", code="InvalidVolume.ZoneMismatch")
        used = {root_device_name(inst)} | {a.attachment.device for a in instance_attachments(tx, inst, now)}
        if device in used:
            raise InvalidParameterValue(f"Invalid value '{device}' for unixDevice. "
                                        f"Attachment point {device} is already in use")
        att = VolumeAttachment(instance_id=inst.id, device=device, attach_time=now)
        vol.attachments = [att]  # it was available: any earlier attachment has ended
        tx.put(vol)
    return _attachment_view(vol.id, inst.id, device, "attaching", now, False)


@operation("ec2", "DetachVolume")
def detach_volume(ctx: RequestContext, req: dict) -> dict:
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        owner = _root_owner(tx, ctx, req["VolumeId"])
        if owner is not None:
            # Unconfirmed code and wording for a root volume of an instance that is not stopped.
            raise AwsError(f"Unable to detach root volume '{req['VolumeId']}' from instance '{owner.id}'",
                           code="OperationNotPermitted")
        vol = _get_volume(tx, ctx, req["VolumeId"])
        live = [a for a in live_attachments(tx, vol, now) if a.state != "detaching"]
        if req.get("InstanceId"):
            INSTANCE.check(req["InstanceId"])
            live = [a for a in live if a.attachment.instance_id == req["InstanceId"]]
        if req.get("Device"):
            live = [a for a in live if a.attachment.device == req["Device"]]
        if not live:
            if req.get("InstanceId") and find_owned(tx, ctx, Instance, req["InstanceId"]) is not None:
                raise AwsError(f"Volume '{vol.id}' is not attached to '{req['InstanceId']}'",
                               code="InvalidAttachment.NotFound")  # unconfirmed wording
            raise AwsError(f"Volume '{vol.id}' is in the '{_state(tx, vol, now)}' state.", code="IncorrectState")
        att = live[0].attachment
        att.detach_time = now
        tx.put(vol)
    return _attachment_view(vol.id, att.instance_id, att.device, "detaching", att.attach_time,
                            att.delete_on_termination)


# --- DeleteVolume ----------------------------------------------------------------------

@operation("ec2", "DeleteVolume")
def delete_volume(ctx: RequestContext, req: dict) -> dict:
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        owner = _root_owner(tx, ctx, req["VolumeId"])
        if owner is not None:
            raise AwsError(f"Volume {req['VolumeId']} is currently attached to {owner.id}", code="VolumeInUse")
        vol = _get_volume(tx, ctx, req["VolumeId"])
        live = live_attachments(tx, vol, now)
        if live:
            raise AwsError(f"Volume {vol.id} is currently attached to {live[0].attachment.instance_id}",
                           code="VolumeInUse")
        tx.delete(vol)
    return {}
