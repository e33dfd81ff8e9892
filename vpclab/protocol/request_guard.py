"""Which HTTP requests may reach the handlers: AWS clients yes, web pages never.

vpclab runs as root and a request can start programs (user data), so the API must not be
drivable by a web page the user happens to visit (a cross-site form POST, an `<img>` GET,
or DNS rebinding, which turns a foreign page into a same-origin one). What every AWS SDK
sends and no browser attack can is the test:

- a `Host` that names this server (127.0.0.1, localhost, ::1, the address it listens on,
  or one the operator allowed): a rebound name such as `evil.example` is refused;
- no `Origin` and no `Sec-Fetch-*` header: browsers add them (a page cannot take them
  off), SDKs outside browsers never send them;
- a body, if any, of media type `application/x-www-form-urlencoded`, the only one the
  query and EC2 protocols use (so JSON and `text/plain` "simple requests" are refused);
- a SigV4 signature's shape (`sigv4.parse`): an `Authorization` header, or a presigned
  query string, with a credential scope. A form cannot set headers.

In strict mode the signature must also verify against a key that vpclab issued.
Everything refused gets AWS's error for it; nothing refused reaches a handler.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from . import sigv4
from .errors import AccessDenied, AwsError, InvalidQueryParameter

#: Host names every server accepts, whatever address it listens on.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"

#: Secret of an issued access key, or None (strict mode's key lookup).
SecretLookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as the guard sees it (the HTTP library's object stays in server.py)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, Sequence[str]]  # lower-case name -> every value
    body: bytes

    def header(self, name: str) -> str:
        values = self.headers.get(name, ())
        return values[0] if values else ""


def host_name(host_header: str) -> str:
    """`127.0.0.1:4566` -> `127.0.0.1`, `[::1]:4566` -> `::1`, `localhost` -> `localhost`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


class RequestGuard:
    def __init__(self, allowed_hosts: Collection[str] = (), secret_of: SecretLookup | None = None):
        """`allowed_hosts`: names accepted besides the loopback ones. `secret_of`: strict
        mode's lookup of an issued key's secret; None accepts any signature's shape."""
        self.allowed_hosts = frozenset(LOOPBACK_HOSTS | {host_name(h) for h in allowed_hosts})
        self.secret_of = secret_of

    @property
    def strict(self) -> bool:
        return self.secret_of is not None

    def host_allowed(self, host_header: str) -> bool:
        """Whether a request's Host names this server (the console asks it too)."""
        return host_name(host_header) in self.allowed_hosts

    def check(self, request: HttpRequest, query: Mapping[str, str], service: str,
              now: dt.datetime | None = None, hosts: Collection[str] | None = None) -> sigv4.Signature:
        """Raise the AWS error that refuses `request`, or return its signature.

        `query` is the query string's parameters; `service` the vpclab service the request
        is for (ec2, elbv2, sts), which decides the code of a failed signature. `hosts`:
        the names a request must name instead of this server's (one that came in through
        an interface endpoint names the endpoint's).
        """
        host = request.header("host")
        if hosts is not None:
            if host_name(host) not in hosts:
                raise AccessDenied(f"Host '{host}' is not a name of this endpoint (accepted: "
                                   f"{', '.join(sorted(hosts))})")
        elif not self.host_allowed(host):
            raise AccessDenied(
                f"Host '{host}' is not an address of this vpclab server (accepted: "
                f"{', '.join(sorted(self.allowed_hosts))}; add one with --allowed-host)")
        for name in request.headers:
            if name == "origin" or name.startswith("sec-fetch-"):
                raise AccessDenied(
                    "Requests from web pages are refused: vpclab's API accepts AWS SDK and CLI "
                    f"requests only (the request carries a browser's '{name}' header)")
        if request.body:
            media_type = request.header("content-type").partition(";")[0].strip().lower()
            if media_type != FORM_MEDIA_TYPE:
                raise InvalidQueryParameter(
                    f"The request body must be {FORM_MEDIA_TYPE} (AWS query protocol), "
                    f"not '{media_type or 'unspecified'}'")
        sig = sigv4.parse(request.header("authorization"), query, request.header("x-amz-date")
                          or request.header("date"))
        if self.secret_of is not None:
            self._verify(sig, request, service, now or dt.datetime.now(dt.timezone.utc))
        return sig

    def _verify(self, sig: sigv4.Signature, request: HttpRequest, service: str, now: dt.datetime) -> None:
        assert self.secret_of is not None
        secret = self.secret_of(sig.access_key)
        if secret is None:
            raise _auth_error(service, "InvalidClientTokenId",
                              "The security token included in the request is invalid.")
        sigv4.check_time(sig, now)
        signed = sigv4.SignedRequest(request.method, request.raw_path, request.raw_query, request.headers,
                                     request.body)
        if not sigv4.matches(sig, signed, secret):
            raise _auth_error(service, "SignatureDoesNotMatch",
                              "The request signature we calculated does not match the signature you "
                              "provided. Check your AWS Secret Access Key and signing method. Consult "
                              "the service documentation for details.")


def _auth_error(service: str, code: str, message: str) -> AwsError:
    """EC2 says `AuthFailure` (401) for every credential it cannot accept; the query
    services name the reason (403)."""
    if service == "ec2":
        return AwsError("AWS was not able to validate the provided access credentials",
                        code="AuthFailure", status=401)
    return AwsError(message, code=code, status=403)
