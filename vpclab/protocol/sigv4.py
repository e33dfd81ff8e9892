"""AWS Signature Version 4: reading the signature a request carries, and checking it.

`parse` reads what a request says about its signature (from the `Authorization` header
or a presigned query string) and refuses requests that are not SigV4-shaped, as AWS
does, with `MissingAuthenticationToken` / `IncompleteSignature`. Every request goes
through it: the signature's shape is what tells an SDK from a web page.

`verify` recomputes the signature from the request and a secret (strict mode). It follows
the published algorithm (canonical request, string to sign, derived key) rather than
botocore's signer, so that the tests can use botocore's signer as an independent oracle.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .errors import IncompleteSignature, MissingAuthenticationToken, RequestExpired

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
#: How far a request's time may be from the server's, as on AWS.
MAX_SKEW = dt.timedelta(minutes=15)
#: The longest lifetime a presigned request may ask for (7 days, as on AWS).
MAX_EXPIRES = 7 * 24 * 3600

_AUTH_PART = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


@dataclass(frozen=True)
class Signature:
    """What a request claims: who signed it, for which scope, over which headers."""

    access_key: str
    date: str  # the scope's yyyymmdd
    region: str
    service: str  # the signing name (ec2, elasticloadbalancing, sts)
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date, yyyymmddThhmmssZ ("" when absent)
    presigned: bool
    expires: int | None = None  # X-Amz-Expires of a presigned request


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request a SigV4 signature covers."""

    method: str
    raw_path: str  # as sent, still percent-encoded, without the query string
    raw_query: str  # as sent
    headers: Mapping[str, Sequence[str]]  # lower-case name -> every value sent
    body: bytes


def parse(authorization: str, query: Mapping[str, str], x_amz_date: str) -> Signature:
    """The signature a request carries; AWS's error when it carries none or half of one."""
    if authorization:
        return _from_header(authorization, x_amz_date)
    if "X-Amz-Credential" in query or "X-Amz-Signature" in query or "X-Amz-Algorithm" in query:
        return _from_query(query)
    raise MissingAuthenticationToken(
        "The request must contain either a valid (registered) AWS access key ID or X.509 certificate.")


def _from_header(authorization: str, x_amz_date: str) -> Signature:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(
            f"Unsupported AWS 'algorithm': '{algorithm}'. vpclab accepts {ALGORITHM} (SigV4) only.")
    found = _AUTH_PART.findall(rest)
    parts = dict(found)
    if len(parts) != len(found):
        raise IncompleteSignature(f"Authorization header names a parameter twice. Authorization={authorization}")
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise IncompleteSignature(" ".join(
            f"Authorization header requires '{name}' parameter." for name in missing)
            + f" Authorization={authorization}")
    if not x_amz_date:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={authorization}")
    _check_timestamp_format(x_amz_date)
    return _signature(parts["Credential"], parts["SignedHeaders"], parts["Signature"], x_amz_date,
                      presigned=False)


def _from_query(query: Mapping[str, str]) -> Signature:
    names = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature",
             "X-Amz-Date")
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise IncompleteSignature(" ".join(f"AWS query-string parameters must include '{n}'." for n in missing)
                                  + " Re-examine the query-string parameters.")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{query['X-Amz-Algorithm']}'.")
    try:
        expires = int(query.get("X-Amz-Expires", "900"))
    except ValueError:
        raise IncompleteSignature("X-Amz-Expires must be a number of seconds.") from None
    if not 0 < expires <= MAX_EXPIRES:
        raise IncompleteSignature(f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds.")
    _check_timestamp_format(query["X-Amz-Date"])
    return _signature(query["X-Amz-Credential"], query["X-Amz-SignedHeaders"], query["X-Amz-Signature"],
                      query["X-Amz-Date"], presigned=True, expires=expires)


def _check_timestamp_format(timestamp: str) -> None:
    """SDKs write X-Amz-Date as yyyymmddThhmmssZ; anything else is not a signature's date."""
    try:
        dt.datetime.strptime(timestamp, TIMESTAMP_FORMAT)
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601") from None


def _signature(credential: str, signed_headers: str, signature: str, timestamp: str, *,
               presigned: bool, expires: int | None = None) -> Signature:
    scope = credential.split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise IncompleteSignature(
            f"Credential should be scoped to a valid region, service and date: '{credential}'. "
            "Expected <access key>/<yyyymmdd>/<region>/<service>/aws4_request.")
    key, date, region, service, _ = scope
    if not re.fullmatch(r"\d{8}", date):
        raise IncompleteSignature(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                                  f"date from HTTP: '{date}'.")
    headers = tuple(h for h in signed_headers.lower().split(";") if h)
    if "host" not in headers:
        raise IncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    return Signature(key, date, region, service, headers, signature, timestamp, presigned, expires)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(sig: Signature, request: SignedRequest) -> str:
    # The path as sent (still percent-encoded) is encoded once more: every service but S3
    # signs the double-encoded path.
    path = posixpath.normpath(request.raw_path or "/")
    if request.raw_path.endswith("/") and path != "/":
        path += "/"
    pairs = []
    for item in request.raw_query.split("&") if request.raw_query else []:
        name, _, value = item.partition("=")
        name, value = unquote(name.replace("+", " ")), unquote(value.replace("+", " "))
        if sig.presigned and name == "X-Amz-Signature":
            continue
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    headers = []
    for name in sig.signed_headers:
        values = request.headers.get(name, ())
        headers.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    payload = next(iter(request.headers.get("x-amz-content-sha256", ())), "") \
        or hashlib.sha256(request.body).hexdigest()
    return "\n".join([
        request.method.upper(),
        quote(path, safe="/~"),
        "&".join(f"{k}={v}" for k, v in sorted(pairs)),
        "".join(headers),
        ";".join(sig.signed_headers),
        payload,
    ])


def expected_signature(sig: Signature, request: SignedRequest, secret: str) -> str:
    digest = hashlib.sha256(canonical_request(sig, request).encode()).hexdigest()
    string_to_sign = "\n".join([ALGORITHM, sig.timestamp,
                                f"{sig.date}/{sig.region}/{sig.service}/aws4_request", digest])
    return hmac.new(signing_key(secret, sig.date, sig.region, sig.service), string_to_sign.encode(),
                    hashlib.sha256).hexdigest()


def check_time(sig: Signature, now: dt.datetime) -> None:
    """AWS's `RequestExpired` for a request signed too long ago (or in the future)."""
    try:
        signed = dt.datetime.strptime(sig.timestamp, TIMESTAMP_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise IncompleteSignature(f"Invalid X-Amz-Date '{sig.timestamp}': expected yyyymmddThhmmssZ.") from None
    if sig.presigned:
        if now > signed + dt.timedelta(seconds=sig.expires or 0) or signed - now > MAX_SKEW:
            raise RequestExpired("Request has expired.")
    elif abs(now - signed) > MAX_SKEW:
        raise RequestExpired(
            f"Request has expired. Timestamp date is {sig.timestamp}, server time is "
            f"{now.strftime(TIMESTAMP_FORMAT)}: more than 15 minutes apart.")


def matches(sig: Signature, request: SignedRequest, secret: str) -> bool:
    return hmac.compare_digest(expected_signature(sig, request, secret), sig.signature)
