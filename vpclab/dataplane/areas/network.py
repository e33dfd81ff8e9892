"""VPCs, subnets and instances as namespaces: the network every other area builds on.

- A VPC is a router namespace: one bridge per subnet holding the subnet's base+1 (the
  gateway), forwarding between its subnets. Another bridge with no ports, the *service
  bridge*, holds the VPC's own local addresses: the resolver (base+2 and 169.254.169.253)
  and the instance metadata service (169.254.169.254, `agents/metadata.py`).
  The router also holds the VPC's NLB nodes, as addresses (`load_balancers`).
  Two VPCs share no link, so they cannot reach each other except through what
  PrivateLink adds (an endpoint's link, from a subnet bridge into the router of the
  NLB's VPC).
- An instance is a namespace with `eth0` (its private IP) on a veth whose other end is a
  port of its subnet's bridge, and a default route via the subnet's gateway. `eth0` has
  its ENI's MAC address, as on EC2: it is the same after a stop and start (a new veth),
  so the router's neighbour entry for the instance stays right; a new MAC would leave
  the router sending to the old one until the entry went stale, tens of seconds in which
  nothing reached a restarted instance that had not spoken first.
"""
from __future__ import annotations

import dataclasses

from ...kernel import naming
from ...kernel.topology import Bridge, Interface, Route, VethPair
from ..planner import PlanBuilder
from ..world import LINK_LOCAL_RESOLVER, METADATA_ADDRESS, World, gateway_of, prefix_len, resolver_of

#: GSO/GRO packet size on every veth end vpclab makes (instances' eth0, their bridge
#: ports, transit links) and on subnet bridges: 192 KiB, IPv4 BIG TCP (Linux 6.3+; the
#: MTU stays as it is). A forwarded GSO packet costs the same per hop whatever its size,
#: so fewer, larger ones cut the per-byte cost of every hop; the same on every path
#: (benchmarks/dataplane.py).
GSO_MAX_SIZE = 196608

#: A router forwards, checks no reverse path (endpoint links bring addresses from other
#: VPCs), and routes what reaches it at layer 3 only: with bridge netfilter (built into
#: some kernels) frames bridged between two instances would otherwise pass the router's
#: conntrack and NAT too, and a flow DNATed by an NLB node back to the port it came from
#: (an instance reaching itself through its NLB) would be bridged out of its own port,
#: which a bridge never does. It sends no ICMP redirects (nor does AWS's VPC router): an
#: NLB node's flow to a target on the client's own subnet leaves on the bridge it came
#: in on, and a redirect would send the client's next packets for the node's address
#: straight to the target, which drops them (a redirect is sent when any of `all` and
#: the interface says so: the bridges get their own key).
ROUTER_SYSCTLS = {
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.bridge.bridge-nf-call-iptables": "0",
    "net.bridge.bridge-nf-call-ip6tables": "0",
    "net.bridge.bridge-nf-call-arptables": "0",
}


def router_mac(gateway: str) -> str:
    """The MAC of a subnet's bridge, i.e. of the router's gateway and NLB node addresses on
    that subnet: fixed (``02:ea:`` + the gateway's four bytes). A bridge without one takes
    the lowest MAC of its ports and changes it when a lower one joins: every instance that
    had the router's MAC cached (its gateway, an NLB node's address) would then send to a
    MAC that is gone until its neighbour entry times out (seconds): a target's answers
    to an NLB node were lost after a client was launched on its subnet."""
    return naming.address_mac(0xEA, gateway)


def vpc_namespace(prefix: str, vpc_id: str) -> str:
    return naming.namespace_name(prefix, vpc_id)


def instance_namespace(prefix: str, instance_id: str) -> str:
    return naming.namespace_name(prefix, instance_id)


def service_bridge(prefix: str, vpc_id: str) -> str:
    """The port-less bridge of a VPC namespace that holds its local service addresses."""
    return naming.bridge_name(prefix, vpc_id + "/services")


def router_address(builder: PlanBuilder, namespace: str, subnet_id: str, ip: str) -> None:
    """`ip` as an address of router `namespace` on `subnet_id`: a /32 on the subnet's
    bridge (no prefix route of its own: the gateway's address keeps the subnet's). NLB
    nodes and the ENIs of endpoints to vpclab's services are such addresses. Nothing is
    added where the plan has no such router or bridge."""
    if not builder.has(namespace):
        return
    router = builder.namespace(namespace)
    name = naming.bridge_name(builder.prefix, subnet_id)
    bridge = router.bridges.get(name)
    address = f"{ip}/32"
    if bridge is not None and address not in bridge.addresses:
        router.bridges[name] = dataclasses.replace(bridge, addresses=(*bridge.addresses, address))


def attach_to_subnet(builder: PlanBuilder, world: World, prefix: str, namespace: str,
                     eni_id: str, subnet_id: str, private_ip: str) -> None:
    """Give `namespace` an `eth0` with `private_ip` on `subnet_id`'s bridge, and a default route."""
    subnet = world.subnets[subnet_id]
    length = prefix_len(subnet.cidr_block)
    router = builder.namespace(vpc_namespace(prefix, subnet.vpc_id))
    peer = naming.veth_name(prefix, eni_id)
    eni = world.enis.get(eni_id)
    router.veths[peer] = VethPair(
        local=Interface(peer, master=naming.bridge_name(prefix, subnet.id), gso_max_size=GSO_MAX_SIZE),
        peer_namespace=namespace,
        peer=Interface("eth0", addresses=(f"{private_ip}/{length}",), gso_max_size=GSO_MAX_SIZE,
                       mac=eni.mac_address.lower() if eni is not None and eni.mac_address else None),
    )
    draft = builder.namespace(namespace)
    draft.routes.append(Route("default", via=gateway_of(subnet.cidr_block), dev="eth0"))


def contribute(world: World, builder: PlanBuilder) -> None:
    prefix = builder.prefix
    for vpc in world.vpcs.values():
        draft = builder.namespace(vpc_namespace(prefix, vpc.id))
        draft.sysctls.update(ROUTER_SYSCTLS)
        services = service_bridge(prefix, vpc.id)
        draft.bridges[services] = Bridge(
            services, addresses=(f"{resolver_of(vpc.cidr_block)}/32", f"{LINK_LOCAL_RESOLVER}/32",
                                 f"{METADATA_ADDRESS}/32"))
        for subnet in world.subnets_of(vpc.id):
            name = naming.bridge_name(prefix, subnet.id)
            draft.sysctls[f"net.ipv4.conf.{name}.send_redirects"] = "0"
            # The router forwards into the subnet through its bridge: the bridge too must take
            # large GSO packets, or each one would be cut into MTU-sized ones in software.
            gateway = gateway_of(subnet.cidr_block)
            draft.bridges[name] = Bridge(name, addresses=(f"{gateway}/{prefix_len(subnet.cidr_block)}",),
                                         gso_max_size=GSO_MAX_SIZE, mac=router_mac(gateway))
    for instance in world.live_instances():
        if instance.subnet_id not in world.subnets or instance.vpc_id not in world.vpcs:
            continue
        attach_to_subnet(builder, world, prefix, instance_namespace(prefix, instance.id),
                         instance.network_interface_id or instance.id, instance.subnet_id,
                         instance.private_ip)
