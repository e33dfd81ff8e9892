"""Control plane: AWS semantics, one folder per AWS API area (see README.md).

Importing this package registers every operation handler with the protocol layer: each
area module below registers its handlers (`@operation`) when it is imported, and this
list is the one place that says which areas are served.
"""
from .. import model  # noqa: F401  (registers resource kinds)
from .cloudformation import change_sets, exports, recovery, stacks
from .common import tags
from .ec2 import (
    account_attributes,
    credit_specifications,
    elastic_ips,
    images,
    instance_attributes,
    instance_launch,
    instance_metadata,
    instance_types,
    instances,
    internet_gateways,
    key_pairs,
    network_acls,
    network_interfaces,
    prefix_lists,
    regions,
    route_tables,
    security_group_rules,
    security_groups,
    security_groups_for_vpc,
    subnets,
    volumes,
    vpc_cidr_blocks,
    vpcs,
)
from .elbv2 import listeners, load_balancers, target_groups
from .elbv2 import tags as elbv2_tags
from .privatelink import connection_notifications, endpoint_connections, endpoint_services, endpoints
from .sts import caller_identity

#: API areas whose handlers are served, in the order they register.
AREAS = [
    # EC2: account, networking, compute
    regions, account_attributes, tags, vpcs, vpc_cidr_blocks, subnets, security_groups, security_group_rules,
    internet_gateways, route_tables, prefix_lists,
    instances, instance_launch, instance_attributes, instance_metadata, instance_types, images, key_pairs, network_interfaces,
    elastic_ips,
    # EC2: what Terraform's AWS provider reads besides
    volumes, credit_specifications, network_acls, security_groups_for_vpc,
    # EC2: PrivateLink
    endpoint_services, endpoints, endpoint_connections, connection_notifications,
    # ELBv2
    load_balancers, target_groups, listeners, elbv2_tags,
    # STS
    caller_identity,
    # CloudFormation
    stacks, change_sets, exports, recovery,
]

#: Transitions that settle with time where no data plane observes them
#: (`common.lifecycle.settle`), in the order the server's timer runs them.
LIFECYCLE_STEPS = [
    instances.settle_instances,
    load_balancers.settle_load_balancers,
    target_groups.finish_draining,
    endpoints.settle_endpoints,
    recovery.end_interrupted,
]
