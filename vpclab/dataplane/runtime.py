"""The data plane inside the server: the reconcile loop of docs/DATAPLANE.md ("The loop").

`AREAS` and `AGENT_MODULES` are the loop's parts, in the order they run. Stopping the
server leaves the kernel as it is (namespaces and instance processes keep running), so a
restart picks it up; `vpclab down` removes it all. `unavailable_reason` is the start-up
check that decides whether a server runs a data plane at all.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..kernel import confinement, dependencies, naming, netns
from ..kernel.backend import Backend
from ..kernel.nft import Count, NftContext
from ..store import Store
from .agents import dns, health, host_relay, instances, metadata, service_api
from .areas import endpoints, internet, load_balancers, network, security_groups, service_endpoints
from .areas.nodes import COUNT_TABLE
from .planner import Contributor, build_plan
from .world import AgentHost, World

log = logging.getLogger("vpclab.dataplane")

#: Areas, in order: each module may define `contribute(world, builder)` (its part of
#: the plan) and `observe(world, dp, now)` (facts to write back after a good apply).
AREAS = [network, internet, security_groups, load_balancers, endpoints, service_endpoints]

#: Agents: long-lived helpers synced after every apply (modules defining `make_agent(dp)`).
#: The metadata service opens before instances boot: user data asks it at first boot.
AGENT_MODULES: list[AgentModule] = [metadata, instances, dns, health, host_relay, service_api]

PERIOD = 1.0  # seconds between passes when nothing changed
FULL_PERIOD = 15.0  # seconds between full passes (read every namespace: repairs hand-made damage)
FULL_PERIOD_ENV = "VPCLAB_FULL_PERIOD"  # overrides FULL_PERIOD (tests of repairs use a short one)


def full_period(environ: dict[str, str] | None = None) -> float:
    """Seconds between full passes: ``VPCLAB_FULL_PERIOD`` if a positive number, else
    `FULL_PERIOD`."""
    raw = (environ if environ is not None else os.environ).get(FULL_PERIOD_ENV, "")
    try:
        value = float(raw) if raw.strip() else FULL_PERIOD
    except ValueError:
        log.warning("ignoring %s=%r (not a number)", FULL_PERIOD_ENV, raw)
        return FULL_PERIOD
    return value if value > 0 else FULL_PERIOD


class Agent(Protocol):
    def sync(self, world: World) -> None:
        """Catch up with `world` (the namespaces of the plan exist when this is called)."""

    def close(self) -> None:
        """Stop threads; leave what runs in the namespaces running."""


class AgentModule(Protocol):
    """A module of `AGENT_MODULES` (the checker holds each one to it)."""

    def make_agent(self, dp: AgentHost) -> Agent: ...


@dataclass
class _Area:
    name: str
    contribute: Contributor | None
    observe: Callable[[World, "DataPlane", float], None] | None


def _load_areas() -> list[_Area]:
    areas = []
    for module in AREAS:
        name = module.__name__.rsplit(".", 1)[-1]
        areas.append(_Area(name, getattr(module, "contribute", None), getattr(module, "observe", None)))
    return areas


def unavailable_reason() -> str | None:
    """Why this process cannot run the data plane (make namespaces, confine instances),
    or None if it can: one line saying what is missing and how to get it."""
    return namespaces_unavailable() or confinement.unavailable_reason()


def namespaces_unavailable() -> str | None:
    """Why this process cannot make namespaces, or None if it can.

    It is tried for real: the libraries and programs it uses must load and run
    (dependencies.py), and a namespace is made, holds an nftables table and is removed.
    """
    if os.name != "posix" or not Path("/proc/self/ns/net").exists():
        return "not Linux"
    if os.geteuid() != 0:
        return "not running as root (namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    lines = dependencies.missing(dependencies.DATA_PLANE)
    if lines:
        return "; ".join(lines)
    probe = f"vlprobe-{os.getpid()}"
    try:
        netns.create(probe)
    except Exception as exc:  # any failure means: no data plane here
        return f"cannot create a network namespace ({exc})"
    try:
        netns.run_in(probe, _nftables_works, probe)
    except Exception as exc:
        return f"nftables does not work in a new namespace ({str(exc).strip() or type(exc).__name__})"
    finally:
        try:
            netns.delete(probe)
        except Exception as exc:
            log.warning("removing the probe namespace %s: %s", probe, exc)
    return None


def _nftables_works(namespace: str) -> None:
    """Add and delete a table inside the probe namespace (kernel nf_tables support)."""
    ctx = NftContext(namespace)
    ctx.run("add table inet vlprobe")
    ctx.run("delete table inet vlprobe")


class DataPlane:
    def __init__(self, store: Store, state_dir: Path, backend: Backend | None = None):
        self.store = store
        self.state_dir = state_dir
        self.prefix = naming.prefix_for_state_dir(state_dir)
        self.backend = backend or Backend.linux(self.prefix)
        self.areas = _load_areas()
        self.agents: list[Agent] = []
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: str | None = None
        self.passes = 0
        self.full_passes = 0  # of `passes`, those that read every namespace
        self.converged = threading.Event()  # set after each successful pass
        self._next_full = 0.0  # monotonic time of the next full pass (the first one is)
        self.full_period = full_period()
        # The API, for requests through endpoints to vpclab's services (`agents/service_api`):
        # the server sets it once its gateway exists.
        self.api: service_api.Api | None = None

    # Life cycle ---------------------------------------------------------------------
    def start(self) -> None:
        for module in AGENT_MODULES:
            self.agents.append(module.make_agent(self))
        self.store.subscribe(lambda _changed: self._dirty.set())
        self._dirty.set()
        self._thread = threading.Thread(target=self._loop, name="vpclab-dataplane", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop reconciling; what is in the kernel stays (a restart picks it up)."""
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        for agent in self.agents:
            try:
                agent.close()
            except Exception:
                log.exception("closing agent %s", type(agent).__name__)
        self.backend.close()

    def poke(self) -> None:
        """Ask for a pass soon (an agent saw something change)."""
        self._dirty.set()

    # The loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(PERIOD)
            if self._stop.is_set():
                break
            self._dirty.clear()
            try:
                self.reconcile_once()
                self._last_error = None
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:
                    log.exception("data plane pass failed")
                    self._last_error = message
                time.sleep(0.2)

    def reconcile_once(self) -> None:
        self.converged.clear()
        world = World.snapshot(self.store)
        plan = build_plan(world, self.prefix,
                          [a.contribute for a in self.areas if a.contribute is not None])
        # Other passes are change passes: the backend reads only namespaces whose desired
        # state changed or that are missing/made again (backend.py, "Cost").
        full = time.monotonic() >= self._next_full
        if full:
            self._next_full = time.monotonic() + self.full_period
        self.backend.apply(plan, full=full)
        for agent in self.agents:
            agent.sync(world)
        now = time.time()
        for area in self.areas:
            if area.observe is not None:
                area.observe(world, self, now)
        self.passes += 1
        self.full_passes += int(full)
        self.converged.set()

    def counters(self) -> dict[str, int]:
        """Passes ended so far, for the health endpoint: a test waits for passes that began
        after its change instead of sleeping."""
        return {"passes": self.passes, "full_passes": self.full_passes}

    def traffic(self) -> dict[str, dict[str, dict[str, int]]]:
        """What each endpoint and NLB listener carried so far, read from the count tables
        (`endpoints.traffic`): ``{"endpoints": {id: {...}}, "listeners": {arn: {...}}}``,
        each ``{"connections", "packets", "bytes"}``. Safe from any thread: the reads run
        on the namespaces' own threads. Empty with a kernel that keeps no counters (fake)."""
        nft_call = getattr(self.backend.kernel, "nft_call", None)  # LinuxKernel's
        out: dict[str, dict[str, dict[str, int]]] = {"endpoints": {}, "listeners": {}}
        if nft_call is None:
            return out
        table = naming.table_name(self.prefix, COUNT_TABLE)
        present = self.backend.kernel.namespaces()

        def read(ns: str) -> dict[str, Count]:
            if ns not in present:
                return {}
            try:
                found: dict[str, Count] = nft_call(ns, lambda ctx: ctx.counters("ip", table))
                return found
            except Exception as exc:  # the namespace went away meanwhile
                log.debug("reading counters in %s: %s", ns, exc)
                return {}

        world = World.snapshot(self.store)
        for owner, t in endpoints.traffic(world, self.prefix, read).items():
            kind = "endpoints" if owner.startswith("vpce-") else "listeners"
            out[kind][owner] = {"connections": t.connections, "packets": t.packets, "bytes": t.bytes}
        return out
