"""The one way a resource provider touches anything: AWS operations, called in-process as
the stack's account and region (`protocol.in_process.InProcessClient`, the server's
`ctx.extras["calls"]`), so a stack gets the same validation and errors a user gets.

A call carries CloudFormation's standing as a service: the `aws:cloudformation:*` tags it
puts on what it makes pass the check that refuses `aws:` tags from a user
(`control/common/reserved_tags.py`).
"""
from __future__ import annotations

import uuid
from typing import Any, Protocol

from ...common import reserved_tags

#: The tag prefix CloudFormation owns.
CLOUDFORMATION_TAGS = "aws:cloudformation:"

#: How CloudFormation names a service in a handler's message.
_SERVICE_NAMES = {"ec2": "Ec2", "elbv2": "ElasticLoadBalancingV2", "sts": "Sts"}


class Result(Protocol):
    status: int

    @property
    def error(self) -> dict[str, str] | None: ...

    @property
    def output(self) -> dict[str, Any] | None: ...


class Calls(Protocol):
    """`InProcessClient`'s shape (tests may put an HTTP client of the same shape behind it)."""

    def call(self, account: str, region: str, service: str, operation: str,
             params: dict[str, Any]) -> Result: ...


class ApiError(Exception):
    """An AWS error answered to one of a provider's calls."""

    def __init__(self, code: str, message: str, service: str = "ec2", status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.service = service
        self.status = status

    def reason(self) -> str:
        """The error as CloudFormation words a resource handler's failure in its events."""
        service = _SERVICE_NAMES.get(self.service, self.service)
        return (f'Resource handler returned message: "{self.message} (Service: {service}, Status Code: '
                f'{self.status}, Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, '
                f"HandlerErrorCode: {handler_error_code(self.code, self.status)})")


def handler_error_code(code: str, status: int) -> str:
    """CloudFormation's HandlerErrorCode for an AWS error code."""
    if code.endswith("NotFound"):
        return "NotFound"
    if code.startswith("Duplicate") or code.endswith(("AlreadyExists", ".Duplicate")):
        return "AlreadyExists"
    if code in ("DependencyViolation", "ResourceInUse", "ExistingVpcEndpointConnections", "IncorrectState"):
        return "ResourceConflict"
    if code.endswith("LimitExceeded") or code == "TooManyLoadBalancers":
        return "ServiceLimitExceeded"
    if code in ("UnauthorizedOperation", "AccessDenied"):
        return "AccessDenied"
    return "InvalidRequest" if status < 500 else "GeneralServiceException"


class Api:
    """AWS operations as one account in one region."""

    def __init__(self, calls: Calls, account: str, region: str):
        self.calls = calls
        self.account = account
        self.region = region

    def call(self, service: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """What boto3 would return (timestamps as strings); raises `ApiError`."""
        with reserved_tags.set_by_service(CLOUDFORMATION_TAGS):
            result = self.calls.call(self.account, self.region, service, operation, dict(params or {}))
        if result.error is not None:
            raise ApiError(result.error.get("Code", ""), result.error.get("Message", ""), service, result.status)
        return result.output or {}
