"""Resource dataclasses: the desired (and observed) state the store keeps.

The control plane writes them; the data plane reads them and writes back observed facts
only (instance reached running, target health, endpoint ENI ready). Fields are JSON-native
(str, int, float, bool, None, list, dict) so that the store can persist them as they are.
Times are epoch seconds (float).
"""
from . import dataplane, ec2, elbv2, privatelink  # noqa: F401  (registers the kinds)
