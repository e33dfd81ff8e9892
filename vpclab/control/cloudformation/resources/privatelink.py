"""PrivateLink resource types: endpoint services and their permissions, interface (and
gateway) endpoints, connection notifications. No CloudFormation type accepts a
connection: that stays the provider's call."""
from __future__ import annotations

import json
from typing import Any, ClassVar

from .api import Api, ApiError
from .ec2 import changed, gone, mapped
from .provider import Outcome, Props, Provider, ResourceFailed, StackRef, provides
from .tagging import ec2_specs, update_ec2_tags
from .waiting import until

# --- Endpoint services -------------------------------------------------------------------------------


def _service(api: Api, service_id: str) -> dict[str, Any] | None:
    try:
        found = api.call("ec2", "DescribeVpcEndpointServiceConfigurations", {"ServiceIds": [service_id]})[
            "ServiceConfigurations"]
    except ApiError as err:
        if gone(err):
            return None
        raise
    return found[0] if found else None


def _unsuccessful(out: dict[str, Any]) -> None:
    """A batch delete's refusals (HTTP 200 with `Unsuccessful` items) as the failure they are."""
    for item in out.get("Unsuccessful") or []:
        error = item.get("Error") or {}
        code = str(error.get("Code", ""))
        if not gone(ApiError(code, "")):
            raise ApiError(code, str(error.get("Message", "")))


@provides
class VpcEndpointService(Provider):
    """Ref is the service id (`vpce-svc-…`)."""

    type_name = "AWS::EC2::VPCEndpointService"
    _PARAMS: ClassVar[dict[str, str]] = {
        "AcceptanceRequired": "AcceptanceRequired", "NetworkLoadBalancerArns": "NetworkLoadBalancerArns",
        "GatewayLoadBalancerArns": "GatewayLoadBalancerArns", "SupportedIpAddressTypes": "SupportedIpAddressTypes",
        "SupportedRegions": "SupportedRegions", "PrivateDnsName": "PrivateDnsName"}
    #: List properties ModifyVpcEndpointServiceConfiguration adds to and removes from.
    _LISTS: ClassVar[dict[str, tuple[str, str]]] = {
        "NetworkLoadBalancerArns": ("AddNetworkLoadBalancerArns", "RemoveNetworkLoadBalancerArns"),
        "GatewayLoadBalancerArns": ("AddGatewayLoadBalancerArns", "RemoveGatewayLoadBalancerArns"),
        "SupportedIpAddressTypes": ("AddSupportedIpAddressTypes", "RemoveSupportedIpAddressTypes"),
        "SupportedRegions": ("AddSupportedRegions", "RemoveSupportedRegions")}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        service = api.call("ec2", "CreateVpcEndpointServiceConfiguration", {
            **mapped(props, self._PARAMS),
            "TagSpecifications": ec2_specs("vpc-endpoint-service", stack, props)})["ServiceConfiguration"]
        return self._outcome(until(lambda: self._available(api, service["ServiceId"])))

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        params: dict[str, Any] = {}
        if changed(old, new, "AcceptanceRequired"):
            params["AcceptanceRequired"] = bool(new.get("AcceptanceRequired", False))
        for prop, (add, remove) in self._LISTS.items():
            before, after = set(old.get(prop) or []), set(new.get(prop) or [])
            if after - before:
                params[add] = sorted(after - before)
            if before - after:
                params[remove] = sorted(before - after)
        if changed(old, new, "PrivateDnsName"):
            if new.get("PrivateDnsName"):
                params["PrivateDnsName"] = new["PrivateDnsName"]
            else:
                params["RemovePrivateDnsName"] = True
        if params:
            api.call("ec2", "ModifyVpcEndpointServiceConfiguration", {"ServiceId": physical_id, **params})
        update_ec2_tags(api, physical_id, old, new)
        return self._outcome(until(lambda: self._available(api, physical_id)))

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        out = api.call("ec2", "DeleteVpcEndpointServiceConfigurations", {"ServiceIds": [physical_id]})
        _unsuccessful(out)
        until(lambda: True if (_service(api, physical_id) or {}).get("ServiceState", "Deleted") == "Deleted"
              else None)

    def _available(self, api: Api, service_id: str) -> dict[str, Any] | None:
        service = _service(api, service_id)
        if service is None:
            raise ResourceFailed(f"The VpcEndpointService Id '{service_id}' does not exist")
        if service["ServiceState"] == "Failed":
            raise ResourceFailed(f"Endpoint service {service_id} failed")
        return service if service["ServiceState"] == "Available" else None

    def _outcome(self, service: dict[str, Any]) -> Outcome:
        attributes: dict[str, Any] = {"ServiceId": service["ServiceId"], "ServiceName": service.get("ServiceName")}
        dns = service.get("PrivateDnsNameConfiguration") or {}
        for key in ("Name", "State", "Type", "Value"):
            if key in dns:
                attributes[f"PrivateDnsNameConfiguration.{key}"] = dns[key]
        return Outcome(service["ServiceId"], attributes)


