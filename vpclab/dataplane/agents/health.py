"""NLB health checks: real probes from the NLB nodes, written back as target health.

What is checked
---------------
Every registered, not draining target of every target group that a listener of an NLB
forwards to (an instance target only while its instance is running). AWS checks each
target from every load balancer node; vpclab checks it from **one** node of each NLB
that uses the group — the node in the target's zone, else the NLB's first node (all
nodes of an NLB sit in the target group's VPC, so any node reaches any target) — and
records one result per target. The probe runs with the target group's settings:
TCP (a connect), HTTP or HTTPS (``GET <path>``, status matched against
``Matcher.HttpCode``, e.g. "200-399" or "200,202"), port (``traffic-port`` = the
registered port, or a number), interval, timeout, thresholds. With
``proxy_protocol_v2.enabled`` the probe first sends a LOCAL proxy protocol header, as
AWS does ("the proxy protocol header is also included in health check connections ...
the client connection information is not sent").

State machine (AWS's semantics)
-------------------------------
- A target nothing checked yet is `initial` / ``Elb.RegistrationInProgress`` (the
  control plane says so by itself). When checks begin, vpclab records `initial` /
  ``Elb.InitialHealthChecking``. The first check runs at once on registration.
- A **newly registered** target becomes `healthy` after **one** passed check: AWS's NLB
  troubleshooting guide says "Your target is not in service until it passes one health
  check" (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-troubleshooting.html,
  "A registered target is not in service"), and the ALB guide "After your target is
  registered, it must pass one health check to be considered healthy"; the API's
  HealthyThresholdCount is "the number of consecutive health checks successes required
  before considering an *unhealthy* target healthy".
- `unhealthy` after UnhealthyThresholdCount consecutive failures (from `initial` or
  `healthy`), with the reason of the last failure: ``Target.Timeout`` (no answer in
  time: connect or response timed out, host unreachable), ``Target.FailedHealthChecks``
  (connection refused/reset, malformed response), ``Target.ResponseCodeMismatch`` (an
  HTTP status outside the matcher — the botocore model's reason for that case).
- `unhealthy` -> `healthy` after HealthyThresholdCount consecutive successes.
- Health checks disabled (only possible for lambda targets, which NLBs do not use):
  `unavailable` / ``Target.HealthCheckDisabled``.

Only changes are written (each write is one store transaction through
`model.observed.record_health`), followed by `dp.poke()` so that the NLB area re-renders
its DNAT maps at once.

Time scale
----------
``VPCLAB_HEALTH_CHECK_SCALE`` (float, default 1.0) multiplies the interval and timeout
the agent uses; 0.05 makes AWS's default 30 s interval 1.5 s. The API keeps reporting
the configured values.

Mechanics
---------
One asyncio event loop in one thread; one task per checked target. Sockets are made
inside the router namespace the node is an address of, bound to the node's address, by
`netns.run_in` (a throwaway thread, so no thread keeps a namespace pinned once its VPC
is gone) and used non-blocking on the loop. The same
loop runs the proxy protocol v2 relays (`proxy_v2.Relay`).
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ...model import observed, targets
from ...model.elbv2 import (
    LoadBalancer,
    SubnetMapping,
    TargetGroup,
    TargetHealth,
    forwarded_target_groups,
    health_id,
    proxy_protocol_v2,
)
from ..areas.nodes import lb_target_groups, node_namespace
from ..world import AgentHost, World
from . import proxy_v2

log = logging.getLogger("vpclab.dataplane.health")

SCALE_ENV = "VPCLAB_HEALTH_CHECK_SCALE"
MIN_PERIOD = 0.05  # seconds: the floor of a scaled interval or timeout

INITIAL_CHECKING = ("initial", "Elb.InitialHealthChecking", "Initial health checks in progress")
HEALTH_CHECK_DISABLED = ("unavailable", "Target.HealthCheckDisabled", "Health checks are disabled for the target group")
TIMEOUT = ("Target.Timeout", "Request timed out")
FAILED = ("Target.FailedHealthChecks", "Health checks failed")


def time_scale(environ: dict[str, str] | None = None) -> float:
    """The server-wide health check time scale (``VPCLAB_HEALTH_CHECK_SCALE``)."""
    raw = (environ if environ is not None else os.environ).get(SCALE_ENV, "")
    try:
        value = float(raw) if raw.strip() else 1.0
    except ValueError:
        log.warning("ignoring %s=%r (not a number)", SCALE_ENV, raw)
        return 1.0
    return value if value > 0 else 1.0


# Targets, zones, nodes -----------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """One registered target as the data plane sees it."""

    target_id: str
    address: str  # the IP the node connects to
    port: int
    zone: str | None  # availability zone name; None or "all" = any
    registered: float


def live_targets(world: World, tg: TargetGroup) -> list[Target]:
    """The registered targets that receive flows (`model.targets.flow_address`, the rule the
    forwarding set and DescribeTargetHealth use too): only those are checked."""
    out = []
    for t in tg.targets:
        address = targets.flow_address(tg, t, world.instances.get)
        if address is None:
            continue
        zone = t.availability_zone
        if tg.target_type == "instance":
            zone = zone or world.instances[t.id].availability_zone
        out.append(Target(t.id, address, t.port, zone, t.registered))
    return out


def node_for(lb: LoadBalancer, zone: str | None) -> SubnetMapping | None:
    """The node of `lb` that checks a target in `zone`: the zone's own, else the first."""
    nodes = [m for m in lb.mappings if m.network_interface_id and m.private_ip]
    for m in nodes:
        if m.zone == zone:
            return m
    return nodes[0] if nodes else None


