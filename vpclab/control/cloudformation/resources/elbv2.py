"""Elastic Load Balancing v2 resource types: load balancers, target groups (with their
targets and attributes), listeners. Ref is the ARN of each."""
from __future__ import annotations

import re
import secrets
from typing import Any, ClassVar

from .api import Api, ApiError
from .ec2 import call_unless_gone, changed, gone, mapped
from .provider import Outcome, Props, Provider, ResourceFailed, StackRef, provides
from .tagging import all_tags, update_elbv2_tags
from .waiting import until

#: ELBv2 names: at most 32 letters, digits and hyphens.
_NAME_LIMIT = 32


def generated_name(stack: StackRef) -> str:
    """The name CloudFormation makes up for an unnamed load balancer or target group:
    parts of the stack's and the resource's names, and a random suffix, within 32."""
    stack_part, resource_part = (re.sub(r"[^A-Za-z0-9]", "", s)[:9] for s in (stack.stack_name, stack.logical_id))
    suffix = secrets.token_hex(6).upper()
    return f"{stack_part}-{resource_part}-{suffix}".strip("-")[:_NAME_LIMIT]


def key_values(items: list[Props] | None) -> dict[str, str]:
    return {str(i["Key"]): str(i.get("Value", "")) for i in items or []}


def _attribute_changes(old: list[Props] | None, new: list[Props] | None) -> list[dict[str, str]]:
    before, after = key_values(old), key_values(new)
    return [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]


# --- Load balancers ----------------------------------------------------------------------------------

def _load_balancer(api: Api, arn: str) -> dict[str, Any] | None:
    try:
        found = api.call("elbv2", "DescribeLoadBalancers", {"LoadBalancerArns": [arn]})["LoadBalancers"]
    except ApiError as err:
        if gone(err):
            return None
        raise
    return found[0] if found else None


def _active(api: Api, arn: str) -> dict[str, Any] | None:
    lb = _load_balancer(api, arn)
    if lb is None:
        raise ResourceFailed(f"Load balancer '{arn}' not found")
    state = lb["State"]["Code"]
    if state == "failed":
        raise ResourceFailed(f"Load balancer '{arn}' failed: {lb['State'].get('Reason', '')}")
    return lb if state == "active" else None


def full_name(arn: str, marker: str) -> str:
    """`net/<name>/<hex>` of a load balancer ARN, `targetgroup/<name>/<hex>` of a target group's."""
    return arn.split(f":{marker}/", 1)[1] if f":{marker}/" in arn else arn.rsplit(":", 1)[-1]


