"""Resource dataclasses: the desired (and observed) state the store keeps.

The control plane writes them; the data plane reads them and writes back observed facts
only, through `observed.py` (instance state reached, NLB active, target health, endpoint
available / deleted). `targets.py` and the functions in `elbv2.py` are AWS rules both
planes apply. Fields are JSON-native (str, int, float, bool, None, list, dict) or value
dataclasses of such fields (a rule, a subnet mapping, a registered target), which the
store encodes and decodes from the field types.
Times are epoch seconds (float).
"""
from ..store import Resource
from .cloudformation import ChangeSet, Stack, StackEvent
from .dataplane import TransitLink
from .ec2 import (
    AccountRegion,
    CreditSpecification,
    ElasticIp,
    Instance,
    InternetGateway,
    KeyPair,
    NetworkInterface,
    RouteTable,
    SecurityGroup,
    Subnet,
    Volume,
    Vpc,
)
from .elbv2 import Listener, LoadBalancer, TargetGroup, TargetHealth
from .privatelink import ConnectionNotification, Endpoint, EndpointService

#: Every kind the store serves: `open_store(state_dir, KINDS)`.
KINDS: tuple[type[Resource], ...] = (
    AccountRegion, Vpc, Subnet, SecurityGroup, NetworkInterface, Instance, KeyPair,
    InternetGateway, RouteTable, ElasticIp, Volume, CreditSpecification,
    LoadBalancer, TargetGroup, Listener, TargetHealth,
    EndpointService, Endpoint, ConnectionNotification,
    TransitLink,
    Stack, StackEvent, ChangeSet,
)
