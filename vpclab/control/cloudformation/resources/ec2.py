"""EC2 resource types: VPCs, subnets, security groups and their rules, instances, key
pairs, network interfaces, internet gateways and route tables, Elastic IPs.

Each type maps its schema's properties to the API's parameters in one place (`_PARAMS`
tables, or the one function that builds a call's input); Ref values are the ones the
CloudFormation docs give under "Return values".
"""
from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any, ClassVar

from .api import Api, ApiError
from .provider import Outcome, Props, Provider, ResourceFailed, StackRef, provides
from .tagging import ec2_specs, update_ec2_tags
from .waiting import until


def mapped(props: Props, params: dict[str, str]) -> dict[str, Any]:
    """The API input of the properties `params` maps (property -> parameter), where given."""
    return {param: props[prop] for prop, param in params.items() if props.get(prop) is not None}


def gone(err: ApiError) -> bool:
    """An error that means the resource is not there (a delete's success)."""
    return err.code.endswith("NotFound")


def call_unless_gone(api: Api, service: str, operation: str, params: dict[str, Any]) -> None:
    """`api.call` for a delete: an error saying the resource is not there is its success."""
    try:
        api.call(service, operation, params)
    except ApiError as err:
        if not gone(err):
            raise


def changed(old: Props, new: Props, *names: str) -> list[str]:
    return [n for n in names if old.get(n) != new.get(n)]


def generated_name(stack: StackRef, limit: int = 255) -> str:
    """A name CloudFormation makes up for a resource the template leaves unnamed."""
    suffix = secrets.token_hex(6).upper()
    return f"{stack.stack_name}-{stack.logical_id}-{suffix}"[-limit:].lstrip("-")


# --- VPC ---------------------------------------------------------------------------------------------

def _vpc(api: Api, vpc_id: str) -> dict[str, Any]:
    [vpc] = api.call("ec2", "DescribeVpcs", {"VpcIds": [vpc_id]})["Vpcs"]
    return vpc


