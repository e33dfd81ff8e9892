"""Instances: DescribeInstances, DescribeInstanceStatus, Start/Stop/TerminateInstances, and
the states they move through. RunInstances is `instance_launch.py`, attributes and the
console `instance_attributes.py`, the type catalogue `instance_types.py`.

An instance is an `Instance` row and its primary ENI (eth0, device index 0). The API
records what was asked (`desired_state`) and shows the observed `state`. With a data plane
the data plane runs each instance as a network namespace with real processes and moves
`state` on; without one, the transitions settle by the lifecycle timer
(`settle_instances`). Both write it through `model.observed.set_instance_state`.

An instance's public address is its primary ENI's (`public_ips.py`). One of EC2's own
is released at StopInstances and TerminateInstances, and StartInstances assigns a new
one; an Elastic IP stays through stop and start, and is disassociated (not released)
at termination when the ENI goes with the instance.

A terminated instance stays visible for an hour, as on AWS, or until the server restarts.
"""
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from ...aws_names import private_dns_name
from ...model.ec2 import INSTANCE_STATE_CODES, ElasticIp, Instance, NetworkInterface
from ...model.instance_types import INSTANCE_TYPES
from ...model.observed import set_instance_state
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterCombination
from ...store import Transaction
from ..common import lifecycle
from ..common.filters import filter_and_page
from ..common.lookup import INSTANCE, get_all_owned
from ..common.tags import tag_list
from . import instance_metadata
from .default_vpc import ensure_default_vpc
from .images import find_image
from .network_interfaces import group_identifiers, group_names, public_name, render_for_instance
from .public_ips import assign_amazon_address, forget_eni, release_amazon_address
from .regions import zone_by_name
from .volume_attachments import has_root_volume, instance_attachments, root_volume_id

STATE_CODES = INSTANCE_STATE_CODES

#: How long a terminated instance stays listed.
TERMINATED_VISIBLE_FOR = 3600.0

#: Terminated instances from before this server process started are no longer listed.
PROCESS_STARTED = time.time()



# --- State ---------------------------------------------------------------------------------------

def state_view(name: str) -> dict:
    return {"Code": STATE_CODES[name], "Name": name}


