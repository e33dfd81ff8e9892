"""The one refusal of a request that asks for IPv6, which vpclab does not serve yet.

A parameter that would give a VPC, subnet, network interface or instance IPv6 addresses
is refused (`InvalidParameterValue`, HTTP 400, nothing changed) rather than ignored: an
IPv4-only success would let a tool believe it has the dual stack it asked for. A parameter
that asks for nothing (`false`, `0`, an empty list) passes: SDKs and Terraform send those.
Handlers call `refuse_ipv6` before they open a write transaction.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...protocol.errors import InvalidParameterValue


class Ipv6NotServed(InvalidParameterValue):
    """What AWS answers for a value it cannot serve, with vpclab's reason."""

    def __init__(self, param: str, value: Any) -> None:
        super().__init__(
            f"Value ({_text(value)}) for parameter {param} is invalid. "
            f"vpclab does not serve IPv6 yet: {param} asks for IPv6."
        )
        self.param = param


def asks(value: Any) -> bool:
    """True when a request value asks for something (not absent, false, zero or empty)."""
    return value not in (None, False, 0, "", [], {})


def wire_name(member: str) -> str:
    """The EC2 query name of a request member, as AWS's messages spell it (`ipv6CidrBlock`)."""
    return member[:1].lower() + member[1:]


def refuse_ipv6(req: dict, members: Iterable[str], where: str = "") -> None:
    """Raise `Ipv6NotServed` for the first of `members` that `req` asks for; `where`
    prefixes the parameter's name (`networkInterface.1.`)."""
    for member in members:
        value = req.get(member)
        if asks(value):
            raise Ipv6NotServed(where + wire_name(member), value)


def refuse_ipv6_true(value: Any, param: str) -> None:
    """An attribute (`AttributeBooleanValue` or a bare boolean) that would turn IPv6 on."""
    if isinstance(value, dict):
        value = value.get("Value")
    if value:
        raise Ipv6NotServed(param, True)


#: CreateVpc / AssociateVpcCidrBlock members that ask for an IPv6 CIDR block.
VPC_IPV6 = ("AmazonProvidedIpv6CidrBlock", "Ipv6Pool", "Ipv6CidrBlock", "Ipv6IpamPoolId",
            "Ipv6NetmaskLength", "Ipv6CidrBlockNetworkBorderGroup")

#: CreateSubnet members that ask for an IPv6 subnet.
SUBNET_IPV6 = ("Ipv6CidrBlock", "Ipv6Native", "Ipv6IpamPoolId", "Ipv6NetmaskLength")

#: CreateNetworkInterface / RunInstances (and each of its NetworkInterfaces) members that
#: ask for IPv6 addresses or prefixes.
INTERFACE_IPV6 = ("Ipv6AddressCount", "Ipv6Addresses", "Ipv6PrefixCount", "Ipv6Prefixes",
                  "EnablePrimaryIpv6", "PrimaryIpv6")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(_text(v.get("Ipv6Address") or v.get("Ipv6Prefix") or v) if isinstance(v, dict) else _text(v)
                         for v in value)
    return str(value)
