"""The guided lab: the seed's steps as a checklist that ticks from what the accounts' APIs
answer, not from clicks — so it follows a learner who clicks, types `aws …`, runs boto3 or
the lab itself.

Each step is a question about one moment: what both accounts' Describe calls return now
(`Seen`, made through `ConsoleCalls`, so the guide sees exactly what each account's API
shows). Clean-up steps ("delete the endpoint") would be true before anything was made, so
they count only once the set-up was seen complete; `Guide` remembers, per pair of
accounts, which steps it has seen done.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..lab.privatelink import CONSUMER, PROVIDER
from .calls import ConsoleCalls

#: Which account a step is done in, as the seed names them.
ACCOUNT_1, ACCOUNT_2 = "Account 1", "Account 2"
#: Target health and endpoint states as the APIs name them.
HEALTHY, AVAILABLE, PENDING_ACCEPTANCE = "healthy", "available", "pendingAcceptance"
LIVE_INSTANCE_STATES = ("pending", "running")


@dataclass
class Seen:
    """What both accounts' APIs answer now (boto3's shapes), for the steps to ask about."""

    provider_instances: list[dict[str, Any]] = field(default_factory=list)
    provider_groups: list[dict[str, Any]] = field(default_factory=list)
    target_groups: list[dict[str, Any]] = field(default_factory=list)
    target_health: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by target group ARN
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    listeners: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    principals: dict[str, list[str]] = field(default_factory=dict)  # by service id
    consumer_instances: list[dict[str, Any]] = field(default_factory=list)
    consumer_groups: list[dict[str, Any]] = field(default_factory=list)
    endpoints: list[dict[str, Any]] = field(default_factory=list)

    # The questions the steps ask ------------------------------------------------------
    def live_instances(self, which: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [i for i in which if i["State"]["Name"] in LIVE_INSTANCE_STATES]

    def nlbs(self) -> list[dict[str, Any]]:
        return [lb for lb in self.load_balancers if lb.get("Type") == "network"]

    def forwarding_nlbs(self) -> list[dict[str, Any]]:
        """NLBs with a TCP:80 listener that forwards to a target group with a registered target."""
        groups = {tg["TargetGroupArn"] for tg in self.target_groups if self.target_health.get(tg["TargetGroupArn"])}
        arns = {ls["LoadBalancerArn"] for ls in self.listeners if ls.get("Port") == 80 and any(
            a.get("TargetGroupArn") in groups for a in ls.get("DefaultActions", []))}
        return [lb for lb in self.nlbs() if lb["LoadBalancerArn"] in arns]

    def healthy_targets(self) -> bool:
        return any(d["TargetHealth"]["State"] == HEALTHY for ds in self.target_health.values() for d in ds)

    def our_services(self) -> list[dict[str, Any]]:
        """Endpoint services in front of an NLB of account 1."""
        arns = {lb["LoadBalancerArn"] for lb in self.nlbs()}
        return [s for s in self.services if arns & set(s.get("NetworkLoadBalancerArns", []))]

    def consumer_allowed(self, consumer: str) -> bool:
        wanted = {f"arn:aws:iam::{consumer}:root", "*"}
        return any(wanted & set(self.principals.get(s["ServiceId"], [])) for s in self.our_services())

    def our_endpoints(self, *states: str) -> list[dict[str, Any]]:
        names = {s["ServiceName"] for s in self.our_services()}
        return [e for e in self.endpoints if e.get("ServiceName") in names and (not states or e["State"] in states)]

    def endpoint_group_allows_80(self) -> bool:
        groups = {g["GroupId"] for e in self.our_endpoints(AVAILABLE) for g in e.get("Groups", [])}
        return any(allows_port(g, 80) for g in self.consumer_groups if g["GroupId"] in groups)

    def nlb_group_allows_80(self) -> bool:
        groups = {g for lb in self.forwarding_nlbs() for g in lb.get("SecurityGroups", [])}
        return any(allows_port(g, 80) for g in self.provider_groups if g["GroupId"] in groups)

    def instance_allows_80(self) -> bool:
        return bool(self.web_instances())

    def web_instances(self) -> list[dict[str, Any]]:
        """Account 1's live instances whose security groups let port 80 in."""
        return [i for i in self.live_instances(self.provider_instances)
                if any(allows_port(g, 80) for g in self.provider_groups
                       if g["GroupId"] in {x["GroupId"] for x in i.get("SecurityGroups", [])})]

    def web_instance_public(self) -> bool:
        """A running web instance has a public IPv4 address: the learner can open it in a tab."""
        return any(i["State"]["Name"] == "running" and i.get("PublicIpAddress") for i in self.web_instances())

    def internet_facing_nlb_active(self) -> bool:
        return any(lb["State"]["Code"] == "active" and lb.get("Scheme") == "internet-facing"
                   for lb in self.forwarding_nlbs())


