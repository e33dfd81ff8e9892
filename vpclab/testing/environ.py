"""The environment variables that point AWS SDKs and the AWS CLI at a vpclab server.

Code under test often builds its own clients (`boto3.client("ec2")`, `aws ec2 ...` in a
subprocess); these variables make it talk to the lab as the given account. `patched`
sets them for a while and restores what was there, and takes away what would win over
them: a profile, a session token, a service-specific endpoint (`AWS_ENDPOINT_URL_EC2`
beats `AWS_ENDPOINT_URL`), an instruction to ignore configured endpoints, and boto3's
default session, which keeps the credentials it resolved first.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

#: The secret every lab key uses: vpclab reads the account from the key id and checks
#: signatures only in strict mode, which a lab does not use.
SECRET = "vpclab"

#: Variables removed while the lab's are set (each would override or spoil them).
OVERRIDING = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
              "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
OVERRIDING_PREFIX = "AWS_ENDPOINT_URL_"


def variables(endpoint_url: str, account: str, region: str) -> dict[str, str]:
    """AWS_ENDPOINT_URL, the keys of `account` and the region (both spellings: the CLI
    and boto3 read AWS_DEFAULT_REGION, other SDKs AWS_REGION)."""
    return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


@contextmanager
def patched(values: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """`values` in os.environ (and nothing that overrides them) inside the block; the
    environment as it was afterwards, whatever the block did to these names."""
    names = set(values) | set(OVERRIDING) | {n for n in os.environ if n.startswith(OVERRIDING_PREFIX)}
    saved = {name: os.environ.get(name) for name in names}
    for name in names - set(values):
        os.environ.pop(name, None)
    os.environ.update(values)
    _forget_default_session()
    try:
        yield dict(values)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget_default_session()


def _forget_default_session() -> None:
    """boto3's module-level session resolves credentials once and keeps them: drop it,
    so the next `boto3.client(...)` reads the environment as it is now."""
    import sys

    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        setattr(boto3, "DEFAULT_SESSION", None)
