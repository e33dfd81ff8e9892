"""EC2 networking and compute resources."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..store import Resource, resource


@dataclass
class Tagged(Resource):
    """A resource that takes tags; CreateTags / DeleteTags / DescribeTags work on it."""

    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@dataclass
class VpcCidrBlock:
    """A secondary IPv4 CIDR block of a VPC (AssociateVpcCidrBlock)."""

    association_id: str = ""  # vpc-cidr-assoc-…
    cidr_block: str = ""
    state: str = "associated"  # associated | disassociated (shown a while after DisassociateVpcCidrBlock)
    since: float = 0.0  # when `state` was reached


@resource("vpc")
@dataclass
class Vpc(Tagged):
    """A VPC. `cidr_block` is its primary IPv4 block (`cidr_association_id` its
    association), which cannot be disassociated; `secondary_cidr_blocks` the blocks
    associated since, in association order (`control.ec2.vpc_cidr_blocks`)."""

    cidr_block: str = ""
    cidr_association_id: str = ""
    secondary_cidr_blocks: list[VpcCidrBlock] = field(default_factory=list)
    is_default: bool = False
    state: str = "available"
    instance_tenancy: str = "default"
    dhcp_options_id: str = ""
    enable_dns_support: bool = True
    enable_dns_hostnames: bool = False
    enable_network_address_usage_metrics: bool = False

    def ipv4_cidr_blocks(self) -> list[str]:
        """Every IPv4 block a subnet of the VPC may lie in: the primary, then each
        associated secondary block."""
        return [self.cidr_block] + [b.cidr_block for b in self.secondary_cidr_blocks if b.state == "associated"]


@resource("subnet")
@dataclass
class Subnet(Tagged):
    vpc_id: str = ""
    cidr_block: str = ""
    availability_zone: str = ""
    availability_zone_id: str = ""
    default_for_az: bool = False
    map_public_ip_on_launch: bool = False
    state: str = "available"
    # PrivateDnsNameOptionsOnLaunch (ModifySubnetAttribute): ip-name | resource-name
    private_dns_hostname_type: str = "ip-name"
    enable_resource_name_dns_a_record: bool = False
    enable_resource_name_dns_aaaa_record: bool = False


@dataclass
class SecurityGroupRule:
    """One rule of a group: one direction, protocol, port range and peer, with its own id.

    Exactly one peer is set: `cidr_ipv4`, `cidr_ipv6`, `prefix_list_id`, or `group_id` (a
    referenced group, owned by `group_owner`)."""

    id: str = ""  # sgr-…
    egress: bool = False
    protocol: str = "-1"  # "-1" (all), "tcp", "udp", "icmp", "icmpv6" or a protocol number
    from_port: int = -1  # -1 for all; the ICMP type for ICMP
    to_port: int = -1  # -1 for all; the ICMP code for ICMP
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    prefix_list_id: str | None = None
    group_id: str | None = None
    group_owner: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@resource("security-group")
@dataclass
class SecurityGroup(Tagged):
    vpc_id: str = ""
    group_name: str = ""
    description: str = ""
    rules: list[SecurityGroupRule] = field(default_factory=list)


#: Instance states and the codes the API shows for them (`Instance.state`).
INSTANCE_STATE_CODES = {
    "pending": 0,
    "running": 16,
    "shutting-down": 32,
    "terminated": 48,
    "stopping": 64,
    "stopped": 80,
}


@resource("instance")
@dataclass
class Instance(Tagged):
    reservation_id: str = ""
    image_id: str = ""
    instance_type: str = ""
    key_name: str | None = None
    vpc_id: str = ""
    subnet_id: str = ""
    availability_zone: str = ""
    private_ip: str = ""
    network_interface_id: str = ""
    security_group_ids: list[str] = field(default_factory=list)
    user_data: str = ""  # base64, as the API carries it
    ami_launch_index: int = 0
    client_token: str = ""
    # Desired state is what the API asked for: "running", "stopped" or "terminated".
    desired_state: str = "running"
    # Observed state (`INSTANCE_STATE_CODES`), written by `observed.set_instance_state`.
    state: str = "pending"
    state_transition_reason: str = ""
    state_reason: dict | None = None
    launch_time: float = 0.0
    terminated_at: float | None = None
    # When `state` last changed (the lifecycle timer moves transitional states on from it).
    state_since: float = 0.0
    disable_api_termination: bool = False
    disable_api_stop: bool = False
    shutdown_behavior: str = "stop"  # InstanceInitiatedShutdownBehavior: stop | terminate
    # The image's userland (`images.Image.distribution`), which decides the default user
    # and package manager inside the instance (`aws_names.default_user`).
    distribution: str = "amazon-linux-2023"
    # The public half of the launch key pair, copied at launch: on EC2 it stays in the
    # instance (authorized_keys, IMDS public-keys) even if the key pair is deleted later.
    key_public: str = ""
    # MetadataOptions as the API shows them, without State (`ec2/instance_metadata.py`):
    # HttpTokens, HttpPutResponseHopLimit, HttpEndpoint, HttpProtocolIpv6,
    # InstanceMetadataTags, and ModifiedAt (when ModifyInstanceMetadataOptions last
    # changed them). The metadata agent serves the instance as they say.
    metadata_options: dict = field(default_factory=dict)


@dataclass
class PublicIpAssociation:
    """A public IPv4 address on an ENI's primary private address (the API's
    `Association`): one-to-one NAT at the VPC's internet gateway (`model/internet.py`).

    The ENI holds it, whoever owns the address, so that the API (DescribeInstances,
    DescribeNetworkInterfaces, DescribeAddresses) and the data plane read one record."""

    public_ip: str = ""
    # "amazon" for an address EC2 assigned at launch, "amazon-elb" for an internet-facing
    # NLB node's, the owning account for an Elastic IP.
    ip_owner_id: str = "amazon"
    allocation_id: str | None = None  # eipalloc-… when the address is an Elastic IP
    association_id: str | None = None  # eipassoc-… when the address is an Elastic IP


@resource("network-interface")
@dataclass
class NetworkInterface(Tagged):
    vpc_id: str = ""
    subnet_id: str = ""
    availability_zone: str = ""
    private_ip: str = ""
    mac_address: str = ""
    description: str = ""
    # interface | vpc_endpoint | network_load_balancer
    interface_type: str = "interface"
    security_group_ids: list[str] = field(default_factory=list)
    requester_managed: bool = False
    requester_id: str | None = None
    status: str = "in-use"  # available | in-use
    # attachment: {"attachment_id", "instance_id", "device_index", "status", "attach_time"}
    attachment: dict | None = None
    # What owns it, so that deleting the owner removes it: ("instance"|"vpc-endpoint"|"load-balancer", id)
    owner_kind: str = ""
    owner_id: str = ""
    # Its public IPv4 address, if it has one (None: reachable from its VPC only).
    association: PublicIpAssociation | None = None
    # EC2 gives it an address of its own while its instance runs (RunInstances'
    # AssociatePublicIpAddress, else the subnet's MapPublicIpOnLaunch): kept so that
    # StartInstances and DisassociateAddress know to assign a new one.
    auto_public_ip: bool = False


@resource("internet-gateway")
@dataclass
class InternetGateway(Tagged):
    """An internet gateway (igw-…): attached to at most one VPC, as on AWS."""

    vpc_id: str | None = None  # the attached VPC; None while detached


@dataclass
class RouteEntry:
    """One route of a route table. Exactly one target is set; vpclab realizes `local`
    and internet gateways (`model/internet.py`). Its state (active | blackhole) is not
    stored: it follows from whether the target still exists and is attached."""

    destination_cidr: str = ""
    gateway_id: str | None = None  # "local" or igw-…
    network_interface_id: str | None = None
    instance_id: str | None = None
    vpc_endpoint_id: str | None = None
    destination_prefix_list_id: str | None = None
    # CreateRouteTable (the local route, made with the table) | CreateRoute
    origin: str = "CreateRoute"


@dataclass
class RouteTableAssociation:
    """A route table's association (rtbassoc-…): with one subnet, or `main` (the VPC's
    main route table, which every subnet without an explicit association uses)."""

    id: str = ""
    subnet_id: str | None = None
    main: bool = False
    gateway_id: str | None = None  # an edge association with a gateway (not realized)


@resource("route-table")
@dataclass
class RouteTable(Tagged):
    vpc_id: str = ""
    routes: list[RouteEntry] = field(default_factory=list)
    associations: list[RouteTableAssociation] = field(default_factory=list)


@resource("elastic-ip")
@dataclass
class ElasticIp(Tagged):
    """An Elastic IP address; id is its allocation id (eipalloc-…). While associated,
    the ENI's `association` carries the same address and ids (the data plane reads the
    ENI)."""

    public_ip: str = ""
    domain: str = "vpc"
    network_border_group: str = ""
    association_id: str | None = None
    network_interface_id: str | None = None
    private_ip: str | None = None
    instance_id: str | None = None


@resource("key-pair")
@dataclass
class KeyPair(Tagged):
    """Keyed by KeyPairId (`key-…`); the name is unique per account and region."""

    key_name: str = ""
    key_type: str = "rsa"
    fingerprint: str = ""
    public_key: str = ""


@resource("account-region")
@dataclass
class AccountRegion(Resource):
    """Per (account, region) bookkeeping; id is `<account>:<region>`.

    Records that the default VPC was made, so that a user who deletes it does not get a
    new one on the next call (AWS does not recreate it either).
    """

    default_vpc_id: str | None = None
    initialized: bool = False


@dataclass
class VolumeAttachment:
    """A stored volume's attachment to an instance (AttachVolume). Its state shows
    `attaching` until `lifecycle.SETTLE_DELAY` after `attach_time`, then `attached`; a
    detach shows `detaching` as long after `detach_time`, then the attachment is gone."""

    instance_id: str = ""
    device: str = ""
    attach_time: float = 0.0
    detach_time: float | None = None
    delete_on_termination: bool = False


@resource("volume")
@dataclass
class Volume(Tagged):
    """An EBS volume made by CreateVolume (vol-…). The root volume each instance shows is
    not stored: it is derived from the instance (`control/ec2/volumes.py`)."""

    availability_zone: str = ""
    size: int = 8  # GiB
    volume_type: str = "gp2"
    iops: int | None = None
    throughput: int | None = None
    encrypted: bool = False
    snapshot_id: str = ""
    multi_attach_enabled: bool = False
    client_token: str = ""
    attachments: list[VolumeAttachment] = field(default_factory=list)


@resource("credit-specification")
@dataclass
class CreditSpecification(Resource):
    """A burstable instance's CPU credit option when it is not its type's default
    (ModifyInstanceCreditSpecification); id is the instance's id."""

    cpu_credits: str = "standard"  # standard | unlimited
