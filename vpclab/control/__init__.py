"""Control plane: one module per AWS API area, pure functions over the store.

Importing this package registers every operation handler with the protocol layer.
"""
from importlib import import_module

from .. import model  # noqa: F401  (registers resource kinds)

#: API areas, each a module whose handlers register themselves on import.
AREAS = [
    # EC2: account, networking, compute
    "regions", "tags", "vpcs", "subnets", "security_groups", "security_group_rules",
    "instances", "instance_launch", "instance_attributes", "images", "key_pairs", "network_interfaces",
    # EC2: PrivateLink
    "endpoint_services", "endpoints", "endpoint_connections", "connection_notifications",
    # ELBv2
    "load_balancers", "target_groups", "listeners", "elbv2_tags",
    # STS
    "sts",
]

for _area in AREAS:
    import_module(f"{__name__}.{_area}")