def allows_port(group: dict[str, Any], port: int) -> bool:
    """Whether a security group's inbound rules let TCP `port` in from outside the group:
    from an address range, or from another group. (A default group's rule that lets its own
    members in is not the seed's "allow port 80".)"""
    for p in group.get("IpPermissions", []):
        covers = p.get("IpProtocol") == "-1" or (
            p.get("IpProtocol") in ("tcp", "6") and p.get("FromPort", 0) <= port <= p.get("ToPort", -1))
        sources = [*p.get("IpRanges", []), *p.get("Ipv6Ranges", []), *p.get("PrefixListIds", []),
                   *(g for g in p.get("UserIdGroupPairs", []) if g.get("GroupId") != group.get("GroupId"))]
        if covers and sources:
            return True
    return False


@dataclass(frozen=True)
class Step:
    id: str  # the seed's numbering, e.g. "1.2"
    account: str  # ACCOUNT_1 or ACCOUNT_2: where the learner must be
    title: str
    hint: str  # where in the console, as the seed says it
    done: Callable[[Seen, str], bool]  # (what the APIs answer, the consumer's account id)
    cleanup: bool = False


STEPS: tuple[Step, ...] = (
    Step("1.2", ACCOUNT_1, "Launch an instance that allows port 80",
         "EC2 > Instances > Launch instances. Name it demo-server-instance; under Network settings, "
         "check Allow HTTP traffic from the internet.",
         lambda s, _: s.instance_allows_80()),
    Step("1.4", ACCOUNT_1, "Open the instance's public IPv4 address in a new tab",
         "EC2 > Instances > the instance: Public IPv4 address > open address (this machine reaches "
         "198.18.x.y at 127.18.x.y). nginx's page shows once it runs.",
         lambda s, _: s.web_instance_public()),
    Step("1.7", ACCOUNT_1, "Create a target group with the instance",
         "EC2 > Target Groups > Create target group: Instances, TCP : 80 (demo-service-tg); "
         "include the instance as pending, then Create target group.",
         lambda s, _: any(s.target_health.get(tg["TargetGroupArn"]) for tg in s.target_groups
                          if tg.get("Protocol") == "TCP")),
    Step("1.10", ACCOUNT_1, "Create a Network Load Balancer forwarding TCP:80 to it",
         "EC2 > Load Balancers > Create load balancer > Network Load Balancer (demo-service-nlb): "
         "the default VPC, every mapping, a listener TCP:80 forwarding to the target group.",
         lambda s, _: bool(s.forwarding_nlbs())),
    Step("1.12", ACCOUNT_1, "Allow port 80 in the load balancer's security group",
         "EC2 > Security Groups > the NLB's group > Edit inbound rules: add HTTP from anywhere.",
         lambda s, _: s.nlb_group_allows_80()),
    Step("1.13", ACCOUNT_1, "Serve nginx: the NLB is Active and the target healthy",
         "Start nginx on the instance (Connect, then systemctl start nginx; or in its user data); "
         "the target becomes healthy once nginx answers the health checks. Then EC2 > Load Balancers > "
         "the NLB: DNS name > open shows nginx in a new tab.",
         lambda s, _: s.healthy_targets() and s.internet_facing_nlb_active()),
    Step("1.17", ACCOUNT_1, "Create an endpoint service for the NLB",
         "VPC > Endpoint services > Create endpoint service (demo-service-provider): "
         "load balancer type Network, your NLB, Acceptance required.",
         lambda s, _: bool(s.our_services())),
    Step("2.1", ACCOUNT_2, "Launch an instance in account 2",
         "Switch to account 2. EC2 > Instances > Launch instances (account2-ec2).",
         lambda s, _: bool(s.live_instances(s.consumer_instances))),
    Step("2.7", ACCOUNT_1, "Allow account 2 to use the service",
         "Account 1: VPC > Endpoint services > your service > Allow principals > "
         "arn:aws:iam::<account 2>:root.",
         lambda s, consumer: s.consumer_allowed(consumer)),
    Step("2.9", ACCOUNT_2, "Create an interface endpoint to the service",
         "Account 2: VPC > Endpoints > Create endpoint: Endpoint services that use NLBs and GWLBs, "
         "paste the service name, Verify service, your VPC and subnets, a security group.",
         lambda s, _: bool(s.our_endpoints())),
    Step("2.11", ACCOUNT_1, "Accept the endpoint connection",
         "Account 1: the endpoint service > Endpoint connections: select the request, "
         "Actions > Accept endpoint connection request.",
         lambda s, _: bool(s.our_endpoints(AVAILABLE))),
    Step("2.13", ACCOUNT_2, "Allow port 80 in the endpoint's security group",
         "Account 2: EC2 > Security Groups > the endpoint's group > Edit inbound rules: add HTTP.",
         lambda s, _: s.endpoint_group_allows_80()),
    Step("3.1", ACCOUNT_2, "Delete the endpoint",
         "Account 2: VPC > Endpoints > select it > Actions > Delete VPC endpoints.",
         lambda s, _: not s.our_endpoints(PENDING_ACCEPTANCE, AVAILABLE, "pending"), cleanup=True),
    Step("3.2", ACCOUNT_1, "Delete the endpoint service",
         "Account 1: VPC > Endpoint services > Actions > Delete endpoint services.",
         lambda s, _: not s.our_services(), cleanup=True),
    Step("3.3", ACCOUNT_1, "Delete the load balancer",
         "EC2 > Load Balancers > Actions > Delete load balancer.",
         lambda s, _: not s.nlbs(), cleanup=True),
    Step("3.4", ACCOUNT_1, "Terminate the instance",
         "EC2 > Instances > Instance state > Terminate instance.",
         lambda s, _: not s.live_instances(s.provider_instances), cleanup=True),
    Step("3.5", ACCOUNT_1, "Delete the target group",
         "EC2 > Target Groups > Actions > Delete.",
         lambda s, _: not s.target_groups, cleanup=True),
)


