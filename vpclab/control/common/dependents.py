"""What keeps a resource from being deleted while another resource still uses it.

DeleteVpc, DeleteSecurityGroup, DeleteLoadBalancer and DetachInternetGateway each ask
one function here; the
queries read `vpclab.model` only, so an area learns what other areas keep in its
resources without importing their handlers. A resource kind that can hold a VPC, a
security group or a load balancer is added to the query here.
"""
from __future__ import annotations

from ...model.ec2 import Instance, InternetGateway, NetworkInterface, RouteTable, SecurityGroup, Subnet
from ...model.elbv2 import LoadBalancer, TargetGroup
from ...model.privatelink import Endpoint, EndpointService
from ...store import Resource, Transaction


def vpc_dependents(tx: Transaction, vpc_id: str) -> list[Resource]:
    """What in a VPC keeps DeleteVpc from deleting it: subnets, ENIs, security groups other
    than `default` and route tables other than the main one (which DeleteVpc deletes with
    the VPC), an attached internet gateway, NLBs, target groups, and endpoints not yet
    deleted."""
    groups = tx.list(SecurityGroup, vpc_id=vpc_id, where=lambda g: g.group_name != "default")
    tables = tx.list(RouteTable, vpc_id=vpc_id, where=lambda t: not any(a.main for a in t.associations))
    endpoints = tx.list(Endpoint, vpc_id=vpc_id, where=lambda e: e.state != "deleted")
    return [*tx.list(Subnet, vpc_id=vpc_id), *tx.list(NetworkInterface, vpc_id=vpc_id), *groups, *tables,
            *tx.list(InternetGateway, vpc_id=vpc_id), *tx.list(LoadBalancer, vpc_id=vpc_id),
            *tx.list(TargetGroup, vpc_id=vpc_id), *endpoints]


def mapped_public_addresses(tx: Transaction, vpc_id: str) -> list[NetworkInterface]:
    """What keeps DetachInternetGateway from detaching a VPC's gateway: the VPC's ENIs
    that hold a public address (an instance's, an Elastic IP's, an NLB node's)."""
    return tx.list(NetworkInterface, vpc_id=vpc_id, where=lambda e: e.association is not None)


def group_dependents(tx: Transaction, group: SecurityGroup) -> list[Resource]:
    """What uses a security group, so that DeleteSecurityGroup refuses: ENIs (an NLB's and
    an endpoint's nodes among them) and instances not terminated that carry it, and other
    groups whose rules name it as their peer."""
    enis = tx.list(NetworkInterface, region=group.region, where=lambda e: group.id in e.security_group_ids)
    instances = tx.list(Instance, region=group.region,
                        where=lambda i: group.id in i.security_group_ids and i.state != "terminated")
    referring = tx.list(SecurityGroup, region=group.region,
                        where=lambda g: g.id != group.id and any(r.group_id == group.id for r in g.rules))
    return [*enis, *instances, *referring]


def load_balancer_users(tx: Transaction, lb_arn: str) -> list[Resource]:
    """What uses an NLB, so that DeleteLoadBalancer answers ResourceInUse: the endpoint
    services that front it."""
    services = tx.list(EndpointService, where=lambda s: lb_arn in s.network_load_balancer_arns)
    return list(services)