def _default_group(api: Api, vpc_id: str) -> str:
    groups = api.call("ec2", "DescribeSecurityGroups", {"Filters": [
        {"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]})["SecurityGroups"]
    return str(groups[0]["GroupId"]) if groups else ""


@provides
class Vpc(Provider):
    type_name = "AWS::EC2::VPC"
    _PARAMS: ClassVar[dict[str, str]] = {
        "CidrBlock": "CidrBlock", "InstanceTenancy": "InstanceTenancy",
        "Ipv4IpamPoolId": "Ipv4IpamPoolId", "Ipv4NetmaskLength": "Ipv4NetmaskLength"}
    #: Properties set by ModifyVpcAttribute (property -> DescribeVpcAttribute's attribute).
    _ATTRIBUTES: ClassVar[dict[str, str]] = {
        "EnableDnsSupport": "enableDnsSupport",
        "EnableDnsHostnames": "enableDnsHostnames"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        vpc = api.call("ec2", "CreateVpc", {**mapped(props, self._PARAMS),
                                            "TagSpecifications": ec2_specs("vpc", stack, props)})["Vpc"]
        vpc_id = vpc["VpcId"]
        until(lambda: True if _vpc(api, vpc_id)["State"] == "available" else None)
        self._set_attributes(api, vpc_id, {}, props)
        return self._outcome(api, vpc_id)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        self._set_attributes(api, physical_id, old, new)
        update_ec2_tags(api, physical_id, old, new)
        return self._outcome(api, physical_id)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DeleteVpc", {"VpcId": physical_id})

    def _set_attributes(self, api: Api, vpc_id: str, old: Props, new: Props) -> None:
        for prop in self._ATTRIBUTES:
            if prop in new and new[prop] != old.get(prop):
                api.call("ec2", "ModifyVpcAttribute", {"VpcId": vpc_id, prop: {"Value": bool(new[prop])}})
            elif prop in old and prop not in new:  # back to AWS's default: both on (hostnames off)
                api.call("ec2", "ModifyVpcAttribute", {"VpcId": vpc_id,
                                                       prop: {"Value": prop == "EnableDnsSupport"}})

    def _outcome(self, api: Api, vpc_id: str) -> Outcome:
        vpc = _vpc(api, vpc_id)
        dns = {prop: api.call("ec2", "DescribeVpcAttribute", {"VpcId": vpc_id, "Attribute": attribute})
               [prop]["Value"] for prop, attribute in self._ATTRIBUTES.items()}
        return Outcome(vpc_id, {
            "VpcId": vpc_id, "CidrBlock": vpc["CidrBlock"],
            "CidrBlockAssociations": [a["AssociationId"] for a in vpc.get("CidrBlockAssociationSet") or []],
            "DefaultSecurityGroup": _default_group(api, vpc_id),
            "Ipv6CidrBlocks": [a["Ipv6CidrBlock"] for a in vpc.get("Ipv6CidrBlockAssociationSet") or []],
            "InstanceTenancy": vpc.get("InstanceTenancy"), **dns,
        })


# --- Subnet ------------------------------------------------------------------------------------------

@provides
class Subnet(Provider):
    type_name = "AWS::EC2::Subnet"
    _PARAMS: ClassVar[dict[str, str]] = {
        "VpcId": "VpcId", "CidrBlock": "CidrBlock", "AvailabilityZone": "AvailabilityZone",
        "AvailabilityZoneId": "AvailabilityZoneId", "Ipv6CidrBlock": "Ipv6CidrBlock",
        "OutpostArn": "OutpostArn", "Ipv6Native": "Ipv6Native", "Ipv4IpamPoolId": "Ipv4IpamPoolId",
        "Ipv4NetmaskLength": "Ipv4NetmaskLength"}
    #: Properties set by ModifySubnetAttribute after the create, as booleans.
    _ATTRIBUTES: ClassVar[tuple[str, ...]] = ("MapPublicIpOnLaunch", "AssignIpv6AddressOnCreation", "EnableDns64")

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        subnet = api.call("ec2", "CreateSubnet", {**mapped(props, self._PARAMS),
                                                  "TagSpecifications": ec2_specs("subnet", stack, props)})["Subnet"]
        self._set_attributes(api, subnet["SubnetId"], {}, props)
        return self._outcome(api, subnet["SubnetId"])

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        self._set_attributes(api, physical_id, old, new)
        update_ec2_tags(api, physical_id, old, new)
        return self._outcome(api, physical_id)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DeleteSubnet", {"SubnetId": physical_id})

    def _set_attributes(self, api: Api, subnet_id: str, old: Props, new: Props) -> None:
        for prop in self._ATTRIBUTES:
            if bool(new.get(prop, False)) != bool(old.get(prop, False)):
                api.call("ec2", "ModifySubnetAttribute", {"SubnetId": subnet_id,
                                                          prop: {"Value": bool(new.get(prop, False))}})

    def _outcome(self, api: Api, subnet_id: str) -> Outcome:
        [s] = api.call("ec2", "DescribeSubnets", {"SubnetIds": [subnet_id]})["Subnets"]
        return Outcome(subnet_id, {
            "SubnetId": subnet_id, "VpcId": s["VpcId"], "CidrBlock": s["CidrBlock"],
            "AvailabilityZone": s["AvailabilityZone"], "AvailabilityZoneId": s["AvailabilityZoneId"],
            "Ipv6CidrBlocks": [a["Ipv6CidrBlock"] for a in s.get("Ipv6CidrBlockAssociationSet") or []],
            "MapPublicIpOnLaunch": s.get("MapPublicIpOnLaunch", False),
            "OutpostArn": s.get("OutpostArn", ""),
        })


# --- Security groups ---------------------------------------------------------------------------------

#: A rule property -> where it goes in an IpPermission, per direction.
_PEERS = {
    "ingress": {"CidrIp": ("IpRanges", "CidrIp"), "CidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
                "SourcePrefixListId": ("PrefixListIds", "PrefixListId"),
                "SourceSecurityGroupId": ("UserIdGroupPairs", "GroupId"),
                "SourceSecurityGroupName": ("UserIdGroupPairs", "GroupName")},
    "egress": {"CidrIp": ("IpRanges", "CidrIp"), "CidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
               "DestinationPrefixListId": ("PrefixListIds", "PrefixListId"),
               "DestinationSecurityGroupId": ("UserIdGroupPairs", "GroupId")},
}


def ip_permission(rule: Props, direction: str) -> dict[str, Any]:
    """One CloudFormation rule (an inline SecurityGroupIngress item, or the properties of
    an AWS::EC2::SecurityGroupIngress) as the IpPermission of an Authorize/Revoke call."""
    perm: dict[str, Any] = {"IpProtocol": str(rule.get("IpProtocol", "-1"))}
    for port in ("FromPort", "ToPort"):
        if rule.get(port) is not None:
            perm[port] = int(rule[port])
    for prop, (member, key) in _PEERS[direction].items():
        if rule.get(prop) is None:
            continue
        peer: dict[str, Any] = {key: rule[prop]}
        if rule.get("Description") is not None:
            peer["Description"] = rule["Description"]
        if member == "UserIdGroupPairs" and rule.get("SourceSecurityGroupOwnerId") is not None:
            peer["UserId"] = str(rule["SourceSecurityGroupOwnerId"])
        perm.setdefault(member, []).append(peer)
    return perm


def _rule_key(rule: Props) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in rule.items() if v is not None))


def _rule_changes(old: list[Props], new: list[Props]) -> tuple[list[Props], list[Props]]:
    """(rules to revoke, rules to authorize) to go from `old` to `new`."""
    before = {_rule_key(r): r for r in old}
    after = {_rule_key(r): r for r in new}
    return [r for k, r in before.items() if k not in after], [r for k, r in after.items() if k not in before]


ALL_TRAFFIC = {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}


@provides
class SecurityGroup(Provider):
    """Ref is the group's id in a VPC the template names, its name in the default VPC
    (the CloudFormation docs' "Return values")."""

    type_name = "AWS::EC2::SecurityGroup"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        params: dict[str, Any] = {"GroupName": props.get("GroupName") or generated_name(stack),
                                  "Description": props.get("GroupDescription", ""),
                                  "TagSpecifications": ec2_specs("security-group", stack, props)}
        if props.get("VpcId"):
            params["VpcId"] = props["VpcId"]
        group_id = api.call("ec2", "CreateSecurityGroup", params)["GroupId"]
        try:
            self._set_rules(api, group_id, {}, props)
        except ApiError:
            api.call("ec2", "DeleteSecurityGroup", {"GroupId": group_id})
            raise
        return self._outcome(api, group_id, props)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        group_id = self._group_id(api, physical_id)
        self._set_rules(api, group_id, old, new)
        update_ec2_tags(api, group_id, old, new)
        return self._outcome(api, group_id, new)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:  # a group named by its name is looked up first: not found there is gone too
            api.call("ec2", "DeleteSecurityGroup", {"GroupId": self._group_id(api, physical_id)})
        except ApiError as err:
            if not gone(err):
                raise

    def _group_id(self, api: Api, physical_id: str) -> str:
        if physical_id.startswith("sg-"):
            return physical_id
        return str(api.call("ec2", "DescribeSecurityGroups", {"GroupNames": [physical_id]})[
            "SecurityGroups"][0]["GroupId"])

    def _set_rules(self, api: Api, group_id: str, old: Props, new: Props) -> None:
        """Ingress as the template lists it; egress too, where the template lists any (an
        empty list, or none, leaves AWS's allow-all rule), as CloudFormation does."""
        revoke, authorize = _rule_changes(old.get("SecurityGroupIngress") or [], new.get("SecurityGroupIngress") or [])
        if revoke:
            api.call("ec2", "RevokeSecurityGroupIngress", {
                "GroupId": group_id, "IpPermissions": [ip_permission(r, "ingress") for r in revoke]})
        if authorize:
            api.call("ec2", "AuthorizeSecurityGroupIngress", {
                "GroupId": group_id, "IpPermissions": [ip_permission(r, "ingress") for r in authorize]})
        old_egress = old.get("SecurityGroupEgress") or [ALL_TRAFFIC]
        new_egress = new.get("SecurityGroupEgress") or [ALL_TRAFFIC]
        revoke, authorize = _rule_changes(old_egress, new_egress)
        if authorize:
            api.call("ec2", "AuthorizeSecurityGroupEgress", {
                "GroupId": group_id, "IpPermissions": [ip_permission(r, "egress") for r in authorize]})
        if revoke:
            api.call("ec2", "RevokeSecurityGroupEgress", {
                "GroupId": group_id, "IpPermissions": [ip_permission(r, "egress") for r in revoke]})

    def _outcome(self, api: Api, group_id: str, props: Props) -> Outcome:
        [group] = api.call("ec2", "DescribeSecurityGroups", {"GroupIds": [group_id]})["SecurityGroups"]
        ref = group_id if props.get("VpcId") else group["GroupName"]
        return Outcome(ref, {"GroupId": group_id, "VpcId": group.get("VpcId", ""), "Id": ref,
                             "GroupName": group["GroupName"]})


class _SecurityGroupRule(Provider):
    """A standalone rule: Ref is the rule's id (`sgr-…`), the schema's primary identifier."""

    direction = "ingress"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        params = {"IpPermissions": [ip_permission(props, self.direction)], **self._group(props)}
        out = api.call("ec2", self._operation("Authorize"), params)
        rules = out.get("SecurityGroupRules") or []
        if not rules:
            raise ResourceFailed("The security group rule was not created")
        rule_id = str(rules[0]["SecurityGroupRuleId"])
        return Outcome(rule_id, {"Id": rule_id})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        # Only the description is not create-only.
        group = self._group(new)
        if "GroupId" in group:
            api.call("ec2", f"UpdateSecurityGroupRuleDescriptions{self.direction.capitalize()}", {
                **group, "IpPermissions": [ip_permission(new, self.direction)]})
        return Outcome(physical_id, {"Id": physical_id})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:
            api.call("ec2", self._operation("Revoke"), {**self._group(props), "SecurityGroupRuleIds": [physical_id]})
        except ApiError as err:
            if not (gone(err) or err.code == "InvalidPermission.NotFound"):
                raise

    def _group(self, props: Props) -> dict[str, Any]:
        if props.get("GroupId"):
            return {"GroupId": props["GroupId"]}
        return {"GroupName": props.get("GroupName", "")}

    def _operation(self, verb: str) -> str:
        return f"{verb}SecurityGroup{self.direction.capitalize()}"


@provides
class SecurityGroupIngress(_SecurityGroupRule):
    type_name = "AWS::EC2::SecurityGroupIngress"
    direction = "ingress"


@provides
class SecurityGroupEgress(_SecurityGroupRule):
    type_name = "AWS::EC2::SecurityGroupEgress"
    direction = "egress"


# --- Instances ---------------------------------------------------------------------------------------

def user_data(props: Props) -> str | None:
    """The template's UserData is base64 (`Fn::Base64`); the API call takes the script,
    which botocore encodes once more as RunInstances' input handler does for boto3."""
    encoded = props.get("UserData")
    if encoded is None:
        return None
    try:
        return base64.b64decode(str(encoded), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as err:
        raise ResourceFailed(f"Invalid BASE64 encoding of user data ({err})") from err


def _instance(api: Api, instance_id: str) -> dict[str, Any] | None:
    try:
        reservations = api.call("ec2", "DescribeInstances", {"InstanceIds": [instance_id]})["Reservations"]
    except ApiError as err:
        if gone(err):
            return None
        raise
    return reservations[0]["Instances"][0] if reservations else None


def _in_state(api: Api, instance_id: str, wanted: str) -> dict[str, Any] | None:
    """The instance once it is in `wanted` (an empty dict for a terminated one that is
    gone); None while it is on its way; `ResourceFailed` when it will not get there."""
    inst = _instance(api, instance_id)
    if inst is None:
        if wanted == "terminated":
            return {}
        raise ResourceFailed(f"Instance {instance_id} does not exist")
    state = inst["State"]["Name"]
    if state == wanted:
        return inst
    if wanted != "terminated" and state in ("shutting-down", "terminated"):
        reason = (inst.get("StateReason") or {}).get("Message") or "unknown"
        raise ResourceFailed(f"Instance {instance_id} failed to stabilize. Current state: {state}. "
                             f"Reason: {reason}")
    return None


@provides
class Instance(Provider):
    type_name = "AWS::EC2::Instance"
    _PARAMS: ClassVar[dict[str, str]] = {
        "ImageId": "ImageId", "InstanceType": "InstanceType", "KeyName": "KeyName",
        "SubnetId": "SubnetId", "SecurityGroupIds": "SecurityGroupIds", "SecurityGroups": "SecurityGroups",
        "PrivateIpAddress": "PrivateIpAddress", "DisableApiTermination": "DisableApiTermination",
        "InstanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
        "EbsOptimized": "EbsOptimized", "MetadataOptions": "MetadataOptions",
        "Ipv6AddressCount": "Ipv6AddressCount", "KernelId": "KernelId", "RamdiskId": "RamdiskId",
        "CreditSpecification": "CreditSpecification", "HibernationOptions": "HibernationOptions",
        "EnclaveOptions": "EnclaveOptions", "CpuOptions": "CpuOptions", "LaunchTemplate": "LaunchTemplate",
        "BlockDeviceMappings": "BlockDeviceMappings", "IamInstanceProfile": "IamInstanceProfile"}
    #: Properties ModifyInstanceAttribute changes on a running instance (property -> its member).
    _LIVE: ClassVar[dict[str, str]] = {
        "DisableApiTermination": "DisableApiTermination",
        "InstanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
        "SourceDestCheck": "SourceDestCheck"}
    #: Properties it changes only on a stopped instance (CloudFormation stops and starts it).
    _STOPPED: ClassVar[dict[str, str]] = {"InstanceType": "InstanceType", "UserData": "UserData"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        params: dict[str, Any] = {**mapped(props, self._PARAMS), "MinCount": 1, "MaxCount": 1,
                                  "TagSpecifications": ec2_specs("instance", stack, props)}
        for key in ("DisableApiTermination", "EbsOptimized"):
            if key in params:
                params[key] = bool(params[key])
        if props.get("AvailabilityZone"):
            params["Placement"] = {"AvailabilityZone": props["AvailabilityZone"]}
        if props.get("Monitoring") is not None:
            params["Monitoring"] = {"Enabled": bool(props["Monitoring"])}
        if props.get("NetworkInterfaces"):
            params["NetworkInterfaces"] = [_launch_interface(n) for n in props["NetworkInterfaces"]]
        script = user_data(props)
        if script is not None:
            params["UserData"] = script
        inst = api.call("ec2", "RunInstances", params)["Instances"][0]
        instance_id = inst["InstanceId"]
        running = until(lambda: _in_state(api, instance_id, "running"))
        return _instance_outcome(running)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        for prop in changed(old, new, *self._LIVE):
            value = new.get(prop)
            if prop == "InstanceInitiatedShutdownBehavior":
                value = value or "stop"
            api.call("ec2", "ModifyInstanceAttribute", {"InstanceId": physical_id,
                                                        self._LIVE[prop]: {"Value": value if isinstance(value, str)
                                                                           else bool(value)}})
        if changed(old, new, "SecurityGroupIds") and new.get("SecurityGroupIds"):
            api.call("ec2", "ModifyInstanceAttribute", {"InstanceId": physical_id,
                                                        "Groups": list(new["SecurityGroupIds"])})
        stopped = changed(old, new, *self._STOPPED)
        if stopped:
            api.call("ec2", "StopInstances", {"InstanceIds": [physical_id]})
            until(lambda: _in_state(api, physical_id, "stopped"))
            for prop in stopped:
                value = user_data(new) if prop == "UserData" else new.get(prop)
                if prop == "InstanceType" and value is None:
                    value = "m1.small"
                api.call("ec2", "ModifyInstanceAttribute", {"InstanceId": physical_id,
                                                            self._STOPPED[prop]: {"Value": value or ""}})
            api.call("ec2", "StartInstances", {"InstanceIds": [physical_id]})
        update_ec2_tags(api, physical_id, old, new)
        return _instance_outcome(until(lambda: _in_state(api, physical_id, "running")))

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:
            api.call("ec2", "TerminateInstances", {"InstanceIds": [physical_id]})
        except ApiError as err:
            if gone(err):
                return
            raise
        until(lambda: _in_state(api, physical_id, "terminated"))


def _launch_interface(spec: Props) -> dict[str, Any]:
    params = mapped(spec, {"DeviceIndex": "DeviceIndex", "NetworkInterfaceId": "NetworkInterfaceId",
                           "SubnetId": "SubnetId", "GroupSet": "Groups", "PrivateIpAddress": "PrivateIpAddress",
                           "Description": "Description", "DeleteOnTermination": "DeleteOnTermination",
                           "AssociatePublicIpAddress": "AssociatePublicIpAddress",
                           "SecondaryPrivateIpAddressCount": "SecondaryPrivateIpAddressCount"})
    if "DeviceIndex" in params:
        params["DeviceIndex"] = int(params["DeviceIndex"])
    return params


def _instance_outcome(inst: dict[str, Any]) -> Outcome:
    return Outcome(inst["InstanceId"], {
        "InstanceId": inst["InstanceId"], "AvailabilityZone": inst.get("Placement", {}).get("AvailabilityZone", ""),
        "PrivateDnsName": inst.get("PrivateDnsName", ""), "PrivateIp": inst.get("PrivateIpAddress", ""),
        "PublicDnsName": inst.get("PublicDnsName", ""), "PublicIp": inst.get("PublicIpAddress", ""),
        "VpcId": inst.get("VpcId", ""), "SubnetId": inst.get("SubnetId", ""),
        "ImageId": inst.get("ImageId", ""), "InstanceType": inst.get("InstanceType", ""),
        "State": {"Code": str(inst["State"]["Code"]), "Name": inst["State"]["Name"]},
    })


# --- Key pairs and network interfaces ----------------------------------------------------------------

@provides
class KeyPair(Provider):
    """Ref is the key's name. Every property is create-only. (CloudFormation also keeps a
    made key's private half in SSM Parameter Store, which vpclab does not serve.)"""

    type_name = "AWS::EC2::KeyPair"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        specs = ec2_specs("key-pair", stack, props)
        if props.get("PublicKeyMaterial"):
            out = api.call("ec2", "ImportKeyPair", {"KeyName": props.get("KeyName", ""), "TagSpecifications": specs,
                                                    "PublicKeyMaterial": str(props["PublicKeyMaterial"]).encode()})
        else:
            out = api.call("ec2", "CreateKeyPair", {**mapped(props, {"KeyName": "KeyName", "KeyType": "KeyType",
                                                                     "KeyFormat": "KeyFormat"}),
                                                    "TagSpecifications": specs})
        return Outcome(out["KeyName"], {"KeyName": out["KeyName"], "KeyPairId": out["KeyPairId"],
                                        "KeyFingerprint": out["KeyFingerprint"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        [key] = api.call("ec2", "DescribeKeyPairs", {"KeyNames": [physical_id]})["KeyPairs"]
        return Outcome(physical_id, {"KeyName": physical_id, "KeyPairId": key["KeyPairId"],
                                     "KeyFingerprint": key["KeyFingerprint"]})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        api.call("ec2", "DeleteKeyPair", {"KeyName": physical_id})  # a missing key is success in EC2 too


@provides
class NetworkInterface(Provider):
    type_name = "AWS::EC2::NetworkInterface"
    _PARAMS: ClassVar[dict[str, str]] = {
        "SubnetId": "SubnetId", "Description": "Description", "GroupSet": "Groups",
        "PrivateIpAddress": "PrivateIpAddress", "InterfaceType": "InterfaceType",
        "SecondaryPrivateIpAddressCount": "SecondaryPrivateIpAddressCount",
        "Ipv6AddressCount": "Ipv6AddressCount"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        eni = api.call("ec2", "CreateNetworkInterface", {
            **mapped(props, self._PARAMS),
            "TagSpecifications": ec2_specs("network-interface", stack, props)})["NetworkInterface"]
        return self._outcome(eni)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        unmodifiable = changed(old, new, "Description", "GroupSet", "SourceDestCheck")
        if unmodifiable:
            raise ResourceFailed(f"vpclab cannot change {', '.join(unmodifiable)} of a network interface "
                                 "(ModifyNetworkInterfaceAttribute is not served)")
        update_ec2_tags(api, physical_id, old, new)
        [eni] = api.call("ec2", "DescribeNetworkInterfaces", {"NetworkInterfaceIds": [physical_id]})[
            "NetworkInterfaces"]
        return self._outcome(eni)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DeleteNetworkInterface", {"NetworkInterfaceId": physical_id})

    def _outcome(self, eni: dict[str, Any]) -> Outcome:
        addresses = eni.get("PrivateIpAddresses") or []
        return Outcome(eni["NetworkInterfaceId"], {
            "Id": eni["NetworkInterfaceId"], "PrimaryPrivateIpAddress": eni.get("PrivateIpAddress", ""),
            "SecondaryPrivateIpAddresses": [a["PrivateIpAddress"] for a in addresses if not a.get("Primary")],
            "VpcId": eni.get("VpcId", "")})


# --- Internet gateways and route tables --------------------------------------------------------------

@provides
class InternetGateway(Provider):
    type_name = "AWS::EC2::InternetGateway"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        igw = api.call("ec2", "CreateInternetGateway", {
            "TagSpecifications": ec2_specs("internet-gateway", stack, props)})["InternetGateway"]
        return Outcome(igw["InternetGatewayId"], {"InternetGatewayId": igw["InternetGatewayId"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        update_ec2_tags(api, physical_id, old, new)
        return Outcome(physical_id, {"InternetGatewayId": physical_id})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DeleteInternetGateway", {"InternetGatewayId": physical_id})


@provides
class VpcGatewayAttachment(Provider):
    """Ref is the attachment's id, which CloudFormation writes `IGW|<vpc-id>` for an
    internet gateway's (the schema's primary identifier is AttachmentType and VpcId)."""

    type_name = "AWS::EC2::VPCGatewayAttachment"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        if not props.get("InternetGatewayId"):
            raise ResourceFailed("vpclab attaches internet gateways only (VpnGatewayId is not served)")
        api.call("ec2", "AttachInternetGateway", {"InternetGatewayId": props["InternetGatewayId"],
                                                  "VpcId": props["VpcId"]})
        return self._outcome(props)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        if old.get("InternetGatewayId") != new.get("InternetGatewayId"):
            self._delete(api, physical_id, old, stack)
            return self._create(api, stack.logical_id, new, stack)
        return self._outcome(new)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:
            api.call("ec2", "DetachInternetGateway", {"InternetGatewayId": props.get("InternetGatewayId", ""),
                                                      "VpcId": props.get("VpcId", "")})
        except ApiError as err:
            if not (gone(err) or err.code == "Gateway.NotAttached"):
                raise

    def _outcome(self, props: Props) -> Outcome:
        return Outcome(f"IGW|{props['VpcId']}", {"AttachmentType": "InternetGateway", "VpcId": props["VpcId"]})


@provides
class RouteTable(Provider):
    type_name = "AWS::EC2::RouteTable"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        table = api.call("ec2", "CreateRouteTable", {
            "VpcId": props["VpcId"], "TagSpecifications": ec2_specs("route-table", stack, props)})["RouteTable"]
        return Outcome(table["RouteTableId"], {"RouteTableId": table["RouteTableId"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        update_ec2_tags(api, physical_id, old, new)
        return Outcome(physical_id, {"RouteTableId": physical_id})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DeleteRouteTable", {"RouteTableId": physical_id})


@provides
class Route(Provider):
    """Ref is `<route-table-id>|<destination>`, the schema's primary identifier
    (RouteTableId and CidrBlock) as CloudFormation joins it."""

    type_name = "AWS::EC2::Route"
    _TARGETS: ClassVar[dict[str, str]] = {
        "GatewayId": "GatewayId", "InstanceId": "InstanceId", "NetworkInterfaceId": "NetworkInterfaceId",
        "NatGatewayId": "NatGatewayId", "VpcEndpointId": "VpcEndpointId",
        "VpcPeeringConnectionId": "VpcPeeringConnectionId", "TransitGatewayId": "TransitGatewayId",
        "EgressOnlyInternetGatewayId": "EgressOnlyInternetGatewayId", "CarrierGatewayId": "CarrierGatewayId",
        "LocalGatewayId": "LocalGatewayId", "CoreNetworkArn": "CoreNetworkArn"}
    _DESTINATIONS: ClassVar[dict[str, str]] = {
        "DestinationCidrBlock": "DestinationCidrBlock", "DestinationIpv6CidrBlock": "DestinationIpv6CidrBlock",
        "DestinationPrefixListId": "DestinationPrefixListId"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        api.call("ec2", "CreateRoute", self._params(props))
        return self._outcome(props)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        api.call("ec2", "ReplaceRoute", self._params(new))
        return self._outcome(new)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DeleteRoute", {"RouteTableId": props["RouteTableId"],
                                                     **mapped(props, self._DESTINATIONS)})

    def _params(self, props: Props) -> dict[str, Any]:
        return {"RouteTableId": props["RouteTableId"], **mapped(props, self._DESTINATIONS),
                **mapped(props, self._TARGETS)}

    def _outcome(self, props: Props) -> Outcome:
        destination = next((str(props[p]) for p in self._DESTINATIONS if props.get(p)), "")
        return Outcome(f"{props['RouteTableId']}|{destination}", {"CidrBlock": destination})


@provides
class SubnetRouteTableAssociation(Provider):
    type_name = "AWS::EC2::SubnetRouteTableAssociation"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        out = api.call("ec2", "AssociateRouteTable", {"SubnetId": props["SubnetId"],
                                                      "RouteTableId": props["RouteTableId"]})
        return Outcome(out["AssociationId"], {"Id": out["AssociationId"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        return Outcome(physical_id, {"Id": physical_id})  # both properties are create-only

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "ec2", "DisassociateRouteTable", {"AssociationId": physical_id})


# --- Elastic IPs -------------------------------------------------------------------------------------

def _address(api: Api, public_ip: str) -> dict[str, Any] | None:
    try:
        found = api.call("ec2", "DescribeAddresses", {"PublicIps": [public_ip]})["Addresses"]
    except ApiError as err:
        if gone(err):
            return None
        raise
    return found[0] if found else None


@provides
class Eip(Provider):
    """Ref is the address itself (the public IP), as the docs' "Return values" say."""

    type_name = "AWS::EC2::EIP"
    _PARAMS: ClassVar[dict[str, str]] = {
        "Domain": "Domain", "PublicIpv4Pool": "PublicIpv4Pool", "NetworkBorderGroup": "NetworkBorderGroup",
        "Address": "Address", "IpamPoolId": "IpamPoolId"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        out = api.call("ec2", "AllocateAddress", {**mapped(props, self._PARAMS),
                                                  "TagSpecifications": ec2_specs("elastic-ip", stack, props)})
        if props.get("InstanceId"):
            api.call("ec2", "AssociateAddress", {"AllocationId": out["AllocationId"],
                                                 "InstanceId": props["InstanceId"]})
        return Outcome(out["PublicIp"], {"PublicIp": out["PublicIp"], "AllocationId": out["AllocationId"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        address = _address(api, physical_id)
        if address is None:
            raise ResourceFailed(f"The Elastic IP {physical_id} does not exist")
        if old.get("InstanceId") != new.get("InstanceId"):
            if address.get("AssociationId"):
                api.call("ec2", "DisassociateAddress", {"AssociationId": address["AssociationId"]})
            if new.get("InstanceId"):
                api.call("ec2", "AssociateAddress", {"AllocationId": address["AllocationId"],
                                                     "InstanceId": new["InstanceId"]})
        update_ec2_tags(api, address["AllocationId"], old, new)
        return Outcome(physical_id, {"PublicIp": physical_id, "AllocationId": address["AllocationId"]})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        address = _address(api, physical_id)
        if address is None:
            return
        if address.get("AssociationId"):
            api.call("ec2", "DisassociateAddress", {"AssociationId": address["AssociationId"]})
        api.call("ec2", "ReleaseAddress", {"AllocationId": address["AllocationId"]})


@provides
class EipAssociation(Provider):
    type_name = "AWS::EC2::EIPAssociation"
    _PARAMS: ClassVar[dict[str, str]] = {
        "AllocationId": "AllocationId", "InstanceId": "InstanceId", "NetworkInterfaceId": "NetworkInterfaceId",
        "PrivateIpAddress": "PrivateIpAddress", "EIP": "PublicIp"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        out = api.call("ec2", "AssociateAddress", mapped(props, self._PARAMS))
        return Outcome(out["AssociationId"], {"Id": out["AssociationId"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        return Outcome(physical_id, {"Id": physical_id})  # every property is create-only

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:
            api.call("ec2", "DisassociateAddress", {"AssociationId": physical_id})
        except ApiError as err:
            if not (gone(err) or err.code == "InvalidAssociationID.NotFound"):
                raise
