"""Resource dataclasses: the desired (and observed) state the store keeps.

The control plane writes them; the data plane reads them and writes back observed facts
only (instance reached running, target health, endpoint ENI ready). Fields are JSON-native
(str, int, float, bool, None, list, dict) so that the store can persist them as they are.
Times are epoch seconds (float).
"""
from ..store import Resource
from .dataplane import TransitLink
from .ec2 import AccountRegion, Instance, KeyPair, NetworkInterface, SecurityGroup, Subnet, Vpc
from .elbv2 import Listener, LoadBalancer, TargetGroup, TargetHealth
from .privatelink import ConnectionNotification, Endpoint, EndpointService

#: Every kind the store serves: `open_store(state_dir, KINDS)`.
KINDS: tuple[type[Resource], ...] = (
    AccountRegion, Vpc, Subnet, SecurityGroup, NetworkInterface, Instance, KeyPair,
    LoadBalancer, TargetGroup, Listener, TargetHealth,
    EndpointService, Endpoint, ConnectionNotification,
    TransitLink,
)
