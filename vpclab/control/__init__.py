"""Control plane: one module per AWS API area, pure functions over the store.

Importing this package registers every operation handler with the protocol layer.
"""
from importlib import import_module

from .. import model  # noqa: F401  (registers resource kinds)

AREAS = [
    "regions",
    "tags",
    "vpcs",
    "subnets",
    "security_groups",
    "instances",
    "images",
    "key_pairs",
    "network_interfaces",
    "sts",
    "endpoint_services",
    "endpoints",
    "endpoint_connections",
    "connection_notifications",
    "load_balancers", "target_groups", "listeners", "elbv2_tags",
]

for _area in AREAS:
    try:
        import_module(f"{__name__}.{_area}")
    except ModuleNotFoundError as exc:  # an area not written yet
        if exc.name != f"{__name__}.{_area}":
            raise
