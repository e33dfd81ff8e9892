"""RunInstances: checking a launch request, choosing its subnet, security groups and ENI,
and creating the instances with their primary ENIs (eth0, device index 0).

Instances start `pending` with a data plane (which moves them on, see `instances.py`) and
`running` at once without one; RunInstances always answers `pending`, as AWS does.
A new primary ENI gets a public address (`public_ips.py`) when the request's
AssociatePublicIpAddress says so, else when its subnet has MapPublicIpOnLaunch.
"""
from __future__ import annotations

import base64
import binascii

from ...model.ec2 import Instance, KeyPair, NetworkInterface, Subnet
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterCombination, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.ids import new_id
from ..common.ipv6 import INTERFACE_IPV6, refuse_ipv6
from ..common.lookup import ENI, SUBNET, get_owned
from ..common.tags import tags_from_specs
from .addresses import available_count, create_network_interface
from .default_vpc import ensure_default_vpc
from .images import get_image
from .credit_specifications import check_cpu_credits, set_cpu_credits
from .instance_metadata import for_launch
from .instance_types import DEFAULT_INSTANCE_TYPE, check_architecture, check_instance_type
from .instances import render
from .public_ips import assign_amazon_address
from .regions import zone_by_name, zones
from .security_groups import default_group, find_groups, find_groups_by_name

USER_DATA_LIMIT = 16384


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


def public_ip_asked(req: dict) -> bool | None:
    """RunInstances' AssociatePublicIpAddress (None: not given, the subnet decides), with
    EC2's errors where it cannot apply: more than one interface, or an existing one."""
    nics = req.get("NetworkInterfaces") or []
    asked = [n.get("AssociatePublicIpAddress") for n in nics if n.get("AssociatePublicIpAddress") is not None]
    if not asked:
        return None
    if len(nics) > 1:
        raise InvalidParameterCombination(
            "The associatePublicIPAddress parameter cannot be specified when launching with multiple "
            "network interfaces.")
    if nics[0].get("NetworkInterfaceId") and asked[0]:
        raise InvalidParameterCombination(
            "The associatePublicIPAddress parameter cannot be specified for a network interface with an ID.")
    return bool(asked[0])


def _resolve_network(tx: Transaction, ctx: RequestContext, req: dict, count: int, default_vpc: str | None,
                     ) -> tuple[Subnet, list[str], str | None, str, NetworkInterface | None, bool]:
    """(subnet, group ids, private ip, description, existing ENI, delete on termination)."""
    nics = req.get("NetworkInterfaces") or []
    placement = req.get("Placement") or {}
    # An empty zone is none (terraform-provider-aws sends "" when no zone is configured).
    zone_name = placement.get("AvailabilityZone") or None
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
            # A subnet with ENIs cannot be deleted: the ENI's is there.
            subnet = get_owned(tx, ctx, Subnet, existing.subnet_id, SUBNET)
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
        find_groups(tx, ctx, group_ids, vpc_id=subnet.vpc_id, subnet_id=subnet.id)
    else:
        default = default_group(tx, ctx.account, ctx.region, subnet.vpc_id)
        group_ids = [default.id] if default else []
    return subnet, group_ids, private_ip, description, None, delete_on_term


@operation("ec2", "RunInstances")
def run_instances(ctx: RequestContext, req: dict) -> dict:
    min_count, max_count = _check_counts(req)
    refuse_ipv6(req, INTERFACE_IPV6)
    for index, spec in enumerate(req.get("NetworkInterfaces") or [], start=1):
        refuse_ipv6(spec, INTERFACE_IPV6, where=f"networkInterface.{index}.")
    if req.get("LaunchTemplate"):
        raise InvalidParameterValue("vpclab does not support launch templates yet.")
    image_id = req.get("ImageId")
    if not image_id:
        raise MissingParameter("The request must contain the parameter ImageId")
    image = get_image(ctx.region, image_id)
    instance_type = req.get("InstanceType", DEFAULT_INSTANCE_TYPE)
    check_instance_type(instance_type)
    check_architecture(image, instance_type)
    user_data = _check_user_data(req.get("UserData"))
    _check_tag_specs(req.get("TagSpecifications"))
    instance_tags = tags_from_specs(req.get("TagSpecifications"), "instance")
    eni_tags = tags_from_specs(req.get("TagSpecifications"), "network-interface")
    credits = (req.get("CreditSpecification") or {}).get("CpuCredits")
    if credits is not None:
        check_cpu_credits(credits)
    shutdown = req.get("InstanceInitiatedShutdownBehavior", "stop")
    if shutdown not in ("stop", "terminate"):
        raise InvalidParameterValue(
            f"Value ({shutdown}) for parameter instanceInitiatedShutdownBehavior is invalid.")
    metadata_options = for_launch(image, req.get("MetadataOptions"))
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
        key_public = ""
        if key_name is not None:
            keys = tx.list(KeyPair, ctx.account, ctx.region, key_name=key_name)
            if not keys:
                raise AwsError(f"The key pair '{key_name}' does not exist", code="InvalidKeyPair.NotFound")
            key_public = keys[0].public_key
        asked_public = public_ip_asked(req)
        subnet, group_ids, private_ip, description, existing, delete_on_term = \
            _resolve_network(tx, ctx, req, max_count, default_vpc)
        # A new primary ENI gets an address of EC2's own when asked, else when its subnet
        # maps one on launch; an existing ENI keeps what it has (an Elastic IP, or none).
        auto_public = existing is None and (
            asked_public if asked_public is not None else subnet.map_public_ip_on_launch)
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
                eni.auto_public_ip = auto_public
                if auto_public:
                    assign_amazon_address(tx, eni)
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
                distribution=image.distribution,
                key_public=key_public,
                metadata_options=dict(metadata_options),
            )
            tx.put(inst)
            if credits:
                set_cpu_credits(tx, inst, credits)
            launched.append(inst)
        # AWS answers `pending` (code 0) to RunInstances, before it shows the public
        # address (DescribeInstances does).
        instances = [render(tx, i, state="pending", public=False) for i in launched]
    return {"ReservationId": reservation_id, "OwnerId": ctx.account, "Groups": [], "Instances": instances}
