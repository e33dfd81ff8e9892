"""Every ENI of an interface endpoint answers from every subnet of the consumer VPC.

Real traffic: account 1's NLB has a node in each of the region's three zones; account 2's
endpoint has an ENI in each of its default VPC's three subnets (both default VPCs are
172.31.0.0/16, so every consumer gateway address is also a provider gateway address);
a consumer instance in each zone curls every zonal DNS name, every ENI address and the
regional name, and gets the provider's page through the node of the ENI's zone.
"""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.traffic import run_instances, user_data, wait_state, web_group
from tests.helpers.waiting import wait_for as _wait_for
from tests.helpers.worlds import PREFIX, add_endpoint, add_service, plan_of, provider_world
from vpclab.kernel import naming, netns

wait_for = partial(_wait_for, timeout=30.0, interval=0.2)


def test_links_accept_the_consumers_own_router_addresses_as_sources():
    """Plan level: every link end takes local sources (the consumer gateway's ARP for the
    ENI: both default VPCs have 172.31.32.1); a subnet bridge with a consumer end takes
    them only in a router where links end too (their ARP source, 169.254.0.1, is its own)."""
    w = provider_world()
    add_service(w)
    add_endpoint(w, 1, "available", vpc_id="vpc-c", link=0)
    add_endpoint(w, 2, "available", vpc_id="vpc-p", link=1)  # the provider's own
    plan = plan_of(w)
    provider, consumer_vpc = (plan.namespace(naming.namespace_name(PREFIX, v)) for v in ("vpc-p", "vpc-c"))
    ends = [v.peer.name for ns in plan for v in ns.veths if v.peer.name.startswith(PREFIX + naming.TAG_TRANSIT)]
    assert len(ends) == 2
    for end in ends:
        assert provider.sysctls[f"net.ipv4.conf.{end}.accept_local"] == "1"
    bridge = naming.bridge_name(PREFIX, w.enis["eni-epvpc-p0002"].subnet_id)
    assert provider.sysctls[f"net.ipv4.conf.{bridge}.accept_local"] == "1"
    assert not [k for k in consumer_vpc.sysctls if k.endswith(".accept_local")]


def curl(srv, instance_id: str, url: str, timeout: float = 2) -> str | None:
    """GET `url` from inside the instance, names resolved by its VPC's resolver (its
    own resolv.conf, from its disk, bound over /etc/resolv.conf, as its processes have it)."""
    ns = naming.namespace_name(naming.prefix_for_state_dir(srv.state_dir), instance_id)
    resolv = srv.state_dir / "instances" / instance_id / "disk/upper/etc/resolv.conf"
    out = netns.run(ns, ["curl", "-s", "-m", str(timeout), url], binds={"/etc/resolv.conf": resolv},
                    timeout=timeout + 5)
    return out.stdout.strip() if out.returncode == 0 else None


def three_zone_service(srv):
    """Account 1: a web target in every zone, an NLB with a node in every zone, an endpoint
    service account 2 may use without acceptance."""
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
    assert len(subnets) == 3
    group = web_group(ec2, vpc, "web")
    webs = {s["AvailabilityZoneId"]: run_instances(ec2, s["SubnetId"], [group], 1, user_data())[0]
            for s in subnets}
    lb = elb.create_load_balancer(Name="web", Type="network", Scheme="internal",
                                  Subnets=[s["SubnetId"] for s in subnets])["LoadBalancers"][0]
    tg = elb.create_target_group(Name="web", Protocol="TCP", Port=80, VpcId=vpc,
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2)["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"],
                         Targets=[{"Id": i["InstanceId"]} for i in webs.values()])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    lb = elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]
    zone_ids = {s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in subnets}
    nodes = {zone_ids[z["ZoneName"]]: z["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
             for z in lb["AvailabilityZones"]}
    svc = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb["LoadBalancerArn"]], AcceptanceRequired=False)["ServiceConfiguration"]
    ec2.modify_vpc_endpoint_service_permissions(
        ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    return svc, {zid: w["PrivateIpAddress"] for zid, w in webs.items()}, nodes


def consumer(srv, svc, ingress: bool = True):
    """Account 2: an endpoint with an ENI in each subnet of its default VPC and a client
    in each zone; the endpoint's group lets port 80 in from anywhere, or nothing in."""
    ec2 = srv.client("ec2", ACCOUNT_2)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
    if ingress:
        group = web_group(ec2, vpc, "endpoint")
    else:
        group = ec2.create_security_group(GroupName="closed", Description="no ingress", VpcId=vpc)["GroupId"]
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                 SubnetIds=[s["SubnetId"] for s in subnets],
                                 SecurityGroupIds=[group])["VpcEndpoint"]
    wait_state(ec2, ep["VpcEndpointId"], "available")
    ep = ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    zone_ids = {s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in subnets}
    eni_ips = {zone_ids[n["AvailabilityZone"]]: n["PrivateIpAddress"] for n in enis}
    names = [d["DnsName"] for d in ep["DnsEntries"]]
    regional = next(n for n in names if not any(n.split(".")[0].endswith("-" + z) for z in zone_ids))
    zonal = {zone_ids[z]: n for n in names for z in zone_ids if n.split(".")[0].endswith("-" + z)}
    assert len(eni_ips) == 3 and len(zonal) == 3, (eni_ips, names)
    default = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])
    clients = {s["AvailabilityZoneId"]: run_instances(ec2, s["SubnetId"],
                                                      [default["SecurityGroups"][0]["GroupId"]], 1)[0]["InstanceId"]
               for s in subnets}
    return SimpleNamespace(ec2=ec2, group=group, eni_ips=eni_ips, zonal=zonal, regional=regional,
                           clients=clients)


