"""What the instance metadata service answers: a pure function of the instance and one
request, with the tokens issued so far (`agents/metadata.py` does the sockets and HTTP).

EC2's rules, as its user guide states them ("Instance metadata categories", "Use IMDSv2",
"Retrieve instance metadata"):

- `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds` (1-21600) gives a
  token for that many seconds, echoing the TTL in the same header; a missing or bad TTL
  is 400; a PUT carrying `X-Forwarded-For` gets no token (403): a proxy in the instance
  cannot hand tokens on. Other methods on that path are 405.
- A GET (or HEAD) with `X-aws-ec2-metadata-token` must carry a live token issued to
  *this* instance, else 401, whatever HttpTokens says; without the header it is IMDSv1,
  which HttpTokens `required` refuses with 401. Methods other than GET, HEAD and the
  token PUT are 405.
- HttpEndpoint `disabled`: every request is 403 ("the request is not allowed or the IMDS
  is turned off").
- Directory listings are one entry a line, subdirectories ending in `/`, with or without
  the trailing slash on the request; values have no final newline; unknown paths are 404.
  `public-ipv4` (and, under its MAC, `public-ipv4s` and `ipv4-associations/<public ip>`)
  appear only for an instance with a public address, `public-hostname` only when it
  has a public DNS name too (its VPC's enableDnsHostnames), `public-keys/` only with a launch key, `user-data` only with
  user data, `tags/` only with InstanceMetadataTags `enabled`.
- Errors carry EC2's small XHTML page ("404 - Not Found"), `text/html`.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from ...aws_names import private_dns_name, public_dns_name
from ..world import World

TOKEN_PATH = "api/token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "x-aws-ec2-metadata-token"
MAX_TTL = 21600

#: Tokens kept per instance: when more are asked for, the oldest go first.
TOKENS_PER_INSTANCE = 1024

#: The versions `/` lists; each is served as `latest` is.
VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
            "2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12",
            "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02",
            "2018-03-28", "2018-08-17", "2018-09-24", "2019-10-01", "2020-10-27", "2021-01-03",
            "2021-03-23", "2021-07-15", "2022-09-24", "2024-04-11", "latest")

REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed"}


@dataclass(frozen=True)
class InstanceView:
    """What IMDS knows of one instance, taken from a World."""

    instance_id: str
    account: str
    region: str
    image_id: str
    instance_type: str
    launch_index: int
    reservation_id: str
    launch_time: float
    private_ip: str
    mac: str
    interface_id: str
    zone: str
    zone_id: str
    subnet_id: str
    subnet_cidr: str
    vpc_id: str
    vpc_cidr: str
    vpc_cidrs: tuple[str, ...]  # every associated IPv4 block, the primary first
    group_ids: tuple[str, ...]
    group_names: tuple[str, ...]
    key_name: str | None
    key_public: str
    user_data: bytes | None
    tags: tuple[tuple[str, str], ...]
    http_tokens: str = "optional"
    http_endpoint: str = "enabled"
    hop_limit: int = 1
    metadata_tags: str = "disabled"
    public_ip: str | None = None  # the primary ENI's public address
    public_hostname: str | None = None  # its public DNS name, where the VPC gives one


def views_for(world: World) -> dict[tuple[str, str], InstanceView]:
    """Every instance IMDS answers, keyed by (VPC id, private IP of its ENI): pending and
    running ones (user data may ask while the instance is still pending)."""
    out: dict[tuple[str, str], InstanceView] = {}
    for inst in world.instances.values():
        if inst.state not in ("pending", "running"):
            continue
        eni = world.enis.get(inst.network_interface_id)
        subnet = world.subnets.get(inst.subnet_id)
        vpc = world.vpcs.get(inst.vpc_id)
        if eni is None or subnet is None or vpc is None or not eni.private_ip:
            continue
        groups = [world.security_groups[g] for g in eni.security_group_ids if g in world.security_groups]
        options = inst.metadata_options
        public_ip = eni.association.public_ip if eni.association is not None else None
        out[(vpc.id, eni.private_ip)] = InstanceView(
            instance_id=inst.id, account=inst.account, region=inst.region, image_id=inst.image_id,
            instance_type=inst.instance_type, launch_index=inst.ami_launch_index,
            reservation_id=inst.reservation_id, launch_time=inst.launch_time,
            private_ip=eni.private_ip, mac=eni.mac_address, interface_id=eni.id,
            zone=subnet.availability_zone, zone_id=subnet.availability_zone_id, subnet_id=subnet.id,
            subnet_cidr=subnet.cidr_block, vpc_id=vpc.id, vpc_cidr=vpc.cidr_block,
            vpc_cidrs=tuple(vpc.ipv4_cidr_blocks()),
            group_ids=tuple(g.id for g in groups), group_names=tuple(g.group_name for g in groups),
            key_name=inst.key_name, key_public=inst.key_public, user_data=_decoded(inst.user_data),
            tags=tuple(sorted(inst.tags.items())),
            http_tokens=options.get("HttpTokens", "optional"),
            http_endpoint=options.get("HttpEndpoint", "enabled"),
            hop_limit=int(options.get("HttpPutResponseHopLimit", 1)),
            metadata_tags=options.get("InstanceMetadataTags", "disabled"),
            public_ip=public_ip,
            public_hostname=public_dns_name(inst.region, public_ip)
            if public_ip and vpc.enable_dns_hostnames else None,
        )
    return out


def _decoded(user_data: str) -> bytes | None:
    if not user_data:
        return None
    try:
        return base64.b64decode(user_data)
    except (binascii.Error, ValueError):
        return None


def architecture(instance_type: str) -> str:
    """The instance type's architecture by AWS's naming rule: a family whose processor
    letter is `g` (t4g, m7g, c6g…) is Graviton, arm64; every other x86_64."""
    family = instance_type.split(".", 1)[0]
    return "arm64" if family.endswith(("g", "gd")) else "x86_64"


# --- Tokens ------------------------------------------------------------------------------

@dataclass
class Tokens:
    """Tokens issued, per instance, oldest first: token -> expiry (monotonic seconds)."""

    by_instance: dict[str, OrderedDict[str, float]] = field(default_factory=dict)

    def issue(self, instance_id: str, ttl: int, now: float) -> str:
        mine = self.by_instance.setdefault(instance_id, OrderedDict())
        if len(mine) >= TOKENS_PER_INSTANCE:
            for token in [t for t, expiry in mine.items() if expiry <= now]:
                del mine[token]
            while len(mine) >= TOKENS_PER_INSTANCE:
                mine.popitem(last=False)
        token = base64.b64encode(secrets.token_bytes(42)).decode()
        mine[token] = now + ttl
        return token

    def remaining(self, instance_id: str, token: str, now: float) -> int | None:
        """Whole seconds `token` of `instance_id` still lives, or None if it is not one."""
        mine = self.by_instance.get(instance_id)
        expiry = mine.get(token) if mine is not None else None
        if expiry is None or expiry <= now:
            return None
        return max(1, int(expiry - now))

    def keep_only(self, instance_ids: set[str]) -> None:
        """Forget the tokens of instances that are gone (stopped ones boot with none)."""
        for instance_id in list(self.by_instance):
            if instance_id not in instance_ids:
                del self.by_instance[instance_id]


# --- Requests and replies ------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # lower-case names


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"
    headers: list[tuple[str, str]] = field(default_factory=list)
    ip_ttl: int | None = None  # the hop limit a token reply is sent with


def error(status: int) -> Reply:
    title = f"{status} - {REASONS[status]}"
    page = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"\n'
            '\t"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
            f" <head>\n  <title>{title}</title>\n </head>\n"
            f" <body>\n  <h1>{title}</h1>\n </body>\n</html>\n")
    return Reply(status, page.encode(), "text/html")


def respond(view: InstanceView, request: Request, tokens: Tokens, now: float) -> Reply:
    """The reply to `request` from `view`'s instance (`now`: monotonic seconds)."""
    if view.http_endpoint != "enabled":
        return error(403)
    parts = request.path.split("/")
    version = parts[1] if len(parts) > 1 else ""
    rest = "/".join(parts[2:])
    if version in VERSIONS and rest.rstrip("/") == TOKEN_PATH:
        return _token(view, request, tokens, now)
    if request.method not in ("GET", "HEAD"):
        return error(405)
    extra: list[tuple[str, str]] = []
    token = request.headers.get(TOKEN_HEADER)
    if token is not None:
        left = tokens.remaining(view.instance_id, token, now)
        if left is None:
            return error(401)
        extra.append(("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(left)))
    elif view.http_tokens == "required":
        return error(401)
    reply = _content(view, request.path)
    reply.headers += extra
    return reply


def _token(view: InstanceView, request: Request, tokens: Tokens, now: float) -> Reply:
    if request.method != "PUT":
        return error(405)
    if "x-forwarded-for" in request.headers:
        return error(403)
    raw = request.headers.get(TTL_HEADER, "").strip()
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_TTL:
        return error(400)
    ttl = int(raw)
    token = tokens.issue(view.instance_id, ttl, now)
    return Reply(200, token.encode(), headers=[("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", str(ttl))],
                 ip_ttl=view.hop_limit)


# --- Content ---------------------------------------------------------------------------------

Tree = dict[str, "str | Tree"]


def meta_data(view: InstanceView) -> Tree:
    """The `meta-data/` tree of `view`'s instance: directories are dicts, values strings."""
    hostname = private_dns_name(view.region, view.private_ip)
    interface: Tree = {
        "device-number": "0",
        "interface-id": view.interface_id,
        "local-hostname": hostname,
        "local-ipv4s": view.private_ip,
        "mac": view.mac,
        "owner-id": view.account,
        "security-group-ids": "\n".join(view.group_ids),
        "security-groups": "\n".join(view.group_names),
        "subnet-id": view.subnet_id,
        "subnet-ipv4-cidr-block": view.subnet_cidr,
        "vpc-id": view.vpc_id,
        "vpc-ipv4-cidr-block": view.vpc_cidr,
        "vpc-ipv4-cidr-blocks": "\n".join(view.vpc_cidrs),
    }
    if view.public_ip:
        interface["ipv4-associations"] = {view.public_ip: view.private_ip}
        interface["public-ipv4s"] = view.public_ip
        if view.public_hostname:
            interface["public-hostname"] = view.public_hostname
    interface = dict(sorted(interface.items()))
    tree: Tree = {
        "ami-id": view.image_id,
        "ami-launch-index": str(view.launch_index),
        "ami-manifest-path": "(unknown)",
        "hostname": hostname,
        "instance-action": "none",
        "instance-id": view.instance_id,
        "instance-life-cycle": "on-demand",
        "instance-type": view.instance_type,
        "local-hostname": hostname,
        "local-ipv4": view.private_ip,
        "mac": view.mac,
        "network": {"interfaces": {"macs": {view.mac: interface}}},
        "placement": {"availability-zone": view.zone, "availability-zone-id": view.zone_id,
                      "region": view.region},
        "profile": "default-hvm",
        "reservation-id": view.reservation_id,
        "security-groups": "\n".join(view.group_names),
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if view.public_ip:
        tree["public-ipv4"] = view.public_ip
        if view.public_hostname:
            tree["public-hostname"] = view.public_hostname
    if view.key_public:
        tree["public-keys"] = {"0": {"openssh-key": view.key_public.rstrip("\n") + "\n"}}
    if view.metadata_tags == "enabled":
        tree["tags"] = {"instance": {k: v for k, v in view.tags if "/" not in k and k}}
    return dict(sorted(tree.items()))  # EC2 lists a directory's entries in name order


def identity_document(view: InstanceView) -> str:
    """EC2's instance identity document, laid out as EC2 prints it."""
    pending = dt.datetime.fromtimestamp(view.launch_time, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = {
        "accountId": view.account,
        "architecture": architecture(view.instance_type),
        "availabilityZone": view.zone,
        "billingProducts": None,
        "devpayProductCodes": None,
        "marketplaceProductCodes": None,
        "imageId": view.image_id,
        "instanceId": view.instance_id,
        "instanceType": view.instance_type,
        "kernelId": None,
        "pendingTime": pending,
        "privateIp": view.private_ip,
        "ramdiskId": None,
        "region": view.region,
        "version": "2017-09-30",
    }
    return json.dumps(document, indent=2, separators=(",", " : "))


def _listing(tree: Tree, names: dict[str, str] | None = None, slashes: bool = True) -> str:
    """One entry a line; `names` replaces an entry's line (`public-keys/` lists `0=<key>`);
    subdirectories end in `/` except in a version's own listing (`dynamic`, `meta-data`)."""
    names = names or {}
    return "\n".join(names[k] if k in names else k + ("/" if slashes and isinstance(v, dict) else "")
                     for k, v in tree.items())


def _content(view: InstanceView, path: str) -> Reply:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return Reply(200, "\n".join(VERSIONS).encode())
    if parts[0] not in VERSIONS:
        return error(404)
    root: Tree = {"dynamic": {"instance-identity": {"document": identity_document(view)}},
                  "meta-data": meta_data(view)}
    if view.user_data is not None:
        root["user-data"] = ""
    rest = parts[1:]
    if rest == ["user-data"]:
        if view.user_data is None:
            return error(404)
        return Reply(200, view.user_data, "application/octet-stream")
    node: str | Tree = root
    for name in rest:
        if not isinstance(node, dict) or name not in node:
            return error(404)
        node = node[name]
    if isinstance(node, dict):
        names = {"0": f"0={view.key_name}"} if rest == ["meta-data", "public-keys"] else None
        return Reply(200, _listing(node, names, slashes=bool(rest)).encode())
    return Reply(200, node.encode())
