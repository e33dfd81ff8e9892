"""AWS errors as exceptions: code, message, HTTP status and fault side.

Handlers raise these; the protocol layer turns them into the service's error document.
Anything else that escapes a handler is a bug in vpclab and is answered as
`InternalError` (500) without leaking a traceback to the client.
"""
from __future__ import annotations


class AwsError(Exception):
    code: str = "InternalError"
    status: int = 400
    sender_fault: bool = True

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message})"


def error(code: str, message: str, status: int = 400) -> AwsError:
    """An error whose code is only known at run time (e.g. `Invalid<Kind>ID.NotFound`)."""
    return AwsError(message, code=code, status=status)


class InternalError(AwsError):
    code = "InternalError"
    status = 500
    sender_fault = False


class InvalidAction(AwsError):
    code = "InvalidAction"


class MissingAction(AwsError):
    code = "MissingAction"


class MissingParameter(AwsError):
    code = "MissingParameter"


class InvalidParameterValue(AwsError):
    code = "InvalidParameterValue"


class InvalidParameter(AwsError):
    code = "InvalidParameter"


class InvalidParameterCombination(AwsError):
    code = "InvalidParameterCombination"


class ValidationError(AwsError):
    """The query-protocol services' (ELBv2, STS) generic input error."""

    code = "ValidationError"


class DryRunOperation(AwsError):
    code = "DryRunOperation"
    status = 412

    def __init__(self) -> None:
        super().__init__("Request would have succeeded, but DryRun flag is set.")


class DependencyViolation(AwsError):
    code = "DependencyViolation"


class InvalidNextToken(AwsError):
    code = "InvalidNextToken"


class InvalidFilter(AwsError):
    code = "InvalidFilter"


class UnknownParameter(AwsError):
    code = "UnknownParameter"


# Authentication and request-shape errors (AWS's common errors; the status codes are the
# ones AWS documents for each).

class MissingAuthenticationToken(AwsError):
    code = "MissingAuthenticationToken"
    status = 403


class IncompleteSignature(AwsError):
    code = "IncompleteSignature"


class InvalidClientTokenId(AwsError):
    code = "InvalidClientTokenId"
    status = 403


class SignatureDoesNotMatch(AwsError):
    code = "SignatureDoesNotMatch"
    status = 403


class RequestExpired(AwsError):
    code = "RequestExpired"


class AccessDenied(AwsError):
    code = "AccessDenied"
    status = 403


class InvalidQueryParameter(AwsError):
    """A request that is not an AWS query: wrong body encoding or media type."""

    code = "InvalidQueryParameter"