class Guide:
    """The checklist for a pair of accounts, from what their APIs answer now, plus what
    this server has seen done before (so clean-up steps count only after the set-up)."""

    def __init__(self, calls: ConsoleCalls, steps: tuple[Step, ...] = STEPS):
        self.calls = calls
        self.steps = steps
        self._seen_done: dict[tuple[str, str, str], set[str]] = {}

    def progress(self, region: str, provider: str = PROVIDER, consumer: str = CONSUMER) -> dict[str, Any]:
        """Each step with whether it is ticked, and the first one that is not.

        A set-up step is ticked while the APIs show it done; once the whole set-up has been
        seen done, its steps stay ticked while clean-up takes them apart. A clean-up step
        counts only after that, and stays ticked once seen."""
        seen = self.look(region, provider, consumer)
        remembered = self._seen_done.setdefault((region, provider, consumer), set())
        now = {step.id: step.done(seen, consumer) for step in self.steps}
        setup = [step for step in self.steps if not step.cleanup]
        remembered.update(step.id for step in setup if now[step.id])
        setup_complete = all(step.id in remembered for step in setup)
        ticked: dict[str, bool] = {}
        for step in self.steps:
            if not step.cleanup:
                ticked[step.id] = now[step.id] or (setup_complete and step.id in remembered)
            else:
                ticked[step.id] = step.id in remembered or (setup_complete and now[step.id])
                if ticked[step.id]:
                    remembered.add(step.id)
        current = next((step.id for step in self.steps if not ticked[step.id]), None)
        return {"provider": provider, "consumer": consumer, "region": region, "current": current,
                "steps": [{"id": step.id, "account": step.account, "title": step.title, "hint": step.hint,
                           "done": ticked[step.id]} for step in self.steps]}

    def look(self, region: str, provider: str, consumer: str) -> Seen:
        """Both accounts' Describe calls, as their APIs answer them."""
        def ask(account: str, service: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
            result = self.calls.call(account, region, service, operation, params or {})
            return result.output or {}

        s = Seen()
        s.provider_instances = [i for r in ask(provider, "ec2", "DescribeInstances").get("Reservations", [])
                                for i in r["Instances"]]
        s.provider_groups = ask(provider, "ec2", "DescribeSecurityGroups").get("SecurityGroups", [])
        s.target_groups = ask(provider, "elbv2", "DescribeTargetGroups").get("TargetGroups", [])
        for tg in s.target_groups:
            s.target_health[tg["TargetGroupArn"]] = ask(provider, "elbv2", "DescribeTargetHealth", {
                "TargetGroupArn": tg["TargetGroupArn"]}).get("TargetHealthDescriptions", [])
        s.load_balancers = ask(provider, "elbv2", "DescribeLoadBalancers").get("LoadBalancers", [])
        for lb in s.load_balancers:
            s.listeners += ask(provider, "elbv2", "DescribeListeners", {
                "LoadBalancerArn": lb["LoadBalancerArn"]}).get("Listeners", [])
        s.services = ask(provider, "ec2", "DescribeVpcEndpointServiceConfigurations").get("ServiceConfigurations", [])
        for svc in s.services:
            s.principals[svc["ServiceId"]] = [p.get("Principal", "") for p in ask(
                provider, "ec2", "DescribeVpcEndpointServicePermissions", {"ServiceId": svc["ServiceId"]}
            ).get("AllowedPrincipals", [])]
        s.consumer_instances = [i for r in ask(consumer, "ec2", "DescribeInstances").get("Reservations", [])
                                for i in r["Instances"]]
        s.consumer_groups = ask(consumer, "ec2", "DescribeSecurityGroups").get("SecurityGroups", [])
        s.endpoints = ask(consumer, "ec2", "DescribeVpcEndpoints").get("VpcEndpoints", [])
        return s
