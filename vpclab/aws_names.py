"""AWS's private DNS names of instances, which the control plane reports and the data
plane serves and writes into instances: one rule, kept in one place.

No imports: `vpclab exec` uses it and must start quickly.
"""
from __future__ import annotations


def private_host_name(ip: str) -> str:
    """EC2's IP-based host name: `ip-172-31-37-136`."""
    return "ip-" + ip.replace(".", "-")


def private_dns_domain(region: str) -> str:
    """The private DNS domain of a region (us-east-1 has the historic `ec2.internal`)."""
    return "ec2.internal" if region == "us-east-1" else f"{region}.compute.internal"


def private_dns_name(region: str, ip: str) -> str:
    """`ip-172-31-37-141.ap-south-1.compute.internal`."""
    return f"{private_host_name(ip)}.{private_dns_domain(region)}"