@provides
class LoadBalancer(Provider):
    type_name = "AWS::ElasticLoadBalancingV2::LoadBalancer"
    _PARAMS: ClassVar[dict[str, str]] = {
        "Scheme": "Scheme", "Type": "Type", "Subnets": "Subnets", "SubnetMappings": "SubnetMappings",
        "SecurityGroups": "SecurityGroups", "IpAddressType": "IpAddressType"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        lb = api.call("elbv2", "CreateLoadBalancer", {
            "Name": props.get("Name") or generated_name(stack), **mapped(props, self._PARAMS),
            "Tags": all_tags(stack, props)})["LoadBalancers"][0]
        arn = lb["LoadBalancerArn"]
        try:
            self._set(api, arn, {}, props)
        except ApiError:
            api.call("elbv2", "DeleteLoadBalancer", {"LoadBalancerArn": arn})
            raise
        return self._outcome(until(lambda: _active(api, arn)))

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        if changed(old, new, "Subnets", "SubnetMappings"):
            params = mapped(new, {"Subnets": "Subnets", "SubnetMappings": "SubnetMappings"})
            api.call("elbv2", "SetSubnets", {"LoadBalancerArn": physical_id, **params})
        if changed(old, new, "IpAddressType") and new.get("IpAddressType"):
            api.call("elbv2", "SetIpAddressType", {"LoadBalancerArn": physical_id,
                                                   "IpAddressType": new["IpAddressType"]})
        self._set(api, physical_id, old, new)
        update_elbv2_tags(api, physical_id, old, new)
        return self._outcome(until(lambda: _active(api, physical_id)))

    def _set(self, api: Api, arn: str, old: Props, new: Props) -> None:
        """What the create call does not take: attributes, the PrivateLink inbound rule setting,
        a new list of security groups."""
        attributes = _attribute_changes(old.get("LoadBalancerAttributes"), new.get("LoadBalancerAttributes"))
        if attributes:
            api.call("elbv2", "ModifyLoadBalancerAttributes", {"LoadBalancerArn": arn, "Attributes": attributes})
        enforce = "EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"
        if old and changed(old, new, "SecurityGroups", enforce) or not old and new.get(enforce):
            params: dict[str, Any] = {"LoadBalancerArn": arn, "SecurityGroups": list(new.get("SecurityGroups") or [])}
            if new.get(enforce):
                params[enforce] = new[enforce]
            api.call("elbv2", "SetSecurityGroups", params)

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        lb = _load_balancer(api, physical_id)
        if lb is None:
            return
        api.call("elbv2", "DeleteLoadBalancer", {"LoadBalancerArn": physical_id})
        # Its ENIs go after it; what held them (subnets, security groups) can go only then.
        description = f"ELB {full_name(physical_id, 'loadbalancer')}"
        until(lambda: True if not api.call("ec2", "DescribeNetworkInterfaces", {"Filters": [
            {"Name": "description", "Values": [description]}]})["NetworkInterfaces"] else None)

    def _outcome(self, lb: dict[str, Any]) -> Outcome:
        arn = lb["LoadBalancerArn"]
        return Outcome(arn, {
            "LoadBalancerArn": arn, "DNSName": lb["DNSName"], "CanonicalHostedZoneID": lb["CanonicalHostedZoneId"],
            "LoadBalancerFullName": full_name(arn, "loadbalancer"), "LoadBalancerName": lb["LoadBalancerName"],
            "SecurityGroups": lb.get("SecurityGroups") or [], "Scheme": lb.get("Scheme"), "Type": lb.get("Type"),
            "IpAddressType": lb.get("IpAddressType")})


# --- Target groups -----------------------------------------------------------------------------------

@provides
class TargetGroup(Provider):
    type_name = "AWS::ElasticLoadBalancingV2::TargetGroup"
    _PARAMS: ClassVar[dict[str, str]] = {
        "Protocol": "Protocol", "ProtocolVersion": "ProtocolVersion", "Port": "Port", "VpcId": "VpcId",
        "TargetType": "TargetType", "IpAddressType": "IpAddressType"}
    #: Properties ModifyTargetGroup changes in place.
    _HEALTH: ClassVar[dict[str, str]] = {
        "HealthCheckEnabled": "HealthCheckEnabled", "HealthCheckProtocol": "HealthCheckProtocol",
        "HealthCheckPort": "HealthCheckPort", "HealthCheckPath": "HealthCheckPath",
        "HealthCheckIntervalSeconds": "HealthCheckIntervalSeconds",
        "HealthCheckTimeoutSeconds": "HealthCheckTimeoutSeconds",
        "HealthyThresholdCount": "HealthyThresholdCount", "UnhealthyThresholdCount": "UnhealthyThresholdCount",
        "Matcher": "Matcher"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        group = api.call("elbv2", "CreateTargetGroup", {
            "Name": props.get("Name") or generated_name(stack), **mapped(props, self._PARAMS),
            **mapped(props, self._HEALTH), "Tags": all_tags(stack, props)})["TargetGroups"][0]
        arn = group["TargetGroupArn"]
        try:
            self._set(api, arn, {}, props)
        except ApiError:
            api.call("elbv2", "DeleteTargetGroup", {"TargetGroupArn": arn})
            raise
        return self._outcome(api, arn)

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        if changed(old, new, *self._HEALTH):
            api.call("elbv2", "ModifyTargetGroup", {"TargetGroupArn": physical_id, **mapped(new, self._HEALTH)})
        self._set(api, physical_id, old, new)
        update_elbv2_tags(api, physical_id, old, new)
        return self._outcome(api, physical_id)

    def _set(self, api: Api, arn: str, old: Props, new: Props) -> None:
        attributes = _attribute_changes(old.get("TargetGroupAttributes"), new.get("TargetGroupAttributes"))
        if attributes:
            api.call("elbv2", "ModifyTargetGroupAttributes", {"TargetGroupArn": arn, "Attributes": attributes})
        before = {_target_key(t): t for t in old.get("Targets") or []}
        after = {_target_key(t): t for t in new.get("Targets") or []}
        leaving = [_target(t) for k, t in before.items() if k not in after]
        if leaving:
            api.call("elbv2", "DeregisterTargets", {"TargetGroupArn": arn, "Targets": leaving})
        coming = [_target(t) for k, t in after.items() if k not in before]
        if coming:
            api.call("elbv2", "RegisterTargets", {"TargetGroupArn": arn, "Targets": coming})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "elbv2", "DeleteTargetGroup", {"TargetGroupArn": physical_id})

    def _outcome(self, api: Api, arn: str) -> Outcome:
        [group] = api.call("elbv2", "DescribeTargetGroups", {"TargetGroupArns": [arn]})["TargetGroups"]
        return Outcome(arn, {"TargetGroupArn": arn, "TargetGroupName": group["TargetGroupName"],
                             "TargetGroupFullName": "targetgroup/" + full_name(arn, "targetgroup"),
                             "LoadBalancerArns": group.get("LoadBalancerArns") or []})


def _target(spec: Props) -> dict[str, Any]:
    out: dict[str, Any] = {"Id": str(spec["Id"])}
    if spec.get("Port") is not None:
        out["Port"] = int(spec["Port"])
    if spec.get("AvailabilityZone"):
        out["AvailabilityZone"] = spec["AvailabilityZone"]
    return out


def _target_key(spec: Props) -> tuple[str, str, str]:
    return str(spec["Id"]), str(spec.get("Port", "")), str(spec.get("AvailabilityZone", ""))


# --- Listeners ---------------------------------------------------------------------------------------

@provides
class Listener(Provider):
    type_name = "AWS::ElasticLoadBalancingV2::Listener"
    _PARAMS: ClassVar[dict[str, str]] = {
        "Port": "Port", "Protocol": "Protocol", "SslPolicy": "SslPolicy", "Certificates": "Certificates",
        "AlpnPolicy": "AlpnPolicy", "DefaultActions": "DefaultActions"}

    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        listener = api.call("elbv2", "CreateListener", {
            "LoadBalancerArn": props["LoadBalancerArn"], **mapped(props, self._PARAMS),
            "Tags": all_tags(stack, props)})["Listeners"][0]
        arn = listener["ListenerArn"]
        self._set_attributes(api, arn, {}, props)
        return Outcome(arn, {"ListenerArn": arn})

    def _update(self, api: Api, physical_id: str, old: Props, new: Props, stack: StackRef) -> Outcome:
        if changed(old, new, *self._PARAMS):
            api.call("elbv2", "ModifyListener", {"ListenerArn": physical_id, **mapped(new, self._PARAMS)})
        self._set_attributes(api, physical_id, old, new)
        update_elbv2_tags(api, physical_id, old, new)
        return Outcome(physical_id, {"ListenerArn": physical_id})

    def _set_attributes(self, api: Api, arn: str, old: Props, new: Props) -> None:
        attributes = _attribute_changes(old.get("ListenerAttributes"), new.get("ListenerAttributes"))
        if attributes:
            api.call("elbv2", "ModifyListenerAttributes", {"ListenerArn": arn, "Attributes": attributes})

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        call_unless_gone(api, "elbv2", "DeleteListener", {"ListenerArn": physical_id})
