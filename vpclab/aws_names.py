"""AWS's private and public DNS names of instances, which the control plane reports and the data
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


def public_dns_name(region: str, ip: str) -> str:
    """EC2's public host name: `ec2-198-18-1-7.ap-south-1.compute.amazonaws.com`
    (us-east-1 has the historic `compute-1.amazonaws.com`)."""
    domain = "compute-1.amazonaws.com" if region == "us-east-1" else f"{region}.compute.amazonaws.com"
    return f"ec2-{ip.replace('.', '-')}.{domain}"


#: The default login user of each image distribution (`images.Image.distribution`), as
#: the AMIs ship it: Amazon Linux's ec2-user, Debian's admin, Ubuntu's ubuntu.
DEFAULT_USERS = {
    "amazon-linux-2023": "ec2-user",
    "amazon-linux-2": "ec2-user",
    "debian-12": "admin",
    "ubuntu-24.04": "ubuntu",
    "ubuntu-22.04": "ubuntu",
}


def default_user(distribution: str) -> str:
    """The user `ssh` logs in as on an instance of `distribution` (ec2-user if unknown)."""
    return DEFAULT_USERS.get(distribution, "ec2-user")


def uses_yum(distribution: str) -> bool:
    """Amazon Linux images manage packages with yum/dnf."""
    return distribution.startswith("amazon-linux")
