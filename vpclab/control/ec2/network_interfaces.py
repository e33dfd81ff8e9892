"""Network interfaces: DescribeNetworkInterfaces, CreateNetworkInterface, DeleteNetworkInterface.

Every ENI kind is listed here: an instance's eth0 (`interface`), an interface endpoint's
(`vpc_endpoint`, requester-managed) and an NLB node's (`network_load_balancer`,
requester-managed). The areas that own them create and delete them through
`addresses.create_network_interface`; users may create and delete plain ones.
An ENI with a public address (`NetworkInterface.association`, see `public_ips.py`) shows
it as `Association`, on the ENI and on its primary private address; its public DNS
name is "" where the VPC's enableDnsHostnames is off, as on EC2.
"""
from __future__ import annotations

from ...aws_names import private_dns_name, public_dns_name
from ...model.ec2 import NetworkInterface, SecurityGroup, Subnet, Vpc
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameter, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.ipv6 import INTERFACE_IPV6, refuse_ipv6
from ..common.lookup import ENI, SUBNET, get_owned
from ..common.tags import tag_list, tags_from_specs
from .addresses import create_network_interface
from .default_vpc import ensure_default_vpc
from .public_ips import forget_eni
from .regions import zone_by_name
from .security_groups import default_group, find_groups


def group_names(tx: Transaction, group_ids: list[str]) -> dict[str, str]:
    """Group id -> name for the groups that still exist."""
    out = {}
    for gid in group_ids:
        group = tx.get(SecurityGroup, gid)
        if group is not None:
            out[gid] = group.group_name
    return out


def group_identifiers(tx: Transaction, group_ids: list[str]) -> list[dict]:
    """The `Groups` list (GroupId, GroupName) of an ENI or instance."""
    names = group_names(tx, group_ids)
    return [{"GroupId": gid, "GroupName": names.get(gid, "")} for gid in group_ids]


def attachment_view(eni: NetworkInterface) -> dict | None:
    a = eni.attachment
    if not a:
        return None
    return {
        "AttachmentId": a.get("attachment_id"),
        "AttachTime": a.get("attach_time"),
        "DeleteOnTermination": a.get("delete_on_termination", eni.owner_kind == "instance"),
        "DeviceIndex": a.get("device_index", 0),
        "NetworkCardIndex": 0,
        "InstanceId": a.get("instance_id"),
        "InstanceOwnerId": a.get("instance_owner_id", eni.account if a.get("instance_id") else None),
        "Status": a.get("status", "attached"),
    }


def public_name(tx: Transaction, eni: NetworkInterface) -> str:
    """The public DNS name of `eni`'s public address: "" without one, or where its VPC's
    enableDnsHostnames is off."""
    if eni.association is None:
        return ""
    vpc = tx.get(Vpc, eni.vpc_id)
    if vpc is None or not vpc.enable_dns_hostnames:
        return ""
    return public_dns_name(eni.region, eni.association.public_ip)


def association_view(tx: Transaction, eni: NetworkInterface, instance_form: bool = False) -> dict | None:
    """`Association` of `eni`: `NetworkInterfaceAssociation` (with the Elastic IP's
    ids), or with `instance_form` the `InstanceNetworkInterfaceAssociation` that
    DescribeInstances nests (owner, name and address only)."""
    a = eni.association
    if a is None:
        return None
    out: dict = {"IpOwnerId": a.ip_owner_id, "PublicDnsName": public_name(tx, eni), "PublicIp": a.public_ip}
    if not instance_form and a.allocation_id:
        out["AllocationId"] = a.allocation_id
        out["AssociationId"] = a.association_id
    return out


def _private_addresses(tx: Transaction, eni: NetworkInterface, dns: str, instance_form: bool) -> list[dict]:
    entry: dict = {"Primary": True, "PrivateDnsName": dns, "PrivateIpAddress": eni.private_ip}
    association = association_view(tx, eni, instance_form)
    if association is not None:
        entry["Association"] = association
    return [entry]