# What to check -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckSpec:
    tg_arn: str
    target_id: str
    port: int  # the registered (traffic) port: the target health record's key
    registered: float
    namespace: str  # the router namespace the node is an address of: the probe runs there
    source_ip: str  # the node's private IP
    address: str  # the target's IP
    check_port: int
    protocol: str  # TCP | HTTP | HTTPS
    path: str
    matcher: str
    host: str  # Host header: the node's IP and the listener port, as AWS sends it
    interval: float  # configured seconds (unscaled)
    timeout: float
    healthy_threshold: int
    unhealthy_threshold: int
    enabled: bool
    proxy_protocol: bool

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.tg_arn, self.target_id, self.port)


def _listener_port(world: World, lb_arn: str, tg_arn: str) -> int | None:
    for listener in sorted(world.listeners.values(), key=lambda l: l.port):
        if listener.load_balancer_arn == lb_arn and tg_arn in forwarded_target_groups(listener.default_actions):
            return listener.port
    return None


def desired_checks(world: World, prefix: str) -> dict[tuple[str, str, int], CheckSpec]:
    """Every probe the world asks for, one per (target group, target, port). Pure."""
    out: dict[tuple[str, str, int], CheckSpec] = {}
    for lb in sorted(world.load_balancers.values(), key=lambda lb: lb.id):
        if lb.type != "network":
            continue
        for tg_arn in lb_target_groups(world, lb.id):
            tg = world.target_groups.get(tg_arn)
            if tg is None:
                continue
            hc = tg.health_check
            listener_port = _listener_port(world, lb.id, tg_arn)
            for target in live_targets(world, tg):
                key = (tg_arn, target.target_id, target.port)
                if key in out:
                    continue  # already checked from another NLB's node
                node = node_for(lb, target.zone)
                namespace = node_namespace(world, prefix, node) if node is not None else None
                if node is None or namespace is None:
                    continue
                hc_port = str(hc.get("HealthCheckPort", "traffic-port"))
                protocol = hc.get("HealthCheckProtocol", "TCP")
                out[key] = CheckSpec(
                    tg_arn=tg_arn, target_id=target.target_id, port=target.port,
                    registered=target.registered,
                    namespace=namespace,
                    source_ip=node.private_ip, address=target.address,
                    check_port=target.port if hc_port == "traffic-port" else int(hc_port),
                    protocol=protocol, path=hc.get("HealthCheckPath") or "/",
                    matcher=(hc.get("Matcher") or {}).get("HttpCode") or "200-399",
                    host=f"{node.private_ip}:{listener_port}" if listener_port else node.private_ip,
                    interval=float(hc.get("HealthCheckIntervalSeconds", 30)),
                    timeout=float(hc.get("HealthCheckTimeoutSeconds", 10)),
                    healthy_threshold=int(hc.get("HealthyThresholdCount", 5)),
                    unhealthy_threshold=int(hc.get("UnhealthyThresholdCount", 2)),
                    enabled=bool(hc.get("HealthCheckEnabled", True)),
                    proxy_protocol=proxy_protocol_v2(tg),
                )
    return out


# One probe -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    ok: bool
    reason: str | None = None
    description: str | None = None


PASSED = Outcome(True)


def matches(matcher: str, status: int) -> bool:
    """Does HTTP `status` satisfy a Matcher.HttpCode like "200-399" or "200,202"?"""
    for part in matcher.replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif int(part) == status:
            return True
    return False


def _timeout(description: str = "Request timed out") -> Outcome:
    return Outcome(False, TIMEOUT[0], description)


