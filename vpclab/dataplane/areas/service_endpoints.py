"""Interface endpoints to the AWS services vpclab serves: the API at the endpoint's ENIs.

An endpoint to `com.amazonaws.<region>.ec2` (or elasticloadbalancing, sts,
cloudformation: `model.aws_services`, `served`) has ENIs in the consumer's subnets, as
any interface endpoint. Nothing crosses to another VPC: AWS's side of the endpoint is
vpclab itself. Each ENI's address is a /32 on its subnet's bridge in the VPC's own
router, so the router answers ARP for it on that subnet and takes in what is sent to it
from every subnet of the VPC; the `service_api` agent listens there on port 443 (HTTPS)
and hands each request to the API as a request through that endpoint
(`protocol.identity.EndpointArrival`). The ENI's security groups guard it in the
router's input path (`security_groups.service_endpoint_table`).

Addresses exist while the endpoint is `pending` or `available`, so the pass that makes
it `available` (`endpoints.observe`) has already applied them; any other state (deleting,
deleted, failed, rejected) takes them away, and with them every way into the API from
that VPC.

Endpoints to AWS services vpclab does not serve (s3, kms, …) get their ENIs and names,
but carry nothing: nothing answers at their addresses.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ...model import aws_services
from ...model.ec2 import NetworkInterface
from ...model.privatelink import Endpoint
from ..planner import PlanBuilder
from ..world import World
from .network import router_address, vpc_namespace

#: Endpoint states in which the API answers at the ENIs.
SERVING_STATES = ("pending", "available")
#: The port the API answers on (HTTPS, as AWS's endpoints).
PORT = 443


@dataclass(frozen=True)
class ServiceEni:
    """One ENI of an endpoint to a service vpclab serves."""

    endpoint: Endpoint
    eni: NetworkInterface
    service: aws_services.AwsService
    region: str

    def host_names(self) -> frozenset[str]:
        """The names a request through this ENI may name: the service's private DNS name
        and the endpoint's own DNS names (regional and zonal)."""
        names = {self.service.private_dns_name(self.region)}
        names.update(e["DnsName"] for e in self.endpoint.dns_entries if e.get("DnsName"))
        return frozenset(n.lower().rstrip(".") for n in names)

    def certificate_names(self) -> tuple[str, ...]:
        """What the server's certificate names: the private DNS name, and every endpoint
        name of the service in the region (`vpce-….<prefix>.<region>.vpce.amazonaws.com`)."""
        prefix = self.service.dns_prefix
        return (self.service.private_dns_name(self.region), f"*.{prefix}.{self.region}.vpce.amazonaws.com")


def served(ep: Endpoint) -> tuple[aws_services.AwsService, str] | None:
    """(service, region) when `ep` is an Interface endpoint to a service vpclab serves."""
    if ep.endpoint_type != "Interface":
        return None
    found = aws_services.lookup(ep.service_name)
    if found is None or found[0].served is None:
        return None
    return found


def service_enis(world: World) -> Iterator[ServiceEni]:
    """Every ENI at which the API answers now, in a stable order."""
    for ep in sorted(world.endpoints.values(), key=lambda e: e.id):
        found = served(ep)
        if found is None or ep.state not in SERVING_STATES or ep.vpc_id not in world.vpcs:
            continue
        for eni_id in ep.network_interface_ids:
            eni = world.enis.get(eni_id)
            if eni is None or not eni.private_ip or eni.subnet_id not in world.subnets:
                continue
            yield ServiceEni(ep, eni, found[0], found[1])


def router_of(prefix: str, e: ServiceEni) -> str:
    return vpc_namespace(prefix, e.endpoint.vpc_id)


def contribute(world: World, builder: PlanBuilder) -> None:
    for e in service_enis(world):
        router_address(builder, router_of(builder.prefix, e), e.eni.subnet_id, e.eni.private_ip)
