"""Which requests may use the console's API: the console page's own, and no other.

vpclab runs as root and the console's API changes state, so a page the user visits
elsewhere must not drive it. A cross-site form POST or fetch to 127.0.0.1 cannot carry the
token (it is in the console page, which another origin cannot read), cannot send JSON
without a CORS preflight that vpclab never answers, and names its origin in `Origin` and
`Sec-Fetch-Site`; a DNS-rebinding page names a foreign `Host`. Each of these alone
refuses the request.
"""
from __future__ import annotations

import hmac
import secrets

from ..protocol.request_guard import RequestGuard

TOKEN_HEADER = "X-Vpclab-Console-Token"


def new_token() -> str:
    """A fresh token per server start: only a page this server served knows it."""
    return secrets.token_urlsafe(32)


def refusal(headers: dict[str, str], token: str, api_guard: RequestGuard) -> str | None:
    """Why a console API request is refused, or None. `headers` have lower-case names."""
    host = headers.get("host", "")
    if not api_guard.host_allowed(host):
        return f"Host '{host}' is not an address of this vpclab server"
    origin = headers.get("origin")
    if origin is not None and origin.strip().lower() != f"http://{host.strip().lower()}":
        return f"requests from {origin} may not use the console"
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site requests may not use the console"
    if headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        return "the console's API takes application/json"
    # As bytes: compare_digest refuses (TypeError) a str that is not ASCII.
    sent = headers.get(TOKEN_HEADER.lower(), "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(sent, token.encode()):
        return "the console's token is missing or wrong: reload the console page"
    return None