def render(tx: Transaction, eni: NetworkInterface, groups: list[dict], status: str | None = None) -> dict:
    zone = zone_by_name(eni.region, eni.availability_zone)
    dns = private_dns_name(eni.region, eni.private_ip)
    return {
        "Association": association_view(tx, eni),
        "NetworkInterfaceId": eni.id,
        "OwnerId": eni.account,
        "AvailabilityZone": eni.availability_zone,
        "AvailabilityZoneId": zone.zone_id if zone else None,
        "Description": eni.description,
        "Groups": groups,
        "InterfaceType": eni.interface_type,
        "Ipv6Addresses": [],
        "MacAddress": eni.mac_address,
        "PrivateDnsName": dns,
        "PrivateIpAddress": eni.private_ip,
        "PrivateIpAddresses": _private_addresses(tx, eni, dns, instance_form=False),
        "RequesterId": eni.requester_id,
        "RequesterManaged": eni.requester_managed,
        "SourceDestCheck": True,
        "Status": status or eni.status,
        "SubnetId": eni.subnet_id,
        "VpcId": eni.vpc_id,
        "TagSet": tag_list(eni.tags) or [],
        "Attachment": attachment_view(eni),
        "DenyAllIgwTraffic": False,
        "Ipv6Native": False,
    }


def render_for_instance(tx: Transaction, eni: NetworkInterface, groups: list[dict], public: bool = True) -> dict:
    """The `InstanceNetworkInterface` form, as DescribeInstances nests it (without the
    public address when not `public`: RunInstances' answer)."""
    dns = private_dns_name(eni.region, eni.private_ip)
    attachment = attachment_view(eni) or {}
    association = association_view(tx, eni, instance_form=True) if public else None
    addresses = _private_addresses(tx, eni, dns, instance_form=True) if public else \
        [{"Primary": True, "PrivateDnsName": dns, "PrivateIpAddress": eni.private_ip}]
    return {
        "Association": association,
        "NetworkInterfaceId": eni.id,
        "OwnerId": eni.account,
        "Description": eni.description,
        "Groups": groups,
        "InterfaceType": eni.interface_type,
        "Ipv6Addresses": [],
        "MacAddress": eni.mac_address,
        "PrivateDnsName": dns,
        "PrivateIpAddress": eni.private_ip,
        "PrivateIpAddresses": addresses,
        "SourceDestCheck": True,
        "Status": eni.status,
        "SubnetId": eni.subnet_id,
        "VpcId": eni.vpc_id,
        "Attachment": {k: attachment.get(k) for k in
                       ("AttachTime", "AttachmentId", "DeleteOnTermination", "DeviceIndex",
                        "NetworkCardIndex", "Status")} if attachment else None,
    }


def _filters(names: dict[str, str], dns_names: dict[str, str]) -> dict:
    att = lambda key: (lambda e: (e.attachment or {}).get(key))  # noqa: E731
    assoc = lambda key: (lambda e: getattr(e.association, key) if e.association else None)  # noqa: E731
    return {
        "association.public-ip": assoc("public_ip"),
        "association.ip-owner-id": assoc("ip_owner_id"),
        "association.allocation-id": assoc("allocation_id"),
        "association.association-id": assoc("association_id"),
        "association.public-dns-name": lambda e: dns_names.get(e.id) or None,
        "addresses.association.public-ip": assoc("public_ip"),
        "addresses.association.owner-id": assoc("ip_owner_id"),
        "network-interface-id": lambda e: e.id,
        "subnet-id": lambda e: e.subnet_id,
        "vpc-id": lambda e: e.vpc_id,
        "availability-zone": lambda e: e.availability_zone,
        "private-ip-address": lambda e: e.private_ip,
        "addresses.private-ip-address": lambda e: e.private_ip,
        "addresses.primary": lambda e: True,
        "private-dns-name": lambda e: private_dns_name(e.region, e.private_ip),
        "description": lambda e: e.description,
        "interface-type": lambda e: e.interface_type,
        "requester-managed": lambda e: e.requester_managed,
        "requester-id": lambda e: e.requester_id,
        "status": lambda e: e.status,
        "mac-address": lambda e: e.mac_address,
        "source-dest-check": lambda e: True,
        "owner-id": lambda e: e.account,
        "group-id": lambda e: e.security_group_ids,
        "group-name": lambda e: [names.get(g, "") for g in e.security_group_ids],
        "attachment.instance-id": att("instance_id"),
        "attachment.instance-owner-id": lambda e: (attachment_view(e) or {}).get("InstanceOwnerId"),
        "attachment.attachment-id": att("attachment_id"),
        "attachment.device-index": att("device_index"),
        "attachment.status": att("status"),
        "attachment.attach-time": lambda e: (attachment_view(e) or {}).get("AttachTime"),
        "attachment.delete-on-termination": lambda e: (attachment_view(e) or {}).get("DeleteOnTermination"),
    }