@provides
class VpcEndpointServicePermissions(Provider):
    """The service's allowed principals, as the template lists them (an empty list allows
    none). Ref is the service id, the schema's primary identifier."""

    type_name = "AWS::EC2::VPCEndpointServicePermissions"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        self._set(api, props["ServiceId"], [], props.get("AllowedPrincipals") or [])
        return Outcome(props["ServiceId"], {"ServiceId": props["ServiceId"]})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        self._set(api, physical_id, old.get("AllowedPrincipals") or [], new.get("AllowedPrincipals") or [])
        return Outcome(physical_id, {"ServiceId": physical_id})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:
            self._set(api, physical_id, props.get("AllowedPrincipals") or [], [])
        except ApiError as err:
            if not gone(err):
                raise

    def _set(self, api: Api, service_id: str, old: list[str], new: list[str]) -> None:
        params: dict[str, Any] = {}
        if set(new) - set(old):
            params["AddAllowedPrincipals"] = sorted(set(new) - set(old))
        if set(old) - set(new):
            params["RemoveAllowedPrincipals"] = sorted(set(old) - set(new))
        if params:
            api.call("ec2", "ModifyVpcEndpointServicePermissions", {"ServiceId": service_id, **params})


# --- Endpoints ---------------------------------------------------------------------------------------

def _endpoint(api: Api, endpoint_id: str) -> dict[str, Any] | None:
    try:
        found = api.call("ec2", "DescribeVpcEndpoints", {"VpcEndpointIds": [endpoint_id]})["VpcEndpoints"]
    except ApiError as err:
        if gone(err):
            return None
        raise
    return found[0] if found else None


def _policy(props: Props) -> dict[str, Any]:
    policy = props.get("PolicyDocument")
    if policy is None:
        return {}
    return {"PolicyDocument": policy if isinstance(policy, str) else json.dumps(policy)}


