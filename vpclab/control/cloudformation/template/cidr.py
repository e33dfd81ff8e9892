"""Fn::Cidr: the first `count` blocks of an address block, each with `cidr_bits` host bits.

`cidrBits` counts host bits, not prefix length: `!Cidr ["10.0.0.0/16", 4, 8]` gives four
/24s. The blocks are consecutive from the block's first address, as AWS lists them.
"""
from __future__ import annotations

import ipaddress

from .errors import template_error

MAX_COUNT = 256


def cidr(ip_block: str, count: int, cidr_bits: int) -> list[str]:
    try:
        network = ipaddress.ip_network(ip_block, strict=False)
    except ValueError:
        raise template_error(f"Fn::Cidr: {ip_block} is not a valid CIDR block") from None
    prefix = network.max_prefixlen - cidr_bits
    if not 1 <= count <= MAX_COUNT:
        raise template_error(f"Fn::Cidr: count must be between 1 and {MAX_COUNT}")
    if cidr_bits < 0 or prefix < network.prefixlen:
        raise template_error(f"Fn::Cidr: cidrBits {cidr_bits} is not valid for {network}")
    if count > 2 ** (prefix - network.prefixlen):
        raise template_error(f"Fn::Cidr: {network} cannot hold {count} blocks of {cidr_bits} host bits")
    step = 2 ** cidr_bits
    first = int(network.network_address)
    return [str(ipaddress.ip_network((first + i * step, prefix))) for i in range(count)]