@operation("ec2", "DescribeNetworkInterfaces")
def describe_network_interfaces(ctx: RequestContext, req: dict) -> dict:
    ensure_default_vpc(ctx)
    ids = req.get("NetworkInterfaceIds")
    with ctx.read() as tx:
        enis = tx.list(NetworkInterface, ctx.account, ctx.region)
        names = group_names(tx, sorted({g for e in enis for g in e.security_group_ids}))
        dns_names = {e.id: public_name(tx, e) for e in enis if e.association is not None}
        enis = ENI.select(enis, ids)
        page, token = filter_and_page(enis, req.get("Filters"), _filters(names, dns_names), tags=lambda e: e.tags,
                                      max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
        out = [render(tx, e, [{"GroupId": g, "GroupName": names.get(g, "")} for g in e.security_group_ids])
               for e in page]
    return {"NetworkInterfaces": out, "NextToken": token}


@operation("ec2", "CreateNetworkInterface")
def create_network_interface_api(ctx: RequestContext, req: dict) -> dict:
    subnet_id = req.get("SubnetId")
    if not subnet_id:
        raise MissingParameter("The request must contain the parameter SubnetId")
    refuse_ipv6(req, INTERFACE_IPV6)
    if req.get("PrivateIpAddresses") or req.get("SecondaryPrivateIpAddressCount"):
        raise InvalidParameter("vpclab gives a network interface one private IPv4 address only.")
    interface_type = req.get("InterfaceType")
    if interface_type not in (None, "interface"):
        raise InvalidParameter(f"vpclab does not create '{interface_type}' network interfaces.")
    ensure_default_vpc(ctx)
    tags = tags_from_specs(req.get("TagSpecifications"), "network-interface")
    with ctx.write() as tx:
        subnet = get_owned(tx, ctx, Subnet, subnet_id, SUBNET)
        group_ids = req.get("Groups") or []
        if group_ids:
            find_groups(tx, ctx, group_ids, vpc_id=subnet.vpc_id, subnet_id=subnet.id)
        else:
            default = default_group(tx, ctx.account, ctx.region, subnet.vpc_id)
            group_ids = [default.id] if default else []
        eni = create_network_interface(
            tx, ctx, subnet,
            description=req.get("Description") or "",
            security_group_ids=group_ids,
            private_ip=req.get("PrivateIpAddress"),
        )
        eni.tags = tags
        tx.put(eni)
        groups = group_identifiers(tx, eni.security_group_ids)
        # AWS answers `pending`; Describe shows `available` at once.
        view = render(tx, eni, groups, status="pending")
    return {"NetworkInterface": view}


@operation("ec2", "DeleteNetworkInterface")
def delete_network_interface(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        eni = get_owned(tx, ctx, NetworkInterface, req["NetworkInterfaceId"], ENI)
        if eni.requester_managed and not eni.attachment:
            # What AWS answered for an interface endpoint's ENI (seen in public SDK reports).
            raise InvalidParameterValue(f"Network interface '{eni.id}' is currently in use.")
        if eni.attachment or eni.owner_kind:
            raise AwsError(f"The network interface '{eni.id}' is currently in use.",
                           code="InvalidNetworkInterface.InUse")
        forget_eni(tx, eni)
        tx.delete(eni)
    return {}
