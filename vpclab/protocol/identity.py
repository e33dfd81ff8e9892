"""Who is asking, and where: the account from the access key, the region from SigV4.

A key that vpclab issued (`vpclab accounts create`) is its account's; otherwise a
12-digit access key id is that account, the convention LocalStack users already follow;
anything else is the default account. Whether the signature is checked is the request
guard's business (strict mode): here the credential scope is read as the client wrote it.

A request that came in through an interface endpoint to one of vpclab's own services
(`EndpointArrival`) is from code in a VPC, which is not trusted with other accounts: it
acts as the endpoint's owner, unless strict mode verified an issued key, whose account
it is (as on AWS, where any account's keys work through an endpoint). So an instance
cannot reach another account's resources by writing that account's id as its key.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_ACCOUNT = re.compile(r"[0-9]{12}")

#: The account of a key vpclab issued, or None.
IssuedAccount = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Caller:
    access_key: str
    account: str
    region: str
    signing_name: str | None  # the service named in the credential scope


class EndpointArrival(Protocol):
    """Where a request came in from a VPC (the data plane says it: `agents/service_api`):
    an interface endpoint to the vpclab service `service` (ec2, elbv2, sts,
    cloudformation), owned by `account`, in `region`, answering to `host_names` (its
    private DNS name and its own DNS names)."""

    @property
    def endpoint_id(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def account(self) -> str: ...
    @property
    def region(self) -> str: ...
    @property
    def host_names(self) -> frozenset[str]: ...


def caller_through(access_key: str, region: str, signing_name: str | None, arrival: EndpointArrival,
                   verified_account: str | None) -> Caller:
    """The caller of a request through `arrival`: the verified key's account (strict
    mode), else the endpoint's owner."""
    return Caller(access_key, verified_account or arrival.account, region, signing_name)


def caller_from(headers: Mapping[str, str], query: Mapping[str, str],
                issued: IssuedAccount | None = None) -> Caller:
    """Read the caller from an Authorization header or a presigned query string."""
    scope = _CREDENTIAL.search(headers.get("Authorization", "") or headers.get("authorization", ""))
    if scope is None and "X-Amz-Credential" in query:
        scope = _CREDENTIAL.search("Credential=" + query["X-Amz-Credential"])
    if scope is None:
        return Caller("", DEFAULT_ACCOUNT, DEFAULT_REGION, None)
    key, _date, region, signing_name = scope.groups()
    return Caller(key, account_for_key(key, issued), region, signing_name)


def is_account_id(value: object) -> bool:
    """Whether `value` is an AWS account id: exactly twelve ASCII digits."""
    return isinstance(value, str) and _ACCOUNT.fullmatch(value) is not None


def account_for_key(access_key: str, issued: IssuedAccount | None = None) -> str:
    account = issued(access_key) if issued is not None else None
    if account is not None:
        return account
    return access_key if is_account_id(access_key) else DEFAULT_ACCOUNT