def _failed(description: str = "Health checks failed") -> Outcome:
    return Outcome(False, FAILED[0], description)


_TIMEOUT_ERRNOS = {errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN}


async def probe(spec: CheckSpec, timeout: float,
                make_socket: Callable[[str, str], socket.socket] | None = None) -> Outcome | None:
    """Run one health check of `spec`; None if it could not run (its namespace is gone).

    `make_socket(namespace, source_ip)` returns a non-blocking socket of the namespace
    (default: `proxy_v2.client_socket`, through a thread so the loop never blocks).
    """
    loop = asyncio.get_running_loop()
    factory = make_socket or proxy_v2.client_socket
    try:
        sock = await loop.run_in_executor(None, factory, spec.namespace, spec.source_ip)
    except (OSError, ValueError) as exc:
        log.debug("no socket in %s: %s", spec.namespace, exc)
        return None
    deadline = loop.time() + timeout
    try:
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (spec.address, spec.check_port)), timeout)
        except asyncio.TimeoutError:
            return _timeout()
        except OSError as exc:
            return _timeout() if exc.errno in _TIMEOUT_ERRNOS else _failed()
        if spec.protocol == "TCP":
            if spec.proxy_protocol:
                try:
                    await loop.sock_sendall(sock, proxy_v2.build_local_header())
                except OSError:
                    pass
            return PASSED
        return await _http(spec, sock, deadline - loop.time())
    finally:
        sock.close()


async def _http(spec: CheckSpec, sock: socket.socket, remaining: float) -> Outcome:
    loop = asyncio.get_running_loop()
    if remaining <= 0:
        return _timeout()
    request = (f"GET {spec.path} HTTP/1.1\r\nHost: {spec.host}\r\n"
               "User-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\n"
               "Connection: close\r\n\r\n").encode()
    writer = None
    try:
        async def exchange() -> bytes:
            nonlocal writer
            if spec.proxy_protocol:
                await loop.sock_sendall(sock, proxy_v2.build_local_header())
            context = None
            if spec.protocol == "HTTPS":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context, server_hostname="" if context else None)
            writer.write(request)
            await writer.drain()
            return await reader.readline()

        status_line = await asyncio.wait_for(exchange(), remaining)
    except asyncio.TimeoutError:
        return _timeout()
    except (OSError, ssl.SSLError, EOFError):
        return _failed()
    finally:
        if writer is not None:
            writer.close()
    parts = status_line.decode("latin-1").split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return _failed()
    status = int(parts[1])
    if matches(spec.matcher, status):
        return PASSED
    return Outcome(False, "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]")


# The state machine -----------------------------------------------------------------------------

class Tracker:
    """Consecutive results -> target health state, as AWS counts them (module doc)."""

    def __init__(self, state: str = "initial", reason: str | None = None, description: str | None = None):
        self.state = state
        self.reason = reason
        self.description = description
        self.successes = 0
        self.failures = 0

    def observe(self, outcome: Outcome, healthy_threshold: int,
                unhealthy_threshold: int) -> tuple[str, str | None, str | None] | None:
        """Count one result; return the new (state, reason, description) if it changed."""
        if outcome.ok:
            self.successes += 1
            self.failures = 0
            if self.state == "initial" or (self.state != "healthy" and self.successes >= healthy_threshold):
                return self._set("healthy", None, None)
            return None
        self.failures += 1
        self.successes = 0
        if self.state == "unhealthy":
            return self._set("unhealthy", outcome.reason, outcome.description)  # the latest reason
        if self.failures >= unhealthy_threshold:
            return self._set("unhealthy", outcome.reason, outcome.description)
        return None

    def _set(self, state: str, reason: str | None,
             description: str | None) -> tuple[str, str | None, str | None] | None:
        if (state, reason, description) == (self.state, self.reason, self.description):
            return None
        self.state, self.reason, self.description = state, reason, description
        if state == "healthy":
            self.successes = 0
        return (state, reason, description)


# The agent ---------------------------------------------------------------------------------------

@dataclass
class _Watch:
    spec: CheckSpec
    tracker: Tracker
    task: asyncio.Task[None] | None = None
    last_write: float | None = None  # loop time of the last record written


#: A record this agent wrote that is still missing from a world this much later was
#: dropped by the control plane (e.g. the group stopped and started being used between
#: two passes): the target starts over as a new one.
LOST_RECORD_AFTER = 5.0


