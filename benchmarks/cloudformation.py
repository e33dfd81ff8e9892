"""How long `aws cloudformation deploy` of the example stacks takes: the provider stack in
account 1, then the consumer stack in account 2 (examples/cloudformation/).

Run as root:  python3 benchmarks/cloudformation.py [--rounds 3] [--cli both|shipped|fast] [--json]

One command. It starts its own server (temporary state directory, free port, data plane
on) and deploys both stacks with their parameters from each account's default VPC, as the
README's commands do; after each round it deletes them (consumer first) and times that too.

Two ways of running the CLI, because the CLI itself waits: after ExecuteChangeSet its
deploy polls DescribeStacks every 30 s (and DescribeChangeSet every 5 s), and a stack
is never complete at the first poll, made at once after ExecuteChangeSet answers. So:

- `shipped`: the `aws` command as installed, a subprocess; its time is at least 30 s a
  stack whatever the server does.
- `fast`: the same `aws cloudformation deploy` command (awscli's driver, in-process),
  with botocore's waiters polling every 0.1 s: the time a user waits apart from the
  CLI's fixed sleeps. The target is on these figures.

Each stack's own time is also printed: from its first CREATE_IN_PROGRESS event to its
CREATE_COMPLETE event, as the server recorded them.

Target (issue 15): both stacks deployed in under 10 s together (AWS: 5–10 minutes).
At the end, also on error, the server is stopped (by its pid) and `vpclab down` removes
every namespace, process and cgroup of the state directory.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _harness import free_port, start_as_root  # benchmarks/_harness.py (puts the repository on sys.path)

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from tests.helpers.cfn_examples import (
    CONSUMER_STACK, CONSUMER_TEMPLATE, PROVIDER_STACK, PROVIDER_TEMPLATE, deploy_words, network_parameters,
    outputs,
)
from tests.helpers.server import ServerProcess
from tests.test_awscli import run_aws

TARGET_S = 10.0
POLL_S = 0.1
DELETE_WAIT = {"Delay": 0.1, "MaxAttempts": 1200}


@contextlib.contextmanager
def polling_every(seconds: float) -> Iterator[None]:
    """botocore's waiters poll every `seconds`, whatever Delay their caller set (the
    CLI's deploy sets 5 and 30)."""
    import botocore.waiter

    original = botocore.waiter.Waiter.wait

    def wait(self, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["WaiterConfig"] = {"Delay": seconds, "MaxAttempts": int(300 / seconds)}
        return original(self, **kwargs)

    botocore.waiter.Waiter.wait = wait  # type: ignore[method-assign]
    try:
        yield
    finally:
        botocore.waiter.Waiter.wait = original  # type: ignore[method-assign]


def aws_in_process(srv: ServerProcess, words: list[str], account: str) -> None:
    """`aws …` through awscli's own driver in this process, as `account`."""
    from awscli.clidriver import create_clidriver

    saved = dict(os.environ)
    os.environ.update(AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="x", AWS_CONFIG_FILE=os.devnull,
                      AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_MAX_ATTEMPTS="1", AWS_PAGER="")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), polling_every(POLL_S):
            rc = create_clidriver().main(["--endpoint-url", srv.url, "--region", REGION, *words])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if rc != 0:
        raise SystemExit(f"cloudformation.py: aws {' '.join(words[:2])} exited {rc}: {err.getvalue()}{out.getvalue()}")


def stack_seconds(cf, stack: str) -> float:
    """The stack's last create, from its CREATE_IN_PROGRESS event to CREATE_COMPLETE."""
    events = [e for e in cf.describe_stack_events(StackName=stack)["StackEvents"]
              if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    done = next(e["Timestamp"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE")
    began = min(e["Timestamp"] for e in events if e["ResourceStatus"] == "CREATE_IN_PROGRESS")
    return (done - began).total_seconds()


def one_round(srv: ServerProcess, how: str) -> dict[str, float]:
    """Deploy both stacks (`how`: shipped or fast), then delete them, consumer first."""
    ec2_1, ec2_2 = srv.client("ec2", ACCOUNT_1), srv.client("ec2", ACCOUNT_2)
    cf_1, cf_2 = srv.client("cloudformation", ACCOUNT_1), srv.client("cloudformation", ACCOUNT_2)

    def deploy(words: list[str], account: str) -> float:
        t0 = time.monotonic()
        if how == "shipped":
            run_aws(srv, *words, account=account)
        else:
            aws_in_process(srv, words, account)
        return time.monotonic() - t0

    provider_s = deploy(deploy_words(PROVIDER_TEMPLATE, PROVIDER_STACK, network_parameters(ec2_1)), ACCOUNT_1)
    service_name = outputs(cf_1, PROVIDER_STACK)["ServiceName"]
    consumer_s = deploy(deploy_words(CONSUMER_TEMPLATE, CONSUMER_STACK,
                                     {"ServiceName": service_name, **network_parameters(ec2_2)}), ACCOUNT_2)
    figures = {"provider_s": provider_s, "consumer_s": consumer_s, "both_s": provider_s + consumer_s,
               "provider_stack_s": stack_seconds(cf_1, PROVIDER_STACK),
               "consumer_stack_s": stack_seconds(cf_2, CONSUMER_STACK)}
    t0 = time.monotonic()
    cf_2.delete_stack(StackName=CONSUMER_STACK)
    cf_2.get_waiter("stack_delete_complete").wait(StackName=CONSUMER_STACK, WaiterConfig=DELETE_WAIT)
    cf_1.delete_stack(StackName=PROVIDER_STACK)
    cf_1.get_waiter("stack_delete_complete").wait(StackName=PROVIDER_STACK, WaiterConfig=DELETE_WAIT)
    figures["delete_both_s"] = time.monotonic() - t0
    return {k: round(v, 2) for k, v in figures.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds with the fast-polling CLI")
    ap.add_argument("--cli", choices=("both", "shipped", "fast"), default="both")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not start_as_root("cloudformation.py", args.timeout):
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="vpclab-bench-cfn-"))
    srv = ServerProcess(tmp / "state", free_port(), dataplane=True)
    plan = ([("shipped", 1)] if args.cli in ("both", "shipped") else []) + \
           ([("fast", args.rounds)] if args.cli in ("both", "fast") else [])
    results: dict[str, object] = {"target_s": TARGET_S}
    try:
        srv.start()
        for how, rounds in plan:
            runs = []
            for _ in range(rounds):
                runs.append(one_round(srv, how))
                if not args.json:
                    r = runs[-1]
                    print(f"{how:7s} deploy: provider {r['provider_s']:6.2f} s, consumer {r['consumer_s']:6.2f} s, "
                          f"together {r['both_s']:6.2f} s  (the stacks themselves: {r['provider_stack_s']:.2f} s, "
                          f"{r['consumer_stack_s']:.2f} s; delete both {r['delete_both_s']:.2f} s)", flush=True)
            results[how] = runs
        if "fast" in results:
            together = [r["both_s"] for r in results["fast"]]  # type: ignore[attr-defined]
            median = statistics.median(together)
            results["met"] = median < TARGET_S
            if not args.json:
                print(f"target: both stacks deployed in under {TARGET_S:.0f} s: "
                      f"{'met' if median < TARGET_S else 'MISSED'} (median {median:.2f} s of {len(together)})")
        if args.json:
            print(json.dumps(results, indent=2))
        return 0
    finally:
        srv.stop()
        from vpclab.commands.down import tear_down
        tear_down(srv.state_dir)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