def _gmt(now: float) -> str:
    return dt.datetime.fromtimestamp(now, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S GMT")


def _expired(inst: Instance, now: float) -> bool:
    return inst.state == "terminated" and inst.terminated_at is not None and (
        inst.terminated_at < PROCESS_STARTED or now - inst.terminated_at > TERMINATED_VISIBLE_FOR)


_SETTLES = {"pending": "running", "stopping": "stopped", "shutting-down": "terminated"}

def settle_instances(tx: Transaction, now: float, dataplane: bool) -> None:
    """Without a data plane: finish due transitions (with one, the instance agent makes
    them when they really happen); either way, forget long-terminated instances."""
    due = tx.list(Instance, where=lambda i: (not dataplane and i.state in _SETTLES
                                             and now - i.state_since >= lifecycle.SETTLE_DELAY)
                  or _expired(i, now))
    for inst in due:
        if _expired(inst, now):
            tx.delete(inst)
        else:
            set_instance_state(tx, inst, _SETTLES[inst.state], now)


def visible_instances(tx: Transaction, ctx: RequestContext) -> list[Instance]:
    now = ctx.now.timestamp()
    return [i for i in tx.list(Instance, ctx.account, ctx.region) if not _expired(i, now)]


def get_instances(tx: Transaction, ctx: RequestContext, ids: list[str]) -> list[Instance]:
    """The caller's instances `ids` (InvalidInstanceID.* for bad, unknown or expired ones)."""
    found = get_all_owned(tx, ctx, Instance, ids, INSTANCE)
    now = ctx.now.timestamp()
    gone = [i.id for i in found if _expired(i, now)]
    if gone:
        raise INSTANCE.not_found(gone)
    return found


# --- Rendering -----------------------------------------------------------------------------------

def root_device_name(inst: Instance) -> str:
    image = find_image(inst.region, inst.image_id)
    return image.root_device_name if image else "/dev/xvda"


def block_device_mappings(tx: Transaction, inst: Instance, root: str, now: float) -> list[dict]:
    """The instance's EBS volumes as DescribeInstances and DescribeInstanceAttribute show
    them: its root volume (`volume_attachments.root_volume_id`), then the volumes
    AttachVolume gave it, none once it is terminated."""
    if not has_root_volume(inst):
        return []
    mappings = [{
        "DeviceName": root,
        "Ebs": {"AttachTime": inst.launch_time, "DeleteOnTermination": True, "Status": "attached",
                "VolumeId": root_volume_id(inst)},
    }]
    for live in instance_attachments(tx, inst, now):
        mappings.append({
            "DeviceName": live.attachment.device,
            "Ebs": {"AttachTime": live.attachment.attach_time,
                    "DeleteOnTermination": live.attachment.delete_on_termination,
                    "Status": live.state, "VolumeId": live.volume.id},
        })
    return mappings


def render(tx: Transaction, inst: Instance, state: str | None = None, public: bool = True) -> dict:
    """DescribeInstances' `Instance`; without `public`, as RunInstances answers (before
    the public address shows)."""
    state = state or inst.state
    image = find_image(inst.region, inst.image_id)
    itype = INSTANCE_TYPES.get(inst.instance_type)
    vcpus, tpc, arch = (itype.vcpus, itype.threads_per_core, itype.architecture) if itype else (1, 1, "x86_64")
    eni = tx.get(NetworkInterface, inst.network_interface_id) if inst.network_interface_id else None
    groups = group_identifiers(tx, inst.security_group_ids)
    zone = zone_by_name(inst.region, inst.availability_zone)
    gone = state == "terminated"
    root = image.root_device_name if image else "/dev/xvda"
    shown = eni if eni is not None and public and not gone and eni.association is not None else None
    return {
        "PublicIpAddress": shown.association.public_ip if shown is not None and shown.association else None,
        "InstanceId": inst.id,
        "ImageId": inst.image_id,
        "State": state_view(state),
        "PrivateDnsName": "" if gone else private_dns_name(inst.region, inst.private_ip),
        "PublicDnsName": public_name(tx, shown) if shown is not None else "",
        "StateTransitionReason": inst.state_transition_reason,
        "KeyName": inst.key_name,
        "AmiLaunchIndex": inst.ami_launch_index,
        "ProductCodes": [],
        "InstanceType": inst.instance_type,
        "LaunchTime": inst.launch_time,
        "Placement": {
            "AvailabilityZone": inst.availability_zone,
            "AvailabilityZoneId": zone.zone_id if zone else None,
            "GroupName": "",
            "Tenancy": "default",
        },
        "Monitoring": {"State": "disabled"},
        "SubnetId": None if gone else inst.subnet_id,
        "VpcId": None if gone else inst.vpc_id,
        "PrivateIpAddress": None if gone else inst.private_ip,
        "Architecture": arch,
        "BlockDeviceMappings": [] if gone else block_device_mappings(tx, inst, root, time.time()),
        "ClientToken": inst.client_token,
        "EbsOptimized": False,
        "EnaSupport": True,
        "Hypervisor": "xen",
        "NetworkInterfaces": [render_for_instance(tx, eni, groups, public)] if eni is not None and not gone else [],
        "RootDeviceName": root,
        "RootDeviceType": "ebs",
        "SecurityGroups": [] if gone else groups,
        "SourceDestCheck": None if gone else True,
        "StateReason": inst.state_reason,
        "Tags": tag_list(inst.tags),
        "VirtualizationType": "hvm",
        "CpuOptions": {"CoreCount": max(1, vcpus // tpc), "ThreadsPerCore": tpc},
        "CapacityReservationSpecification": {"CapacityReservationPreference": "open"},
        "HibernationOptions": {"Configured": False},
        "MetadataOptions": instance_metadata.render(inst),
        "EnclaveOptions": {"Enabled": False},
        "BootMode": image.boot_mode if image else None,
        "PlatformDetails": "Linux/UNIX",
        "UsageOperation": "RunInstances",
        "UsageOperationUpdateTime": inst.launch_time,
        "PrivateDnsNameOptions": {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                  "EnableResourceNameDnsAAAARecord": False},
        "MaintenanceOptions": {"AutoRecovery": "default"},
        "CurrentInstanceBootMode": "legacy-bios" if image and image.boot_mode == "legacy-bios" else "uefi",
    }


def _reservations(tx: Transaction, instances: list[Instance]) -> list[dict]:
    """Consecutive instances of one reservation grouped as AWS returns them."""
    out: list[dict] = []
    for inst in instances:
        if not out or out[-1]["ReservationId"] != inst.reservation_id:
            out.append({"ReservationId": inst.reservation_id, "OwnerId": inst.account, "Groups": [],
                        "Instances": []})
        out[-1]["Instances"].append(render(tx, inst))
    return out


# --- DescribeInstances ---------------------------------------------------------------------------

def _instance_filters(names: dict[str, str], enis: dict[str, NetworkInterface], dns_names: dict[str, str]) -> dict:
    def live(fn: Callable[[Instance], object]) -> Callable[[Instance], object]:
        return lambda i: None if i.state == "terminated" else fn(i)

    def public(key: str) -> Callable[[Instance], object]:
        def get(i: Instance) -> object:
            eni = enis.get(i.network_interface_id)
            return getattr(eni.association, key) if eni is not None and eni.association else None
        return live(get)

    return {
        "instance-id": lambda i: i.id,
        "instance-state-name": lambda i: i.state,
        "instance-state-code": lambda i: STATE_CODES[i.state],
        "instance-type": lambda i: i.instance_type,
        "image-id": lambda i: i.image_id,
        "vpc-id": live(lambda i: i.vpc_id),
        "subnet-id": live(lambda i: i.subnet_id),
        "availability-zone": lambda i: i.availability_zone,
        "private-ip-address": live(lambda i: i.private_ip),
        "private-dns-name": live(lambda i: private_dns_name(i.region, i.private_ip)),
        "network-interface.network-interface-id": live(lambda i: i.network_interface_id),
        "network-interface.private-ip-address": live(lambda i: i.private_ip),
        "network-interface.subnet-id": live(lambda i: i.subnet_id),
        "network-interface.vpc-id": live(lambda i: i.vpc_id),
        "network-interface.group-id": live(lambda i: i.security_group_ids),
        "key-name": lambda i: i.key_name,
        "instance.group-id": live(lambda i: i.security_group_ids),
        "instance.group-name": live(lambda i: [names.get(g, "") for g in i.security_group_ids]),
        "group-id": live(lambda i: i.security_group_ids),
        "group-name": live(lambda i: [names.get(g, "") for g in i.security_group_ids]),
        "reservation-id": lambda i: i.reservation_id,
        "owner-id": lambda i: i.account,
        "launch-index": lambda i: i.ami_launch_index,
        "launch-time": lambda i: dt.datetime.fromtimestamp(i.launch_time, tz=dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"),
        "client-token": lambda i: i.client_token,
        "architecture": lambda i: INSTANCE_TYPES[i.instance_type].architecture
        if i.instance_type in INSTANCE_TYPES else "x86_64",
        "root-device-type": lambda i: "ebs",
        "virtualization-type": lambda i: "hvm",
        "hypervisor": lambda i: "xen",
        "tenancy": lambda i: "default",
        "platform-details": lambda i: "Linux/UNIX",
        "monitoring-state": lambda i: "disabled",
        "state-reason-code": lambda i: (i.state_reason or {}).get("Code"),
        "ip-address": public("public_ip"),
        "dns-name": live(lambda i: dns_names.get(i.network_interface_id) or None),
        "network-interface.addresses.association.public-ip": public("public_ip"),
        "network-interface.addresses.association.ip-owner-id": public("ip_owner_id"),
        "network-interface.association.public-ip": public("public_ip"),
        "network-interface.association.ip-owner-id": public("ip_owner_id"),
        "network-interface.association.allocation-id": public("allocation_id"),
        "network-interface.association.association-id": public("association_id"),
    }


@operation("ec2", "DescribeInstances")
def describe_instances(ctx: RequestContext, req: dict) -> dict:
    ids = req.get("InstanceIds")
    if ids and req.get("MaxResults") is not None:
        raise InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
    ensure_default_vpc(ctx)
    with ctx.read() as tx:
        instances = INSTANCE.select(visible_instances(tx, ctx), ids)
        names = group_names(tx, sorted({g for i in instances for g in i.security_group_ids}))
        enis = {e.id: e for e in tx.list(NetworkInterface, ctx.account, ctx.region)}
        dns_names = {e.id: public_name(tx, e) for e in enis.values() if e.association is not None}
        chosen, token = filter_and_page(instances, req.get("Filters"), _instance_filters(names, enis, dns_names),
                                        tags=lambda i: i.tags, max_results=req.get("MaxResults"),
                                        next_token=req.get("NextToken"))
        reservations = _reservations(tx, chosen)
    return {"Reservations": reservations, "NextToken": token}


# --- DescribeInstanceStatus ----------------------------------------------------------------------

def _status(inst: Instance) -> dict:
    zone = zone_by_name(inst.region, inst.availability_zone)
    if inst.state == "running":
        instance_status = {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
        system_status = {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
    else:
        instance_status = {"Status": "not-applicable"}
        system_status = {"Status": "not-applicable"}
    return {
        "InstanceId": inst.id,
        "AvailabilityZone": inst.availability_zone,
        "AvailabilityZoneId": zone.zone_id if zone else None,
        "InstanceState": state_view(inst.state),
        "InstanceStatus": instance_status,
        "SystemStatus": system_status,
        "AttachedEbsStatus": {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
        if inst.state == "running" else None,
    }


STATUS_FILTERS = {
    "availability-zone": lambda s: s["AvailabilityZone"],
    "instance-state-name": lambda s: s["InstanceState"]["Name"],
    "instance-state-code": lambda s: s["InstanceState"]["Code"],
    "instance-status.status": lambda s: s["InstanceStatus"]["Status"],
    "system-status.status": lambda s: s["SystemStatus"]["Status"],
    "instance-status.reachability": lambda s: [d["Status"] for d in s["InstanceStatus"].get("Details", [])],
    "system-status.reachability": lambda s: [d["Status"] for d in s["SystemStatus"].get("Details", [])],
}


@operation("ec2", "DescribeInstanceStatus")
def describe_instance_status(ctx: RequestContext, req: dict) -> dict:
    ids = req.get("InstanceIds")
    if ids and req.get("MaxResults") is not None:
        raise InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
    with ctx.read() as tx:
        instances = visible_instances(tx, ctx)
    instances = INSTANCE.select(instances, ids)
    if not req.get("IncludeAllInstances"):
        instances = [i for i in instances if i.state == "running"]
    rows = [_status(i) for i in instances]
    chosen, token = filter_and_page(rows, req.get("Filters"), STATUS_FILTERS,
                                    max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"InstanceStatuses": chosen, "NextToken": token}


# --- Stop / Start / Terminate --------------------------------------------------------------------

def _change(inst: Instance, previous: str) -> dict:
    return {"InstanceId": inst.id, "CurrentState": state_view(inst.state), "PreviousState": state_view(previous)}


def _begin(inst: Instance, state: str, desired: str, now: float) -> None:
    inst.state = state
    inst.state_since = now
    inst.desired_state = desired


@operation("ec2", "StopInstances")
def stop_instances(ctx: RequestContext, req: dict) -> dict:
    now = ctx.now.timestamp()
    out = []
    with ctx.write() as tx:
        for inst in get_instances(tx, ctx, req["InstanceIds"]):
            previous = inst.state
            if previous in ("shutting-down", "terminated"):
                raise AwsError(f"This instance '{inst.id}' is not in a state from which it can be stopped.",
                               code="IncorrectInstanceState")
            if previous == "pending":
                raise AwsError(f"Instance '{inst.id}' cannot be stopped as it has never reached the "
                               "'running' state.", code="IncorrectInstanceState")
            if inst.disable_api_stop and previous == "running":
                raise AwsError(f"The instance '{inst.id}' may not be stopped. Modify its 'disableApiStop' "
                               "instance attribute and try again.", code="OperationNotPermitted")
            if previous == "running":
                _begin(inst, "stopping", "stopped", now)
                inst.state_transition_reason = f"User initiated ({_gmt(now)})"
                tx.put(inst)
                eni = _primary_eni(tx, inst)
                if eni is not None and release_amazon_address(eni):
                    tx.put(eni)
            out.append(_change(inst, previous))
    return {"StoppingInstances": out}


def _primary_eni(tx: Transaction, inst: Instance) -> NetworkInterface | None:
    return tx.get(NetworkInterface, inst.network_interface_id) if inst.network_interface_id else None


@operation("ec2", "StartInstances")
def start_instances(ctx: RequestContext, req: dict) -> dict:
    now = ctx.now.timestamp()
    out = []
    with ctx.write() as tx:
        for inst in get_instances(tx, ctx, req["InstanceIds"]):
            previous = inst.state
            if previous in ("stopping", "shutting-down", "terminated"):
                raise AwsError(f"The instance '{inst.id}' is not in a state from which it can be started.",
                               code="IncorrectInstanceState")
            if previous == "stopped":
                _begin(inst, "pending", "running", now)
                inst.state_reason = None
                inst.state_transition_reason = ""
                tx.put(inst)
                eni = _primary_eni(tx, inst)
                if eni is not None and eni.auto_public_ip and eni.association is None:
                    assign_amazon_address(tx, eni)
                    tx.put(eni)
            out.append(_change(inst, previous))
    return {"StartingInstances": out}


@operation("ec2", "TerminateInstances")
def terminate_instances(ctx: RequestContext, req: dict) -> dict:
    now = ctx.now.timestamp()
    out = []
    with ctx.write() as tx:
        instances = get_instances(tx, ctx, req["InstanceIds"])
        for inst in instances:
            if inst.disable_api_termination and inst.state != "terminated":
                raise AwsError(f"The instance '{inst.id}' may not be terminated. Modify its "
                               "'disableApiTermination' instance attribute and try again.",
                               code="OperationNotPermitted")
        for inst in instances:
            previous = inst.state
            if previous not in ("shutting-down", "terminated"):
                _begin(inst, "shutting-down", "terminated", now)
                inst.state_transition_reason = f"User initiated ({_gmt(now)})"
                tx.put(inst)
                _release_at_termination(tx, inst)
            out.append(_change(inst, previous))
    return {"TerminatingInstances": out}

def _release_at_termination(tx: Transaction, inst: Instance) -> None:
    """EC2's own address goes at once; an Elastic IP leaves with the ENI that is deleted
    with the instance (one that outlives it keeps its Elastic IP)."""
    eni = _primary_eni(tx, inst)
    if eni is None:
        return
    release_amazon_address(eni)
    if (eni.attachment or {}).get("delete_on_termination", True):
        forget_eni(tx, eni)
    elif eni.association is not None and eni.association.allocation_id:
        eip = tx.get(ElasticIp, eni.association.allocation_id)
        if eip is not None:
            eip.instance_id = None
            tx.put(eip)
    tx.put(eni)


__all__ = [
    "STATE_CODES",
    "get_instances",
    "render",
    "settle_instances",
    "visible_instances",
]