def test_every_zonal_name_and_eni_address_answers_from_every_zone(dataplane_server):
    svc, webs, nodes = three_zone_service(dataplane_server)
    c = consumer(dataplane_server, svc)
    eni_ips, zonal, regional, clients = c.eni_ips, c.zonal, c.regional, c.clients
    # Each zone's target in service (through its own zone's ENI, from its own zone).
    for zone_id in nodes:
        want = f"{webs[zone_id]} {nodes[zone_id]}"
        wait_for(lambda: curl(dataplane_server, clients[zone_id], f"http://{eni_ips[zone_id]}/") == want, timeout=30)
    failures = []
    for client_zone, client in clients.items():
        for zone_id, eni_ip in eni_ips.items():
            # Through the node of the ENI's zone, to that zone's target (cross-zone off).
            want = f"{webs[zone_id]} {nodes[zone_id]}"
            for url in (f"http://{eni_ip}/", f"http://{zonal[zone_id]}/"):
                got = curl(dataplane_server, client, url)
                if got != want:
                    failures.append((client_zone, zone_id, url, got, want))
        got = curl(dataplane_server, client, f"http://{regional}/")
        if got not in {f"{webs[z]} {nodes[z]}" for z in nodes}:
            failures.append((client_zone, "regional", regional, got))
    assert failures == []


def test_the_endpoint_group_applies_to_clients_in_every_subnet(dataplane_server):
    """The endpoint's group lets in one client only (its /32): that client, in zone 1,
    reaches every ENI; the clients of the other zones reach none, not even their own
    zone's ENI."""
    svc, webs, nodes = three_zone_service(dataplane_server)
    c = consumer(dataplane_server, svc, ingress=False)
    first, *others = sorted(c.clients)
    allowed = c.ec2.describe_instances(InstanceIds=[c.clients[first]])["Reservations"][0]["Instances"][0]
    c.ec2.authorize_security_group_ingress(GroupId=c.group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
        "IpRanges": [{"CidrIp": f"{allowed['PrivateIpAddress']}/32"}]}])
    for zone_id, eni_ip in c.eni_ips.items():
        want = f"{webs[zone_id]} {nodes[zone_id]}"
        assert wait_for(lambda: curl(dataplane_server, c.clients[first], f"http://{eni_ip}/"), timeout=10) == want
        for other in others:
            assert curl(dataplane_server, c.clients[other], f"http://{eni_ip}/", timeout=1) is None


def test_the_providers_own_endpoint_answers_from_every_zone_after_its_neighbours_expire(dataplane_server):
    """Both ends of every link in one router (the provider's endpoint of its own service):
    a client in another subnet is answered via its gateway, an address of that router,
    which the link end must ask for again once the entry it learned has expired."""
    svc, webs, nodes = three_zone_service(dataplane_server)
    ec2 = dataplane_server.client("ec2", ACCOUNT_1)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
    group = web_group(ec2, vpc, "own-endpoint")
    ep = ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"],
                                 SubnetIds=[s["SubnetId"] for s in subnets],
                                 SecurityGroupIds=[group])["VpcEndpoint"]
    wait_state(ec2, ep["VpcEndpointId"], "available")
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    eni_ips = {n["AvailabilityZone"]: n["PrivateIpAddress"] for n in enis}
    zone_ids = {s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in subnets}
    clients = {s["AvailabilityZone"]: run_instances(ec2, s["SubnetId"], [group], 1)[0]["InstanceId"]
               for s in subnets}
    router = naming.namespace_name(naming.prefix_for_state_dir(dataplane_server.state_dir), vpc)
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)

    def sweep() -> list:
        failures = []
        for client_zone, client in clients.items():
            for zone, eni_ip in eni_ips.items():
                want = f"{webs[zone_ids[zone]]} {nodes[zone_ids[zone]]}"
                got = curl(dataplane_server, client, f"http://{eni_ip}/")
                if got != want:
                    failures.append((client_zone, zone, got, want))
        return failures

    for zone, eni_ip in eni_ips.items():
        wait_for(lambda: curl(dataplane_server, clients[zone], f"http://{eni_ip}/"), timeout=30)
    assert sweep() == []
    # Forget what the link ends learned (the gateway addresses): they must ask again.
    links = [line.split("@")[0] for line in
             netns.run(router, ["ip", "-br", "link"], check=True).stdout.splitlines()
             if line.startswith(prefix + naming.TAG_TRANSIT) and line.split("@")[0].endswith("n")]
    assert len(links) == 3
    for link in links:
        netns.run(router, ["ip", "neigh", "flush", "dev", link], check=True)
    assert sweep() == []
