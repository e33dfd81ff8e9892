"""The botocore service models vpclab serves, and how a request finds its operation.

The models are the single source of truth for names, shapes and wire format, so they are
loaded once from the installed botocore and never copied into vpclab.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel

#: Services vpclab speaks, keyed by the SigV4 signing name that clients put in the
#: credential scope.
SERVICES: dict[str, str] = {
    "ec2": "ec2",
    "elasticloadbalancing": "elbv2",
    "sts": "sts",
    "cloudformation": "cloudformation",
}


@dataclass(frozen=True)
class Service:
    """A botocore service model plus the protocol it is spoken in."""

    name: str  # botocore name: ec2, elbv2, sts, cloudformation
    model: ServiceModel

    @property
    def protocol(self) -> str:
        return self.model.metadata["protocol"]

    @property
    def xml_namespace(self) -> str:
        return self.model.metadata.get("xmlNamespace", "")

    def operation(self, action: str) -> OperationModel | None:
        if action not in self.model.operation_names:
            return None
        return self.model.operation_model(action)


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service(name: str) -> Service:
    """The model of a service by its botocore name (`ec2`, `elbv2`, `sts`)."""
    return Service(name, _session().get_service_model(name))


def signing_name(service_name: str) -> str:
    """The SigV4 signing name of a service by its botocore name (`elbv2` -> `elasticloadbalancing`)."""
    return next(signing for signing, name in SERVICES.items() if name == service_name)


def service_for_signing_name(signing_name: str | None) -> Service | None:
    name = SERVICES.get(signing_name or "")
    return service(name) if name else None


@cache
def _action_index() -> dict[str, str]:
    """Action name -> service, for requests that carry no credential scope.

    Where two services share an action name, EC2 wins: an unsigned request is almost
    always an EC2 one (the AWS CLI with --no-sign-request, curl by hand).
    """
    index: dict[str, str] = {}
    for name in ("cloudformation", "sts", "elbv2", "ec2"):
        for op in service(name).model.operation_names:
            index[op] = name
    return index


def service_for_action(action: str, version: str = "") -> Service | None:
    """The service of `action`; where two services share the name (DescribeTags), the
    one whose API version is `version`."""
    for name in SERVICES.values():
        model = service(name).model
        if version and model.api_version == version and action in model.operation_names:
            return service(name)
    found = _action_index().get(action)
    return service(found) if found else None