class HealthAgent:
    """Runs the probes (and the proxy protocol relays) for one data plane."""

    def __init__(self, dp: AgentHost, scale: float | None = None):
        self.dp = dp
        self.prefix = dp.prefix
        self.scale = time_scale() if scale is None else scale
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(ThreadPoolExecutor(max_workers=16, thread_name_prefix="vpclab-health-ns"))
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vpclab-health-write")
        self._watches: dict[tuple[str, str, int], _Watch] = {}
        self._thread = threading.Thread(target=self.loop.run_forever, name="vpclab-health", daemon=True)
        self._thread.start()
        self.relay = proxy_v2.Relay(self.prefix, self.loop)
        self.writes = 0

    # Called by the data plane loop after each apply.
    def sync(self, world: World) -> None:
        desired = desired_checks(world, self.prefix)
        recorded = {key: world.target_health.get(health_id(*key)) for key in desired}
        asyncio.run_coroutine_threadsafe(self._sync(desired, recorded), self.loop).result(timeout=30)
        self.relay.sync(world)

    def close(self) -> None:
        if not self.loop.is_running():
            return
        try:
            self.relay.close()
            asyncio.run_coroutine_threadsafe(self._sync({}, {}), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._writer.shutdown(wait=True)

    # On the loop.
    async def _sync(self, desired: dict[tuple[str, str, int], CheckSpec],
                    recorded: dict[tuple[str, str, int], TargetHealth | None]) -> None:
        for key in list(self._watches):
            watch = self._watches[key]
            spec = desired.get(key)
            if spec is None or spec != watch.spec:
                if watch.task is not None:
                    watch.task.cancel()
                if spec is None or spec.registered != watch.spec.registered:
                    del self._watches[key]
                else:
                    watch.spec = spec  # settings changed: same state, new probe
                    watch.task = self.loop.create_task(self._run(key))
        now = self.loop.time()
        for key, spec in desired.items():
            current = self._watches.get(key)
            if current is not None and recorded.get(key) is None and current.last_write is not None \
                    and now - current.last_write > LOST_RECORD_AFTER:
                if current.task is not None:
                    current.task.cancel()
                del self._watches[key]
            if key in self._watches:
                continue
            rec = recorded.get(key)
            tracker = Tracker()
            fresh = True
            if rec is not None and rec.observed >= spec.registered:
                tracker = Tracker(rec.state, rec.reason, rec.description)  # a restart: carry on
                fresh = False
            self._watches[key] = _Watch(spec, tracker)
            self._watches[key].task = self.loop.create_task(self._run(key, announce=fresh))

    async def _run(self, key: tuple[str, str, int], announce: bool = False) -> None:
        watch = self._watches[key]
        spec = watch.spec
        try:
            if not spec.enabled:
                if (watch.tracker.state, watch.tracker.reason) != HEALTH_CHECK_DISABLED[:2]:
                    watch.tracker = Tracker(*HEALTH_CHECK_DISABLED)
                    await self._record(spec, HEALTH_CHECK_DISABLED)
                return
            interval = max(MIN_PERIOD, spec.interval * self.scale)
            timeout = max(MIN_PERIOD, min(spec.timeout * self.scale, interval))
            first = True
            while True:
                started = self.loop.time()
                outcome = await probe(spec, timeout)
                if outcome is not None:
                    change = watch.tracker.observe(outcome, spec.healthy_threshold, spec.unhealthy_threshold)
                    if change is None and first and announce:
                        change = INITIAL_CHECKING  # checks began; nothing decided yet
                        watch.tracker.reason, watch.tracker.description = INITIAL_CHECKING[1:]
                    if change is not None:
                        await self._record(spec, change)
                    first = False
                await asyncio.sleep(max(0.0, interval - (self.loop.time() - started)))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the other probes going
            log.exception("health check of %s %s:%d", spec.tg_arn, spec.target_id, spec.port)

    async def _record(self, spec: CheckSpec, change: tuple[str, str | None, str | None]) -> None:
        await self.loop.run_in_executor(self._writer, self._write, spec, change)
        watch = self._watches.get(spec.key)
        if watch is not None:
            watch.last_write = self.loop.time()

    def _write(self, spec: CheckSpec, change: tuple[str, str | None, str | None]) -> None:
        state, reason, description = change
        with self.dp.store.write() as tx:
            observed.record_health(tx, spec.tg_arn, spec.target_id, spec.port, state, reason, description, time.time())
        self.writes += 1
        log.info("target %s:%d of %s is %s%s", spec.target_id, spec.port, spec.tg_arn, state,
                 f" ({reason})" if reason else "")
        self.dp.poke()


def make_agent(dp: AgentHost) -> HealthAgent:
    return HealthAgent(dp)
