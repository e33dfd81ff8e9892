"""What vpclab costs a test suite: `vpclab.testing.lab()` start-up, a fresh account per
test (`vpclab_account`), and the example project's whole suite.

    python3 benchmarks/testing.py [--rounds 10] [--accounts 50] [--json]

One command; it prints one table. As root it measures with the data plane too, and runs
the example suite both as root and as an unprivileged user in a user namespace (control
plane only, as the README's "without root" says); otherwise the control plane alone.

- lab() start-up: from calling `lab()` to the block starting (the server listens,
  `server.json` says ready). "first" is a new interpreter's first lab, vpclab's imports
  included (what the `vpclab` fixture costs a test run once): the median of `--rounds`
  fresh processes; "again" a later lab in the same process (the median of `--rounds`).
  Exit (stop, `tear_down`, the directory removed) is timed alongside.
- a fresh account: `new_account()` and the account's first request (DescribeVpcs, which
  makes its default VPC: three subnets, a security group, its route table), against a
  request of the same kind in an account already in use; the median over `--accounts`.
- the example suite: `python -m pytest` in examples/pytest, wall time of the process.

Targets (issue 17): lab() < 1 s control plane only, < 2 s with the data plane; a new
account < 10 ms. Everything a lab makes is removed by the lab itself on exit.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pytest"
UNPRIVILEGED = ("unshare", "--user", "--map-user=1000", "--map-group=1000")

TARGET_START_S = {False: 1.0, True: 2.0}
TARGET_ACCOUNT_MS = 10.0


def _first_lab(dataplane: bool) -> dict[str, float]:
    """In this (new) interpreter: one lab, from before vpclab's import to the block."""
    t0 = time.monotonic()
    from vpclab.testing import lab

    with lab(dataplane=dataplane) as running:
        up = time.monotonic() - t0
        assert running.dataplane == dataplane, running.dataplane_off
        t1 = time.monotonic()
    return {"start_s": up, "exit_s": time.monotonic() - t1}


def first_labs(dataplane: bool, rounds: int) -> list[dict[str, float]]:
    out = []
    for _ in range(rounds):
        proc = subprocess.run([sys.executable, __file__, "--first", "on" if dataplane else "off"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        if proc.returncode != 0:
            raise SystemExit(f"the first-lab probe failed: {proc.stderr[-2000:]}")
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def later_labs(dataplane: bool, rounds: int) -> list[dict[str, float]]:
    from vpclab.testing import lab

    with lab(dataplane=dataplane):  # imports and the first lab's one-time costs
        pass
    out = []
    for _ in range(rounds):
        t0 = time.monotonic()
        with lab(dataplane=dataplane) as running:
            up = time.monotonic() - t0
            assert running.dataplane == dataplane, running.dataplane_off
            t1 = time.monotonic()
        out.append({"start_s": up, "exit_s": time.monotonic() - t1})
    return out


def account_costs(dataplane: bool, accounts: int) -> dict[str, float]:
    """Milliseconds: a fresh account (its id and its first request, which makes its
    default VPC) against the same request in an account already in use; and making a
    client (`Lab.client`), which a test pays whatever its account."""
    from vpclab.testing import lab

    fresh, used, clients = [], [], []
    with lab(dataplane=dataplane) as running:
        running.client("ec2", running.new_account()).describe_vpcs()
        for _ in range(accounts):
            t0 = time.perf_counter()
            account = running.new_account()
            t1 = time.perf_counter()
            ec2 = running.client("ec2", account)
            t2 = time.perf_counter()
            ec2.describe_vpcs()
            t3 = time.perf_counter()
            ec2.describe_vpcs()
            t4 = time.perf_counter()
            fresh.append((t1 - t0 + t3 - t2) * 1000)
            used.append((t4 - t3) * 1000)
            clients.append((t2 - t1) * 1000)
    return {"fresh_ms": statistics.median(fresh), "fresh_p90_ms": sorted(fresh)[int(len(fresh) * 0.9)],
            "used_ms": statistics.median(used), "client_ms": statistics.median(clients)}


def example_suite(launcher: tuple[str, ...] = ()) -> dict[str, object]:
    t0 = time.monotonic()
    proc = subprocess.run([*launcher, sys.executable, "-m", "pytest", "-q"], cwd=EXAMPLE, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    wall = time.monotonic() - t0
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0:
        raise SystemExit(f"the example suite failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return {"wall_s": wall, "summary": summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--first", choices=("on", "off"), help=argparse.SUPPRESS)  # the probe of first_labs
    args = parser.parse_args()
    if args.first:
        print(json.dumps(_first_lab(args.first == "on")))
        return
    if args.json:  # the servers' one-line notices go to stderr, the figures alone to stdout
        with contextlib.redirect_stdout(sys.stderr):
            figures, rows = measure(args)
        print(json.dumps(figures, indent=2))
        return
    figures, rows = measure(args)
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  value  (target)")
    for label, value, target in rows:
        print(f"{label:<{width}}  {value}" + (f"  ({target})" if target else ""))


def measure(args: argparse.Namespace) -> tuple[dict[str, object], list[tuple[str, str, str]]]:
    root = os.geteuid() == 0
    modes = [False, True] if root else [False]
    rows: list[tuple[str, str, str]] = []
    figures: dict[str, object] = {}
    for dataplane in modes:
        name = "data plane" if dataplane else "control plane only"
        first = first_labs(dataplane, args.rounds)
        later = later_labs(dataplane, args.rounds)
        costs = account_costs(dataplane, args.accounts)
        figures[name] = {"first": first, "again": later, "account": costs}
        first_s = statistics.median(r["start_s"] for r in first)
        again_s = statistics.median(r["start_s"] for r in later)
        exit_s = statistics.median(r["exit_s"] for r in later)
        target = TARGET_START_S[dataplane]
        rows.append((f"lab() start-up, {name}: first in a process / again",
                     f"{first_s:.2f} s (max {max(r['start_s'] for r in first):.2f}) / {again_s:.2f} s; "
                     f"exit {exit_s:.2f} s", f"< {target:g} s {'met' if first_s < target else 'MISSED'}"))
        extra = costs["fresh_ms"] - costs["used_ms"]
        rows.append((f"a fresh account, {name}: first request / in a used account (extra)",
                     f"{costs['fresh_ms']:.1f} ms (p90 {costs['fresh_p90_ms']:.1f}) / {costs['used_ms']:.1f} ms "
                     f"({extra:+.1f} ms)",
                     f"< {TARGET_ACCOUNT_MS:g} ms {'met' if extra < TARGET_ACCOUNT_MS else 'MISSED'}"))
        rows.append((f"a client for it (Lab.client), {name}", f"{costs['client_ms']:.1f} ms", ""))
    suites: list[tuple[str, tuple[str, ...]]] = [("as root" if root else f"as uid {os.geteuid()}", ())]
    if root and shutil.which("unshare"):
        suites.append(("as an unprivileged user (user namespace)", UNPRIVILEGED))
    for who, launcher in suites:
        result = example_suite(launcher)
        figures[f"example suite {who}"] = result
        rows.append((f"examples/pytest suite {who}", f"{result['wall_s']:.1f} s ({result['summary']})", ""))
    return figures, rows


if __name__ == "__main__":
    main()
