"""Names for everything the data plane makes in the kernel.

Ownership is encoded in names (as kube-proxy encodes it in its table name): every
namespace, owned link and nftables table starts with a *prefix* derived from the state
directory of one vpclab instance. Cleanup deletes exactly what carries the prefix, so two
servers or two test runs on one machine never touch each other's objects.

Prefixes have a fixed shape, ``vl`` + 5 hex digits (7 characters), so one prefix can never
be the beginning of another, and a Linux interface name (at most 15 characters) still has
8 characters left for a one-letter tag and a 7-hex-digit hash of the owning object's id.
"""

from __future__ import annotations

import hashlib
import os
import re

PREFIX_RE = re.compile(r"^vl[0-9a-f]{5}$")
IFNAMSIZ = 15  # usable characters in a Linux interface name (IFNAMSIZ - 1)

# One-letter link tags. Kept few and documented so `ip link` output stays readable.
TAG_BRIDGE = "b"  # a bridge (the data plane: a subnet's, in its VPC's namespace)
TAG_VETH = "v"  # the bridge-side end of a veth (the data plane: an instance's)
TAG_TRANSIT = "t"  # a link between two namespaces' bridges (the data plane: an endpoint ENI's)
TAG_GATEWAY = "g"  # a VPC router's link to the internet namespace (either end)
TAG_OTHER = "x"

_NS_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$")


def prefix_for_state_dir(state_dir: str | os.PathLike[str]) -> str:
    """The ownership prefix of the vpclab instance whose state lives in `state_dir`.

    Derived from the absolute path, so restarting a server on the same state directory
    finds (and converges) what it made before, and another directory never collides.
    """
    absolute = os.path.abspath(os.fspath(state_dir))
    digest = hashlib.sha256(absolute.encode()).hexdigest()
    return "vl" + digest[:5]


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it has the fixed shape, else raise ValueError."""
    if not PREFIX_RE.match(prefix):
        raise ValueError(f"invalid vpclab prefix {prefix!r}: want 'vl' + 5 hex digits")
    return prefix


def short_hash(key: str, length: int = 7) -> str:
    """A short stable hex hash of `key` (sha256, so it is the same in every process)."""
    return hashlib.sha256(key.encode()).hexdigest()[:length]


def link_name(prefix: str, tag: str, owner_id: str) -> str:
    """Deterministic interface name for the link owned by `owner_id`.

    ``<prefix><tag><7 hex>`` is exactly 15 characters: no counter to persist, and the
    same object always gets the same name, which is what makes apply idempotent.
    """
    check_prefix(prefix)
    if len(tag) != 1 or not tag.isalpha():
        raise ValueError(f"link tag must be one letter, got {tag!r}")
    name = prefix + tag + short_hash(owner_id, IFNAMSIZ - len(prefix) - 1)
    assert len(name) == IFNAMSIZ
    return name


def bridge_name(prefix: str, owner_id: str) -> str:
    """The bridge owned by `owner_id`."""
    return link_name(prefix, TAG_BRIDGE, owner_id)


def veth_name(prefix: str, owner_id: str) -> str:
    """The bridge-side end of the veth owned by `owner_id`."""
    return link_name(prefix, TAG_VETH, owner_id)


def address_mac(kind: int, address: str) -> str:
    """A fixed, locally administered MAC for an IPv4 address: ``02:<kind>:`` + its four
    bytes (unique on a segment as long as the address is; `kind` keeps uses apart)."""
    return f"02:{kind:02x}:" + ":".join(f"{int(b):02x}" for b in address.split("."))


def namespace_name(prefix: str, object_id: str) -> str:
    """Readable namespace name: ``<prefix>-<object id>``, e.g. ``vl1a2b3-vpc-0abc``.

    The callers' ids say what they are, so the id itself is the tag; namespace names may
    be long, so no hashing is needed.
    """
    check_prefix(prefix)
    name = f"{prefix}-{object_id}"
    check_namespace_name(name)
    return name


def check_namespace_name(name: str) -> str:
    """Reject names that cannot be a file under /run/netns (or would escape it)."""
    if not _NS_NAME_RE.match(name) or name in (".", ".."):
        raise ValueError(f"invalid namespace name {name!r}")
    return name


def table_name(prefix: str, purpose: str) -> str:
    """An owned nftables table name, e.g. ``vl1a2b3-nat``."""
    check_prefix(prefix)
    if not re.match(r"^[a-z][a-z0-9_]*$", purpose):
        raise ValueError(f"invalid table purpose {purpose!r}")
    return f"{prefix}-{purpose}"


def owns_namespace(prefix: str, name: str) -> bool:
    """True if namespace `name` was made by the instance owning `prefix`."""
    return name.startswith(prefix + "-")


def owns_link(prefix: str, name: str) -> bool:
    """True if interface `name` carries `prefix` (fixed-length prefixes: no ambiguity)."""
    return name.startswith(prefix) and len(name) > len(prefix)


def owns_table(prefix: str, name: str) -> bool:
    """True if nftables table `name` carries `prefix`."""
    return name.startswith(prefix + "-")