@provides
class VpcEndpoint(Provider):
    """Ref is the endpoint id. Create waits for `available`, or `pendingAcceptance` when the
    service asks for acceptance (the provider's accept is not the stack's to wait for)."""

    type_name = "AWS::EC2::VPCEndpoint"
    _PARAMS: ClassVar[dict[str, str]] = {
        "VpcId": "VpcId", "ServiceName": "ServiceName", "VpcEndpointType": "VpcEndpointType",
        "SubnetIds": "SubnetIds", "SecurityGroupIds": "SecurityGroupIds", "PrivateDnsEnabled": "PrivateDnsEnabled",
        "RouteTableIds": "RouteTableIds", "DnsOptions": "DnsOptions", "IpAddressType": "IpAddressType",
        "ServiceRegion": "ServiceRegion"}
    #: List properties ModifyVpcEndpoint adds to and removes from (property -> its Add/Remove stem).
    _LISTS: ClassVar[dict[str, str]] = {
        "SubnetIds": "SubnetIds", "SecurityGroupIds": "SecurityGroupIds", "RouteTableIds": "RouteTableIds"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        params = mapped(props, self._PARAMS)
        if props.get("VpcEndpointType") == "Interface":
            # CloudFormation's default is false, where the API's (for AWS services) is true.
            params.setdefault("PrivateDnsEnabled", False)
        endpoint = api.call("ec2", "CreateVpcEndpoint", {
            **params, **_policy(props),
            "TagSpecifications": ec2_specs("vpc-endpoint", stack, props)})["VpcEndpoint"]
        return self._outcome(until(lambda: self._settled(api, endpoint["VpcEndpointId"])))

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        params: dict[str, Any] = {}
        for prop, stem in self._LISTS.items():
            before, after = set(old.get(prop) or []), set(new.get(prop) or [])
            if after - before:
                params[f"Add{stem}"] = sorted(after - before)
            if before - after:
                params[f"Remove{stem}"] = sorted(before - after)
        if changed(old, new, "PrivateDnsEnabled"):
            params["PrivateDnsEnabled"] = bool(new.get("PrivateDnsEnabled", False))
        if changed(old, new, "PolicyDocument"):
            params.update(_policy(new) or {"ResetPolicy": True})
        if changed(old, new, "IpAddressType") and new.get("IpAddressType"):
            params["IpAddressType"] = new["IpAddressType"]
        if params:
            api.call("ec2", "ModifyVpcEndpoint", {"VpcEndpointId": physical_id, **params})
        update_ec2_tags(api, physical_id, old, new)
        return self._outcome(until(lambda: self._settled(api, physical_id)))

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        if _endpoint(api, physical_id) is None:
            return
        _unsuccessful(api.call("ec2", "DeleteVpcEndpoints", {"VpcEndpointIds": [physical_id]}))
        until(lambda: True if (_endpoint(api, physical_id) or {}).get("State", "deleted") == "deleted" else None)

    def _settled(self, api: Api, endpoint_id: str) -> dict[str, Any] | None:
        endpoint = _endpoint(api, endpoint_id)
        if endpoint is None:
            raise ResourceFailed(f"The Vpc Endpoint Id '{endpoint_id}' does not exist")
        state = endpoint["State"]
        if state in ("failed", "rejected", "expired", "deleted"):
            reason = (endpoint.get("LastError") or {}).get("Message") or state
            raise ResourceFailed(f"VPC endpoint {endpoint_id} is {state}: {reason}")
        return endpoint if state in ("available", "pendingAcceptance") else None

    def _outcome(self, endpoint: dict[str, Any]) -> Outcome:
        entries = [f"{e['HostedZoneId']}:{e['DnsName']}" for e in endpoint.get("DnsEntries") or []]
        return Outcome(endpoint["VpcEndpointId"], {
            "Id": endpoint["VpcEndpointId"], "CreationTimestamp": endpoint.get("CreationTimestamp", ""),
            "DnsEntries": entries, "NetworkInterfaceIds": list(endpoint.get("NetworkInterfaceIds") or [])})


@provides
class VpcEndpointConnectionNotification(Provider):
    """Ref is the notification's id (`vpce-nfn-…`)."""

    type_name = "AWS::EC2::VPCEndpointConnectionNotification"

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        out = api.call("ec2", "CreateVpcEndpointConnectionNotification", {
            **mapped(props, {"ServiceId": "ServiceId", "VPCEndpointId": "VpcEndpointId",
                             "ConnectionNotificationArn": "ConnectionNotificationArn",
                             "ConnectionEvents": "ConnectionEvents"})})["ConnectionNotification"]
        notification_id = out["ConnectionNotificationId"]
        return Outcome(notification_id, {"VPCEndpointConnectionNotificationId": notification_id})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        if changed(old, new, "ConnectionNotificationArn", "ConnectionEvents"):
            api.call("ec2", "ModifyVpcEndpointConnectionNotification", {
                "ConnectionNotificationId": physical_id,
                **mapped(new, {"ConnectionNotificationArn": "ConnectionNotificationArn",
                               "ConnectionEvents": "ConnectionEvents"})})
        return Outcome(physical_id, {"VPCEndpointConnectionNotificationId": physical_id})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        try:
            _unsuccessful(api.call("ec2", "DeleteVpcEndpointConnectionNotifications",
                                   {"ConnectionNotificationIds": [physical_id]}))
        except ApiError as err:
            if not gone(err):
                raise
