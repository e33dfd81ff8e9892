"""Instances: RunInstances, DescribeInstances, DescribeInstanceStatus, Start/Stop/TerminateInstances,
Describe/ModifyInstanceAttribute, GetConsoleOutput.

An instance is an `Instance` row and its primary ENI (eth0, device index 0). The API
records what was asked (`desired_state`) and shows the observed `state`. With a data plane
the data plane runs each instance as a network namespace with real processes and moves
`state` on (through `set_state`); without one, launches show `running` at once and the
other transitions settle by the lifecycle timer (`settle_instances`).

vpclab has no public IP addresses: instances never get a PublicIpAddress or a public DNS
name, whatever the subnet's MapPublicIpOnLaunch or AssociatePublicIpAddress say.

A terminated instance stays visible for an hour, as on AWS, or until the server restarts.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import time
from pathlib import Path

from ..model.ec2 import Instance, KeyPair, NetworkInterface, Subnet
from ..protocol.dispatch import RequestContext, operation
from ..protocol.errors import (
    AwsError,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from ..store import Transaction
from . import lifecycle
from .addresses import available_count, create_network_interface
from .default_vpc import ensure_default_vpc
from .filters import by_ids, filter_and_page
from .ids import new_id
from .images import Image, find_image, get_image
from .lookup import ENI, INSTANCE, SUBNET, get_all_owned, get_owned
from .network_interfaces import (
    default_group_id,
    find_groups_in_vpc,
    group_identifiers,
    group_names,
    private_dns_name,
    render_for_instance,
)
from .regions import zone_by_name, zones
from .security_groups import find_groups_by_name
from .tags import tag_list, tags_from_specs

STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}

#: How long a terminated instance stays listed.
TERMINATED_VISIBLE_FOR = 3600.0

#: Terminated instances from before this server process started are no longer listed.
PROCESS_STARTED = time.time()

USER_DATA_LIMIT = 16384


# --- Instance types ------------------------------------------------------------------------------

def _types() -> dict[str, tuple[int, int, str]]:
    """Instance type -> (vCPUs, threads per core, architecture)."""
    out: dict[str, tuple[int, int, str]] = {}
    sizes = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
             "12xlarge": 48, "16xlarge": 64, "24xlarge": 96}
    for family, tpc, arch in (("m5", 2, "x86_64"), ("m5a", 2, "x86_64"), ("m6i", 2, "x86_64"),
                              ("m6a", 2, "x86_64"), ("m7i", 2, "x86_64"), ("m6g", 1, "arm64"),
                              ("m7g", 1, "arm64"), ("c5", 2, "x86_64"), ("c5a", 2, "x86_64"),
                              ("c6i", 2, "x86_64"), ("c7i", 2, "x86_64"), ("c6g", 1, "arm64"),
                              ("c7g", 1, "arm64"), ("r5", 2, "x86_64"), ("r6i", 2, "x86_64"),
                              ("r6g", 1, "arm64"), ("r7g", 1, "arm64")):
        for size, vcpus in sizes.items():
            out[f"{family}.{size}"] = (vcpus, tpc, arch)
    for size, vcpus in (("nano", 1), ("micro", 1), ("small", 1), ("medium", 2), ("large", 2),
                        ("xlarge", 4), ("2xlarge", 8)):
        out[f"t2.{size}"] = (vcpus, 1, "x86_64")
    for family, tpc, arch in (("t3", 2, "x86_64"), ("t3a", 2, "x86_64"), ("t4g", 1, "arm64")):
        for size, vcpus in (("nano", 2), ("micro", 2), ("small", 2), ("medium", 2), ("large", 2),
                            ("xlarge", 4), ("2xlarge", 8)):
            out[f"{family}.{size}"] = (vcpus, tpc, arch)
    out["c5.large"] = (2, 2, "x86_64")
    return out


INSTANCE_TYPES = _types()


def check_instance_type(name: str) -> tuple[int, int, str]:
    if name not in INSTANCE_TYPES:
        raise InvalidParameterValue(f"Invalid value '{name}' for InstanceType.")
    return INSTANCE_TYPES[name]


# --- State ---------------------------------------------------------------------------------------

def state_view(name: str) -> dict:
    return {"Code": STATE_CODES[name], "Name": name}


def _gmt(now: float) -> str:
    return dt.datetime.fromtimestamp(now, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S GMT")


def set_state(tx: Transaction, inst: Instance, state: str, now: float) -> None:
    """Record an observed state change of `inst` (a copy from `tx`) and store it.

    The data plane calls this when an instance has really started, stopped or gone; the
    lifecycle timer calls it when there is no data plane. Reaching `terminated` deletes
    the instance's primary ENI (or detaches one that was not to be deleted).
    """
    if state not in STATE_CODES:
        raise ValueError(f"unknown instance state {state!r}")
    if inst.state == state:
        return
    inst.state = state
    inst.state_since = now
    if state == "running":
        inst.state_transition_reason = ""
        inst.state_reason = None
    elif state == "stopped":
        inst.state_reason = {"Code": "Client.UserInitiatedShutdown",
                             "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
    elif state == "terminated":
        inst.terminated_at = now
        inst.state_reason = {"Code": "Client.UserInitiatedShutdown",
                             "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
        eni = tx.get(NetworkInterface, inst.network_interface_id) if inst.network_interface_id else None
        if eni is not None:
            if (eni.attachment or {}).get("delete_on_termination", True):
                tx.delete(eni)
            else:
                eni.attachment = None
                eni.status = "available"
                eni.owner_kind = ""
                eni.owner_id = ""
                tx.put(eni)
    tx.put(inst)


def _expired(inst: Instance, now: float) -> bool:
    return inst.state == "terminated" and inst.terminated_at is not None and (
        inst.terminated_at < PROCESS_STARTED or now - inst.terminated_at > TERMINATED_VISIBLE_FOR)


_SETTLES = {"pending": "running", "stopping": "stopped", "shutting-down": "terminated"}

#: Set (by `vpclab.dataplane.instance_runtime.make_agent`) in a server whose data plane runs
#: instances: the agent then makes these transitions when they really happen, and the
#: lifecycle step below only forgets long-terminated instances.
DATAPLANE_SETTLES = False


@lifecycle.step
def settle_instances(tx: Transaction, now: float) -> None:
    """Without a data plane: finish due transitions, and forget long-terminated instances."""
    due = tx.list(Instance, where=lambda i: (not DATAPLANE_SETTLES and i.state in _SETTLES
                                             and now - i.state_since >= lifecycle.SETTLE_DELAY)
                  or _expired(i, now))
    for inst in due:
        if _expired(inst, now):
            tx.delete(inst)
        else:
            set_state(tx, inst, _SETTLES[inst.state], now)


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

def _volume_id(inst: Instance) -> str:
    return "vol-" + hashlib.sha256(f"vpclab:vol:{inst.id}".encode()).hexdigest()[:17]


def render(tx: Transaction, inst: Instance, state: str | None = None) -> dict:
    state = state or inst.state
    image = find_image(inst.region, inst.image_id)
    vcpus, tpc, arch = INSTANCE_TYPES.get(inst.instance_type, (1, 1, "x86_64"))
    eni = tx.get(NetworkInterface, inst.network_interface_id) if inst.network_interface_id else None
    groups = group_identifiers(tx, inst.security_group_ids)
    zone = zone_by_name(inst.region, inst.availability_zone)
    gone = state == "terminated"
    root = image.root_device_name if image else "/dev/xvda"
    return {
        "InstanceId": inst.id,
        "ImageId": inst.image_id,
        "State": state_view(state),
        "PrivateDnsName": "" if gone else private_dns_name(inst.region, inst.private_ip),
        "PublicDnsName": "",
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
        "BlockDeviceMappings": [] if gone else [{
            "DeviceName": root,
            "Ebs": {"AttachTime": inst.launch_time, "DeleteOnTermination": True, "Status": "attached",
                    "VolumeId": _volume_id(inst)},
        }],
        "ClientToken": inst.client_token,
        "EbsOptimized": False,
        "EnaSupport": True,
        "Hypervisor": "xen",
        "NetworkInterfaces": [render_for_instance(eni, groups)] if eni is not None and not gone else [],
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
        "MetadataOptions": {
            "State": "applied", "HttpTokens": "required", "HttpPutResponseHopLimit": 2,
            "HttpEndpoint": "enabled", "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled",
        },
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


# --- RunInstances --------------------------------------------------------------------------------

def _check_user_data(value: str | None) -> str:
    if not value:
        return ""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise AwsError("Invalid BASE64 encoding of user data.", code="InvalidUserData.Malformed") from None
    if len(raw) > USER_DATA_LIMIT:
        raise InvalidParameterValue(f"User data is limited to {USER_DATA_LIMIT} bytes")
    return value


def _check_tag_specs(specs: list[dict] | None) -> None:
    allowed = {"instance", "volume", "network-interface", "spot-instances-request", "elastic-gpu"}
    for spec in specs or ():
        rtype = spec.get("ResourceType")
        if rtype is not None and rtype not in allowed:
            raise InvalidParameterValue(f"'{rtype}' is not a valid taggable resource type for this operation.")


def _check_counts(req: dict) -> tuple[int, int]:
    min_count, max_count = req.get("MinCount"), req.get("MaxCount")
    if min_count is None:
        raise MissingParameter("The request must contain the parameter MinCount")
    if max_count is None:
        raise MissingParameter("The request must contain the parameter MaxCount")
    if max_count < 1:
        raise InvalidParameterValue("Maximum instance count must be greater than zero")
    if min_count < 1:
        raise InvalidParameterValue("Minimum instance count must be greater than zero")
    if min_count > max_count:
        raise InvalidParameterValue("Minimum instance count must be less than or equal to maximum instance count")
    return min_count, max_count


def _default_subnet(tx: Transaction, ctx: RequestContext, vpc_id: str | None, zone_name: str | None) -> Subnet:
    subnets = tx.list(Subnet, ctx.account, ctx.region, default_for_az=True) if vpc_id else []
    subnets = [s for s in subnets if s.vpc_id == vpc_id]
    if not subnets:
        raise AwsError("No default VPC for this user", code="VPCIdNotSpecified")
    order = [z.name for z in zones(ctx.region)]
    if zone_name:
        subnets = [s for s in subnets if s.availability_zone == zone_name]
        if not subnets:
            raise AwsError(f"No default subnet for availability zone: '{zone_name}'.",
                           code="MissingInput")
    return min(subnets, key=lambda s: order.index(s.availability_zone) if s.availability_zone in order else 99)


def _resolve_network(tx: Transaction, ctx: RequestContext, req: dict, count: int, default_vpc: str | None):
    """(subnet, group ids, private ip, description, existing ENI, delete on termination)."""
    nics = req.get("NetworkInterfaces") or []
    placement = req.get("Placement") or {}
    zone_name = placement.get("AvailabilityZone")
    if zone_name is not None and zone_by_name(ctx.region, zone_name) is None:
        raise InvalidParameterValue(f"Invalid availability zone: [{zone_name}]")
    subnet_id = req.get("SubnetId")
    group_ids = list(req.get("SecurityGroupIds") or [])
    group_names_ = list(req.get("SecurityGroups") or [])
    private_ip = req.get("PrivateIpAddress")
    description, existing, delete_on_term = "", None, True
    if nics:
        if subnet_id:
            raise InvalidParameterCombination(
                "Network interfaces and an instance-level subnet ID may not be specified on the same request")
        if group_ids or group_names_:
            raise InvalidParameterCombination(
                "Network interfaces and an instance-level security groups may not be specified on the same request")
        if private_ip:
            raise InvalidParameterCombination(
                "Network interfaces and an instance-level private IP address should not be specified on the same request")
        if len(nics) > 1:
            raise InvalidParameterValue("vpclab attaches one network interface (device index 0) per instance.")
        nic = nics[0]
        if nic.get("DeviceIndex", 0) != 0:
            raise InvalidParameterValue("The primary network interface must use device index 0.")
        if nic.get("NetworkInterfaceId"):
            if count > 1:
                raise InvalidParameterCombination(
                    "Only one instance can be launched with an existing network interface.")
            existing = get_owned(tx, ctx, NetworkInterface, nic["NetworkInterfaceId"], ENI)
            if existing.attachment or existing.status != "available" or existing.requester_managed:
                raise AwsError(f"Interface: [{existing.id}] in use.", code="InvalidNetworkInterface.InUse")
            subnet = tx.get(Subnet, existing.subnet_id)
            return subnet, existing.security_group_ids, existing.private_ip, existing.description, existing, \
                nic.get("DeleteOnTermination", False)
        subnet_id = nic.get("SubnetId")
        group_ids = list(nic.get("Groups") or [])
        private_ip = nic.get("PrivateIpAddress")
        description = nic.get("Description") or ""
        delete_on_term = nic.get("DeleteOnTermination", True)
    if subnet_id:
        subnet = get_owned(tx, ctx, Subnet, subnet_id, SUBNET)
        if zone_name and zone_name != subnet.availability_zone:
            raise InvalidParameterValue(
                f"The specified Availability Zone '{zone_name}' does not match the Availability Zone "
                f"'{subnet.availability_zone}' of subnet '{subnet.id}'.")
    else:
        subnet = _default_subnet(tx, ctx, default_vpc, zone_name)
    if private_ip and count > 1:
        raise InvalidParameterCombination(
            "A private IP address can only be specified when launching a single instance.")
    if group_names_:
        if subnet.vpc_id != default_vpc:
            raise InvalidParameterCombination("The parameter groupName cannot be used with the parameter subnet")
        for group in find_groups_by_name(tx, ctx, group_names_, subnet.vpc_id):
            if group.id not in group_ids:
                group_ids.append(group.id)
    if group_ids:
        find_groups_in_vpc(tx, ctx, group_ids, subnet.vpc_id, subnet.id)
    else:
        default = default_group_id(tx, ctx.account, ctx.region, subnet.vpc_id)
        group_ids = [default] if default else []
    return subnet, group_ids, private_ip, description, None, delete_on_term


def _check_architecture(image: Image, instance_type: str) -> None:
    arch = INSTANCE_TYPES[instance_type][2]
    if arch != image.architecture:
        raise InvalidParameterValue(
            f"The architecture '{arch}' of the specified instance type does not match the architecture "
            f"'{image.architecture}' of the specified AMI. Specify an instance type and an AMI that have "
            "matching architectures, and try again. You can use 'describe-instance-types' or "
            "'describe-images' to discover the architecture of the instance type or AMI."
        )


@operation("ec2", "RunInstances")
def run_instances(ctx: RequestContext, req: dict) -> dict:
    min_count, max_count = _check_counts(req)
    if req.get("LaunchTemplate"):
        raise InvalidParameterValue("vpclab does not support launch templates yet.")
    image_id = req.get("ImageId")
    if not image_id:
        raise MissingParameter("The request must contain the parameter ImageId")
    image = get_image(ctx.region, image_id)
    instance_type = req.get("InstanceType", "m1.small")
    check_instance_type(instance_type)
    _check_architecture(image, instance_type)
    user_data = _check_user_data(req.get("UserData"))
    _check_tag_specs(req.get("TagSpecifications"))
    instance_tags = tags_from_specs(req.get("TagSpecifications"), "instance")
    eni_tags = tags_from_specs(req.get("TagSpecifications"), "network-interface")
    shutdown = req.get("InstanceInitiatedShutdownBehavior", "stop")
    if shutdown not in ("stop", "terminate"):
        raise InvalidParameterValue(
            f"Value ({shutdown}) for parameter instanceInitiatedShutdownBehavior is invalid.")
    token = req.get("ClientToken") or ""
    default_vpc = ensure_default_vpc(ctx)
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        if token:
            earlier = tx.list(Instance, ctx.account, ctx.region, client_token=token)
            if earlier:
                if earlier[0].image_id != image_id or earlier[0].instance_type != instance_type:
                    raise AwsError("Arguments on this idempotent request are inconsistent with arguments used "
                                   "in previous request(s).", code="IdempotentParameterMismatch")
                rid = earlier[0].reservation_id
                return {"ReservationId": rid, "OwnerId": ctx.account, "Groups": [],
                        "Instances": [render(tx, i) for i in earlier if i.reservation_id == rid]}
        key_name = req.get("KeyName")
        if key_name is not None and not tx.list(KeyPair, ctx.account, ctx.region, key_name=key_name):
            raise AwsError(f"The key pair '{key_name}' does not exist", code="InvalidKeyPair.NotFound")
        subnet, group_ids, private_ip, description, existing, delete_on_term = \
            _resolve_network(tx, ctx, req, max_count, default_vpc)
        count = max_count if existing else min(max_count, available_count(tx, subnet))
        if count < min_count:
            raise AwsError(
                f"There are not enough free addresses in subnet '{subnet.id}' to satisfy the requested "
                "number of instances.", code="InsufficientFreeAddressesInSubnet")
        reservation_id = new_id("r")
        initial = "pending" if ctx.dataplane else "running"
        launched = []
        for index in range(count):
            inst_id = new_id("i")
            attachment = {
                "attachment_id": new_id("eni-attach"),
                "instance_id": inst_id,
                "instance_owner_id": ctx.account,
                "device_index": 0,
                "status": "attached",
                "attach_time": now,
                "delete_on_termination": delete_on_term,
            }
            if existing is not None:
                eni = existing
                eni.attachment = attachment
                eni.status = "in-use"
                eni.owner_kind, eni.owner_id = "instance", inst_id
                eni.tags = {**eni.tags, **eni_tags}
            else:
                eni = create_network_interface(
                    tx, ctx, subnet,
                    description=description,
                    security_group_ids=group_ids,
                    owner_kind="instance",
                    owner_id=inst_id,
                    private_ip=private_ip,
                    attachment=attachment,
                )
                eni.tags = dict(eni_tags)
            tx.put(eni)
            inst = Instance(
                id=inst_id,
                account=ctx.account,
                region=ctx.region,
                created=now,
                tags=dict(instance_tags),
                reservation_id=reservation_id,
                image_id=image_id,
                instance_type=instance_type,
                key_name=key_name,
                vpc_id=subnet.vpc_id,
                subnet_id=subnet.id,
                availability_zone=subnet.availability_zone,
                private_ip=eni.private_ip,
                network_interface_id=eni.id,
                security_group_ids=list(group_ids),
                user_data=user_data,
                ami_launch_index=index,
                client_token=token,
                desired_state="running",
                state=initial,
                launch_time=now,
                state_since=now,
                disable_api_termination=bool(req.get("DisableApiTermination")),
                disable_api_stop=bool(req.get("DisableApiStop")),
                shutdown_behavior=shutdown,
            )
            tx.put(inst)
            launched.append(inst)
        # AWS answers `pending` (code 0) to RunInstances.
        instances = [render(tx, i, state="pending") for i in launched]
    return {"ReservationId": reservation_id, "OwnerId": ctx.account, "Groups": [], "Instances": instances}


# --- DescribeInstances ---------------------------------------------------------------------------

def _instance_filters(names: dict[str, str], ctx: RequestContext) -> dict:
    def live(fn):
        return lambda i: None if i.state == "terminated" else fn(i)

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
        "architecture": lambda i: INSTANCE_TYPES.get(i.instance_type, (0, 0, "x86_64"))[2],
        "root-device-type": lambda i: "ebs",
        "virtualization-type": lambda i: "hvm",
        "hypervisor": lambda i: "xen",
        "tenancy": lambda i: "default",
        "platform-details": lambda i: "Linux/UNIX",
        "monitoring-state": lambda i: "disabled",
        "state-reason-code": lambda i: (i.state_reason or {}).get("Code"),
        "dns-name": lambda i: "",
    }


@operation("ec2", "DescribeInstances")
def describe_instances(ctx: RequestContext, req: dict) -> dict:
    ids = req.get("InstanceIds")
    if ids and req.get("MaxResults") is not None:
        raise InvalidParameterCombination("The parameter instancesSet cannot be used with the parameter maxResults")
    ensure_default_vpc(ctx)
    for iid in ids or ():
        INSTANCE.check(iid)
    with ctx.read() as tx:
        instances = visible_instances(tx, ctx)
        instances = by_ids(instances, ids, lambda i: i.id, INSTANCE.not_found)
        names = group_names(tx, sorted({g for i in instances for g in i.security_group_ids}))
        chosen, token = filter_and_page(instances, req.get("Filters"), _instance_filters(names, ctx),
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
    for iid in ids or ():
        INSTANCE.check(iid)
    with ctx.read() as tx:
        instances = visible_instances(tx, ctx)
    instances = by_ids(instances, ids, lambda i: i.id, INSTANCE.not_found)
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
            out.append(_change(inst, previous))
    return {"StoppingInstances": out}


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
            out.append(_change(inst, previous))
    return {"TerminatingInstances": out}


# --- Attributes ----------------------------------------------------------------------------------

def _attribute_value(tx: Transaction, inst: Instance, name: str) -> dict:
    image = find_image(inst.region, inst.image_id)
    root = image.root_device_name if image else "/dev/xvda"
    values = {
        "instanceType": {"InstanceType": {"Value": inst.instance_type}},
        "kernel": {"KernelId": {}},
        "ramdisk": {"RamdiskId": {}},
        "userData": {"UserData": {"Value": inst.user_data} if inst.user_data else {}},
        "disableApiTermination": {"DisableApiTermination": {"Value": inst.disable_api_termination}},
        "disableApiStop": {"DisableApiStop": {"Value": inst.disable_api_stop}},
        "instanceInitiatedShutdownBehavior": {"InstanceInitiatedShutdownBehavior": {"Value": inst.shutdown_behavior}},
        "rootDeviceName": {"RootDeviceName": {"Value": root}},
        "blockDeviceMapping": {"BlockDeviceMappings": [] if inst.state == "terminated" else [{
            "DeviceName": root,
            "Ebs": {"AttachTime": inst.launch_time, "DeleteOnTermination": True, "Status": "attached",
                    "VolumeId": _volume_id(inst)}}]},
        "productCodes": {"ProductCodes": []},
        "sourceDestCheck": {"SourceDestCheck": {"Value": True}},
        "groupSet": {"Groups": group_identifiers(tx, inst.security_group_ids)},
        "ebsOptimized": {"EbsOptimized": {"Value": False}},
        "sriovNetSupport": {"SriovNetSupport": {"Value": "simple"}},
        "enaSupport": {"EnaSupport": {"Value": True}},
        "enclaveOptions": {"EnclaveOptions": {"Enabled": False}},
    }
    if name not in values:
        raise InvalidParameterValue(f"Value ({name}) for parameter attribute is invalid. Unknown attribute.")
    return values[name]


@operation("ec2", "DescribeInstanceAttribute")
def describe_instance_attribute(ctx: RequestContext, req: dict) -> dict:
    name = req.get("Attribute")
    if not name:
        raise MissingParameter("The request must contain the parameter Attribute")
    with ctx.read() as tx:
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
        return {"InstanceId": inst.id, **_attribute_value(tx, inst, name)}


_SIMPLE_ATTRIBUTES = {
    # request member -> (Attribute name for the Attribute/Value form, field, parse)
    "InstanceType": ("instanceType", "instance_type", str),
    "UserData": ("userData", "user_data", None),
    "DisableApiTermination": ("disableApiTermination", "disable_api_termination", bool),
    "DisableApiStop": ("disableApiStop", "disable_api_stop", bool),
    "InstanceInitiatedShutdownBehavior": ("instanceInitiatedShutdownBehavior", "shutdown_behavior", str),
    "Groups": ("groupSet", "security_group_ids", list),
    "SourceDestCheck": ("sourceDestCheck", None, bool),
}


def _parse_bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise InvalidParameterValue(f"Value ({value}) for parameter value is invalid. Expected a boolean.")
    return value.lower() == "true"


@operation("ec2", "ModifyInstanceAttribute")
def modify_instance_attribute(ctx: RequestContext, req: dict) -> dict:
    changes: dict[str, object] = {}
    for member, (attr, _field, _parse) in _SIMPLE_ATTRIBUTES.items():
        if member in req:
            value = req[member]
            changes[member] = value if isinstance(value, list) else (value or {}).get("Value")
    if req.get("Attribute"):
        by_attr = {a: m for m, (a, _f, _p) in _SIMPLE_ATTRIBUTES.items()}
        member = by_attr.get(req["Attribute"])
        if member is None:
            raise InvalidParameterValue(
                f"Value ({req['Attribute']}) for parameter attribute is invalid. "
                "vpclab modifies instanceType, userData, disableApiTermination, disableApiStop, "
                "instanceInitiatedShutdownBehavior, groupSet and sourceDestCheck.")
        if "Value" not in req:
            raise MissingParameter("The request must contain the parameter value")
        raw = req["Value"]
        parse = _SIMPLE_ATTRIBUTES[member][2]
        changes[member] = _parse_bool(raw) if parse is bool else raw
    if len(changes) != 1:
        raise InvalidParameterCombination(
            "Fields for multiple attribute types specified: " + ", ".join(changes) if changes
            else "No attributes specified.")
    member, value = next(iter(changes.items()))
    with ctx.write() as tx:
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
        if inst.state == "terminated":
            raise AwsError(f"The instance '{inst.id}' is not in a state from which it can be modified.",
                           code="IncorrectInstanceState")
        if member in ("InstanceType", "UserData") and inst.state != "stopped":
            raise AwsError(f"The instance '{inst.id}' is not in the 'stopped' state.",
                           code="IncorrectInstanceState")
        if member == "InstanceType":
            check_instance_type(str(value))
            image = find_image(inst.region, inst.image_id)
            if image is not None:
                _check_architecture(image, str(value))
            inst.instance_type = str(value)
        elif member == "UserData":
            # The blob arrives decoded; AWS keeps and returns its base64.
            raw = value if isinstance(value, bytes) else str(value or "").encode()
            if len(raw) > USER_DATA_LIMIT:
                raise InvalidParameterValue(f"User data is limited to {USER_DATA_LIMIT} bytes")
            inst.user_data = base64.b64encode(raw).decode() if raw else ""
        elif member in ("DisableApiTermination", "DisableApiStop"):
            setattr(inst, _SIMPLE_ATTRIBUTES[member][1], bool(value))
        elif member == "InstanceInitiatedShutdownBehavior":
            if value not in ("stop", "terminate"):
                raise InvalidParameterValue(
                    f"Value ({value}) for parameter instanceInitiatedShutdownBehavior is invalid.")
            inst.shutdown_behavior = str(value)
        elif member == "Groups":
            ids = list(value) if isinstance(value, list) else [str(value)]
            if not ids:
                raise MissingParameter("The request must contain the parameter groupId")
            find_groups_in_vpc(tx, ctx, ids, inst.vpc_id, inst.subnet_id)
            inst.security_group_ids = ids
            eni = tx.get(NetworkInterface, inst.network_interface_id)
            if eni is not None:
                eni.security_group_ids = list(ids)
                tx.put(eni)
        elif member == "SourceDestCheck":
            # Unconfirmed how much it matters here: vpclab routes by subnet; the check stays on.
            if not value:
                raise InvalidParameterValue("vpclab keeps the source/destination check on.")
        tx.put(inst)
    return {}


# --- Console output ------------------------------------------------------------------------------

CONSOLE_LIMIT = 64 * 1024  # AWS returns the most recent 64 KB


@operation("ec2", "GetConsoleOutput")
def get_console_output(ctx: RequestContext, req: dict) -> dict:
    """The console log the data plane writes to `<state_dir>/instances/<id>/console.log`."""
    with ctx.read() as tx:
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
    out = {"InstanceId": inst.id, "Timestamp": ctx.now}
    state_dir = ctx.extras.get("state_dir")
    if state_dir:
        path = Path(state_dir) / "instances" / inst.id / "console.log"
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - CONSOLE_LIMIT))
                data = f.read()
            out["Output"] = base64.b64encode(data).decode()
            out["Timestamp"] = path.stat().st_mtime
        except OSError:
            pass
    return out


__all__ = [
    "INSTANCE_TYPES",
    "STATE_CODES",
    "check_instance_type",
    "get_instances",
    "set_state",
    "settle_instances",
    "visible_instances",
]
