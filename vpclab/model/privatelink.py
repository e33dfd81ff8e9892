"""PrivateLink resources: endpoint services, their permissions, endpoints, notifications."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..store import resource
from .ec2 import Tagged

#: Endpoint states in which the endpoint holds a connection to its service: it counts as
#: one (DeleteVpcEndpointServiceConfigurations refuses while any does), the provider may
#: reject it, and its ENIs have their links. On the wire states are camelCase, as AWS sends them.
CONNECTED_STATES = ("pendingAcceptance", "pending", "available")


@resource("vpc-endpoint-service")
@dataclass
class EndpointService(Tagged):
    """id is the service id `vpce-svc-…`; the name is `com.amazonaws.vpce.<region>.<id>`."""

    service_name: str = ""
    service_type: str = "Interface"
    state: str = "Available"  # Pending | Available | Deleting | Deleted | Failed
    acceptance_required: bool = True
    network_load_balancer_arns: list[str] = field(default_factory=list)
    gateway_load_balancer_arns: list[str] = field(default_factory=list)
    supported_ip_address_types: list[str] = field(default_factory=lambda: ["ipv4"])
    private_dns_name: str | None = None
    # {"State": pendingVerification|verified|failed, "Type": "TXT", "Value": …, "Name": …}
    private_dns_name_configuration: dict | None = None
    # Allowed principals: {"principal": arn or "*", "permission_id": "vpce-svc-perm-…", "type": …}
    allowed_principals: list[dict] = field(default_factory=list)
    payer_responsibility: str = "ServiceOwner"
    supported_regions: list[str] = field(default_factory=list)
    client_token: str = ""


@resource("vpc-endpoint")
@dataclass
class Endpoint(Tagged):
    """An interface (or gateway) endpoint in the consumer's account; id `vpce-…`."""

    endpoint_type: str = "Interface"
    vpc_id: str = ""
    service_name: str = ""
    service_id: str = ""  # the endpoint service it connects to
    service_account: str = ""  # the provider's account
    # pendingAcceptance | pending | available | deleting | deleted | rejected | failed | expired
    state: str = "pending"
    subnet_ids: list[str] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)
    network_interface_ids: list[str] = field(default_factory=list)
    ip_address_type: str = "ipv4"
    dns_record_ip_type: str = "ipv4"
    private_dns_enabled: bool = False
    dns_suffix: str = ""  # the 8 lowercase alnum chars of its DNS names
    policy_document: str | None = None
    route_table_ids: list[str] = field(default_factory=list)
    requester_managed: bool = False
    last_error: dict | None = None
    # When a transition is due (e.g. pending -> available), epoch seconds.
    state_changed: float = 0.0
    # The provider's view of this endpoint: VpcEndpointConnectionId `vpce-con-…`.
    connection_id: str = ""
    # What DescribeVpcEndpoints shows, and what the VPC resolver answers: regional name
    # first, then one zonal name per zone, then the private DNS name when enabled.
    # [{"DnsName": …, "HostedZoneId": …}]
    dns_entries: list[dict] = field(default_factory=list)
    # The service's private DNS name when the endpoint was made or modified; the consumer
    # VPC answers it only while private_dns_enabled.
    private_dns_name: str | None = None
    dns_options: dict = field(default_factory=lambda: {"DnsRecordIpType": "ipv4"})
    client_token: str = ""


@resource("connection-notification")
@dataclass
class ConnectionNotification(Tagged):
    """id `vpce-nfn-…`; attached to a service (provider) or an endpoint (consumer)."""

    service_id: str | None = None
    vpc_endpoint_id: str | None = None
    arn: str = ""  # the SNS topic ARN
    events: list[str] = field(default_factory=list)  # Connect | Accept | Reject | Delete
    state: str = "Enabled"
    notification_type: str = "Topic"
    client_token: str = ""
