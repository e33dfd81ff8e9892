"""Links, addresses, routes, ip rules, proxy neighbours and sysctls inside one namespace,
over rtnetlink (pyroute2).

Every function here runs on a `netns.NamespaceThread` and takes the `IPRoute` socket that
thread opened (see `open_rtnl`), so each call acts on that namespace and nothing else.
`open_rtnl` and `set_sysctl` refuse to run in the host namespace: this layer never adds
an address, route or link there.

Foreign errors (pyroute2's NetlinkError) are translated at this seam into `LinkError`.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from vpclab.kernel import netns

RTPROT_VPCLAB = 118
"""Routes, ip rules and proxy neighbours vpclab adds carry this protocol number, so it
removes only its own (the kernel's connected routes and default rules are proto kernel
and are never touched)."""

RT_TABLE_MAIN = 254
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, RT_SCOPE_NOWHERE = 0, 253, 255
FIB_RULE_INVERT = 0x2  # fib_rule_hdr.flags: `ip rule add not ...`
NTF_PROXY = 0x08  # ndmsg.ndm_flags: a proxy (pneigh) entry, `ip neigh add proxy ...`


class LinkError(OSError):
    """An rtnetlink operation failed in a namespace."""


@dataclass(frozen=True)
class LinkState:
    """What the kernel has for one interface (only what the backend compares)."""

    name: str
    index: int
    kind: str  # "bridge", "veth", "loopback", or the kernel's kind string
    up: bool
    master: str | None
    mtu: int
    addresses: frozenset[str]  # canonical "addr/len"; IPv6 link-local left out
    peer_index: int | None = None  # veth: the peer's ifindex, in its own namespace
    peer_nsid: int | None = None  # veth: the peer namespace's id as seen from here
    gso_max_size: int | None = None  # IFLA_GSO_MAX_SIZE
    mac: str | None = None  # IFLA_ADDRESS, lower case


def _guard() -> None:
    if netns.current_inode() in netns.HOST_NETNS_INODES:
        raise netns.HostNamespaceError("refusing to change links in the host namespace")


def open_rtnl() -> IPRoute:
    """An rtnetlink socket in the calling thread's namespace (never the host's)."""
    _guard()
    return IPRoute()


def _nl(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except NetlinkError as exc:
        raise LinkError(exc.code, f"{what}: {os.strerror(exc.code)}") from exc


def address_of(a: Any) -> str | None:
    """`ip/len` of an RTM_NEWADDR message; None for IPv6 link-local (never vpclab's)."""
    ip = ipaddress.ip_interface(f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
    if a["family"] == socket.AF_INET:
        ip = ipaddress.ip_interface(f"{a.get_attr('IFA_LOCAL') or a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
    if ip.version == 6 and ip.ip.is_link_local:
        return None
    return ip.with_prefixlen


def link_kind(m: Any, name: str) -> str:
    info = m.get_attr("IFLA_LINKINFO")
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    if kind is None:
        kind = "loopback" if name == "lo" else "other"
    return kind


def link_state(m: Any, name: str, master: str | None, addresses: Iterable[str]) -> LinkState:
    """The `LinkState` of an RTM_NEWLINK message (its master's name resolved by the caller)."""
    kind = link_kind(m, name)
    return LinkState(
        name=name,
        index=m["index"],
        kind=kind,
        up=bool(m["flags"] & 1),
        master=master,
        mtu=m.get_attr("IFLA_MTU"),
        addresses=frozenset(addresses),
        peer_index=m.get_attr("IFLA_LINK") if kind == "veth" else None,
        peer_nsid=m.get_attr("IFLA_LINK_NETNSID") if kind == "veth" else None,
        gso_max_size=m.get_attr("IFLA_GSO_MAX_SIZE"),
        mac=(m.get_attr("IFLA_ADDRESS") or "").lower() or None,
    )


def read_links(ipr: IPRoute) -> dict[str, LinkState]:
    """All interfaces of the namespace with their addresses."""
    raw = list(ipr.get_links())
    by_index = {m["index"]: m.get_attr("IFLA_IFNAME") for m in raw}
    addrs: dict[int, set[str]] = {}
    for a in ipr.get_addr():
        cidr = address_of(a)
        if cidr is not None:
            addrs.setdefault(a["index"], set()).add(cidr)
    out: dict[str, LinkState] = {}
    for m in raw:
        name = m.get_attr("IFLA_IFNAME")
        master_idx = m.get_attr("IFLA_MASTER")
        out[name] = link_state(m, name, by_index.get(master_idx) if master_idx else None,
                               addrs.get(m["index"], ()))
    return out


def _index(ipr: IPRoute, name: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise LinkError(errno.ENODEV, f"no interface {name}")
    return found[0]


def add_bridge(ipr: IPRoute, name: str) -> None:
    """Create a bridge (left down: `set_link` brings it up once configured)."""
    _guard()
    _nl(f"add bridge {name}", ipr.link, "add", ifname=name, kind="bridge")


def add_veth(ipr: IPRoute, name: str, peer_namespace: str, peer_name: str) -> None:
    """Create a veth pair: `name` here, `peer_name` created directly in `peer_namespace`.

    The peer is born in its namespace (IFLA_NET_NS_FD in the same request), so no vpclab
    link ever exists in the host namespace, not even for an instant.
    """
    _guard()
    fd = os.open(netns.path_of(peer_namespace), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if netns.inode_of(peer_namespace) is None:
            raise LinkError(errno.ENOENT, f"no namespace {peer_namespace}")
        _nl(
            f"add veth {name} <-> {peer_namespace}/{peer_name}",
            ipr.link,
            "add",
            ifname=name,
            kind="veth",
            peer={"ifname": peer_name, "net_ns_fd": fd},
        )
    finally:
        os.close(fd)


def nsid_of(ipr: IPRoute, namespace: str) -> int | None:
    """The id this namespace uses for `namespace` (what veth peers report), or None."""
    try:
        fd = os.open(netns.path_of(namespace), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        res = _nl(f"get nsid of {namespace}", ipr.get_netnsid, fd=fd)
    finally:
        os.close(fd)
    nsid = res.get("nsid") if res else None
    return None if nsid is None or nsid < 0 else nsid


def delete_link(ipr: IPRoute, name: str) -> bool:
    """Delete interface `name` (a veth takes its peer with it). False if already gone."""
    _guard()
    found = ipr.link_lookup(ifname=name)
    if not found:
        return False
    try:
        ipr.link("del", index=found[0])
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return False
        raise LinkError(exc.code, f"delete {name}: {os.strerror(exc.code)}") from exc
    return True


def delete_veths(ipr: IPRoute) -> list[str]:
    """Delete every veth here, so their peers elsewhere vanish now rather than whenever
    the kernel finishes tearing this namespace down (that happens asynchronously)."""
    gone = []
    for name, link in read_links(ipr).items():
        if link.kind == "veth" and delete_link(ipr, name):
            gone.append(name)
    return gone


def set_up(ipr: IPRoute, name: str, up: bool = True) -> None:
    _guard()
    _nl(f"set {name} {'up' if up else 'down'}", ipr.link, "set", index=_index(ipr, name), state="up" if up else "down")


def set_master(ipr: IPRoute, name: str, master: str | None) -> None:
    """Attach `name` to bridge `master`, or detach it (None)."""
    _guard()
    idx = _index(ipr, name)
    _nl(f"set {name} master {master}", ipr.link, "set", index=idx, master=_index(ipr, master) if master else 0)


def set_mtu(ipr: IPRoute, name: str, mtu: int) -> None:
    _guard()
    _nl(f"set {name} mtu {mtu}", ipr.link, "set", index=_index(ipr, name), mtu=mtu)


def set_mac(ipr: IPRoute, name: str, mac: str) -> None:
    _guard()
    _nl(f"set {name} address {mac}", ipr.link, "set", index=_index(ipr, name), address=mac)


def _ensure_ipv4_gso_attributes() -> None:
    """pyroute2 (0.9.7) names link attributes only up to IFLA_ALLMULTI (61); the IPv4 GSO/GRO
    limits (Linux 6.3+) are 63 and 64. Append them (62, IFLA_DEVLINK_PORT, as hex), at
    import, and make pyroute2 recompile its attribute table should it have been used."""
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    names = [n for n, _ in ifinfmsg.nla_map]
    if "IFLA_GSO_IPV4_MAX_SIZE" in names:
        return
    if len(names) != 62:
        raise LinkError(errno.ENOTSUP, "unexpected pyroute2 link attribute table")
    ifinfmsg.nla_map = tuple(ifinfmsg.nla_map) + (
        ("IFLA_DEVLINK_PORT", "hex"), ("IFLA_GSO_IPV4_MAX_SIZE", "uint32"), ("IFLA_GRO_IPV4_MAX_SIZE", "uint32"))
    ifinfmsg._nlmsg_base__compiled_nla = False  # name-mangled `__compiled_nla` of nlmsg_base


try:
    _ensure_ipv4_gso_attributes()
except LinkError:  # another pyroute2: IPv4 GSO sizes are then left as they are
    pass


def set_gso_max_size(ipr: IPRoute, name: str, size: int) -> None:
    """Largest GSO/GRO packet on `name`, IPv4 (BIG TCP, Linux 6.3+) and IPv6 alike."""
    _guard()
    attrs = {"IFLA_GSO_MAX_SIZE": size, "IFLA_GRO_MAX_SIZE": size}
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

    if any(n == "IFLA_GSO_IPV4_MAX_SIZE" for n, _ in ifinfmsg.nla_map):
        attrs.update(IFLA_GSO_IPV4_MAX_SIZE=size, IFLA_GRO_IPV4_MAX_SIZE=size)
    _nl(f"set {name} gso_max_size {size}", ipr.link, "set", index=_index(ipr, name), **attrs)


def add_address(ipr: IPRoute, name: str, cidr: str) -> None:
    _guard()
    ip = ipaddress.ip_interface(cidr)
    _nl(f"add {cidr} to {name}", ipr.addr, "add", index=_index(ipr, name), address=str(ip.ip), prefixlen=ip.network.prefixlen)


def delete_address(ipr: IPRoute, name: str, cidr: str) -> None:
    _guard()
    ip = ipaddress.ip_interface(cidr)
    _nl(f"delete {cidr} from {name}", ipr.addr, "del", index=_index(ipr, name), address=str(ip.ip), prefixlen=ip.network.prefixlen)


@dataclass(frozen=True)
class RouteState:
    """A route vpclab added (proto RTPROT_VPCLAB), as the kernel reports it."""

    dst: str
    via: str | None
    dev: str | None
    metric: int | None


def read_routes(ipr: IPRoute) -> set[RouteState]:
    """IPv4 and IPv6 routes in the main table that carry vpclab's protocol number."""
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
    out = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        for r in ipr.get_routes(family=family, table=RT_TABLE_MAIN):
            if r["proto"] != RTPROT_VPCLAB:
                continue
            dst = r.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            oif = r.get_attr("RTA_OIF")
            out.add(
                RouteState(
                    dst=ipaddress.ip_network(f"{dst}/{r['dst_len']}").with_prefixlen,
                    via=r.get_attr("RTA_GATEWAY"),
                    dev=names.get(oif) if oif else None,
                    metric=r.get_attr("RTA_PRIORITY"),
                )
            )
    return out


def _route_args(
    ipr: IPRoute, dst: str, via: str | None, dev: str | None, metric: int | None, table: int, scope: int
) -> dict[str, Any]:
    args: dict[str, Any] = {"dst": dst, "table": table, "proto": RTPROT_VPCLAB, "scope": scope}
    if via is not None:
        args["gateway"] = via
    if dev is not None:
        args["oif"] = _index(ipr, dev)
    if metric is not None:
        args["priority"] = metric
    return args


def add_route(
    ipr: IPRoute, dst: str, via: str | None = None, dev: str | None = None, metric: int | None = None,
    table: int = RT_TABLE_MAIN,
) -> None:
    """Add (or replace a same-destination route in `table` with) a vpclab route.

    A route without a gateway gets scope link, as `ip route add` gives it (pyroute2 sends
    universe): the kernel checks a gateway against link-scope routes of the gateway
    route's table, so a table holding ``SUBNET dev X`` then ``default via GW`` needs it
    (ENETUNREACH otherwise, unless main happens to reach GW)."""
    _guard()
    link_scope = via is None and ipaddress.ip_network(dst).version == 4
    scope = RT_SCOPE_LINK if link_scope else RT_SCOPE_UNIVERSE
    _nl(f"route {dst} table {table}", ipr.route, "replace", **_route_args(ipr, dst, via, dev, metric, table, scope))


def delete_route(
    ipr: IPRoute, dst: str, via: str | None = None, dev: str | None = None, metric: int | None = None,
    table: int = RT_TABLE_MAIN,
) -> None:
    """Delete a vpclab route, whatever its scope (RT_SCOPE_NOWHERE is the kernel's "any",
    as `ip route del` sends it); one already gone (with its device, say) is no error."""
    _guard()
    try:
        ipr.route("del", **_route_args(ipr, dst, via, dev, metric, table, RT_SCOPE_NOWHERE))
    except NetlinkError as exc:
        if exc.code not in (errno.ESRCH, errno.ENOENT):
            raise LinkError(exc.code, f"delete route {dst}: {os.strerror(exc.code)}") from exc
    except LinkError:
        pass  # its device is gone, and the route with it


def _rule_args(
    priority: int, table: int | None, fwmark: int | None, mask: int, invert: bool, goto: int | None
) -> dict[str, Any]:
    """pyroute2 `rule` keywords: IPv4, proto 118, a table above 255 goes in FRA_TABLE."""
    args: dict[str, Any] = {
        "family": socket.AF_INET,
        "priority": priority,
        "protocol": RTPROT_VPCLAB,  # FRA_PROTOCOL (Linux 4.17+)
        "flags": FIB_RULE_INVERT if invert else 0,
    }
    if goto is not None:
        args.update(action="goto", goto=goto)
    else:
        args["table"] = table  # pyroute2 makes the action FR_ACT_TO_TBL
    if fwmark is not None:
        args.update(fwmark=fwmark, fwmask=mask)
    return args


def add_rule(
    ipr: IPRoute, priority: int, table: int | None = None, fwmark: int | None = None,
    mask: int = 0xFFFFFFFF, invert: bool = False, goto: int | None = None,
) -> None:
    """`ip rule add pref PRIORITY [not] fwmark FWMARK/MASK (lookup TABLE | goto GOTO) proto 118`.
    The kernel refuses (EEXIST) a rule identical to one present, its protocol included."""
    _guard()
    _nl(f"add rule {priority}", ipr.rule, "add", **_rule_args(priority, table, fwmark, mask, invert, goto))


def delete_rule(
    ipr: IPRoute, priority: int, table: int | None = None, fwmark: int | None = None,
    mask: int = 0xFFFFFFFF, invert: bool = False, goto: int | None = None,
) -> None:
    """Delete vpclab's rule (the kernel matches proto 118 too, so never another's rule at
    that priority); one already gone is no error."""
    _guard()
    try:
        ipr.rule("del", **_rule_args(priority, table, fwmark, mask, invert, goto))
    except NetlinkError as exc:
        if exc.code not in (errno.ENOENT, errno.ESRCH):
            raise LinkError(exc.code, f"delete rule {priority}: {os.strerror(exc.code)}") from exc


def add_proxy_neighbour(ipr: IPRoute, address: str, dev: str) -> None:
    """`ip neigh add proxy ADDRESS dev DEV proto 118`. Adding one present is no error (the
    kernel ignores NLM_F_EXCL for proxy entries) and marks it vpclab's."""
    _guard()
    _nl(
        f"add proxy neighbour {address} on {dev}",
        ipr.neigh,
        "add",
        dst=address,
        ifindex=_index(ipr, dev),
        flags=NTF_PROXY,
        NDA_PROTOCOL=RTPROT_VPCLAB,
    )


def delete_proxy_neighbour(ipr: IPRoute, address: str, dev: str) -> None:
    """Delete a proxy entry; one already gone (with its device, say) is no error."""
    _guard()
    found = ipr.link_lookup(ifname=dev)
    if not found:
        return  # the kernel drops a device's proxy entries with the device
    try:
        ipr.neigh("del", dst=address, ifindex=found[0], flags=NTF_PROXY)
    except NetlinkError as exc:
        if exc.code not in (errno.ENOENT, errno.ENODEV):
            raise LinkError(exc.code, f"delete proxy neighbour {address} on {dev}: {os.strerror(exc.code)}") from exc


def dump_proxy_neighbours(ipr: IPRoute, family: int = socket.AF_INET) -> list[Any]:
    """The proxy (pneigh) table: RTM_GETNEIGH dump with ndm_flags = NTF_PROXY.

    pyroute2 0.9.7's ``neigh("dump", flags=...)`` turns every keyword but `family` into a
    client-side filter and sends ndm_flags 0 (that dumps the ARP cache, not the proxy
    table); with an explicit `dump_filter` it leaves the keywords as request fields, so
    the flag reaches the kernel. (``nlm_request`` with a hand-made ndmsg fails in 0.9.7:
    KeyError 'nlm_generator'.)"""
    return list(ipr.neigh("dump", family=family, flags=NTF_PROXY, dump_filter=lambda m: True))


def _sysctl_path(key: str) -> Path:
    if not key.startswith(("net.ipv4.", "net.ipv6.", "net.bridge.")) or ".." in key or "/" in key:
        raise ValueError(f"not a per-namespace network sysctl: {key!r}")
    return Path("/proc/sys") / key.replace(".", "/")


#: Keys of bridge netfilter (module br_netfilter, built into some kernels).
BRIDGE_NF_CALL = "net.bridge.bridge-nf-call-"


def read_sysctl(key: str) -> str | None:
    """Value of a network sysctl in the calling thread's namespace (None if it has none;
    "0" for bridge netfilter's switches where it is not loaded: nothing is called)."""
    try:
        return _sysctl_path(key).read_text().strip()
    except FileNotFoundError:
        return "0" if key.startswith(BRIDGE_NF_CALL) else None


def set_sysctl(key: str, value: str) -> None:
    """Set a network sysctl in the calling thread's namespace (/proc/sys/net is per thread
    namespace); refuses in the host namespace and for non-network keys.

    Bridge netfilter's switches (`BRIDGE_NF_CALL`) exist only while br_netfilter is
    loaded; where they do not, bridged frames meet no IP hook, which is what vpclab asks
    of them, and the key is left alone."""
    _guard()
    path = _sysctl_path(key)
    if key.startswith(BRIDGE_NF_CALL) and not path.exists():
        return
    path.write_text(str(value))
