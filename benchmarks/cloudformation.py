"""How long `aws cloudformation deploy` of the example stacks takes: the provider stack in
account 1, then the consumer stack in account 2 (examples/cloudformation/).

Run as root:  python3 benchmarks/cloudformation.py [--rounds 5] [--stack-wait S] [--json]

One command. It starts its own server (temporary state directory, free port, data plane
on) and per round deploys both stacks with the installed `aws` command (a subprocess, as
a user runs it), their parameters from each account's default VPC as the README's
commands pass them, then deletes them (consumer first) and times that too. Each stack's
own time is printed beside: from its first CREATE_IN_PROGRESS event to its
CREATE_COMPLETE event, as the server recorded them.

The CLI's deploy polls DescribeChangeSet every 5 s and then DescribeStacks every 30 s;
vpclab's stack operations answer when they end (up to the server's VPCLAB_STACK_WAIT, 20 s
by default), so the CLI finds its stack complete at the first look. `--stack-wait 0`
starts the server answering at once, as AWS does: each deploy then takes the CLI's 30 s.

Target (issue 15): both stacks deployed in under 10 s together (AWS: 5–10 minutes).
At the end, also on error, the server is stopped (by its pid) and `vpclab down` removes
every namespace, process and cgroup of the state directory.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _harness import free_port, start_as_root  # benchmarks/_harness.py (puts the repository on sys.path)

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.cfn_examples import (
    CONSUMER_STACK, CONSUMER_TEMPLATE, PROVIDER_STACK, PROVIDER_TEMPLATE, deploy_words, network_parameters,
    outputs,
)
from tests.helpers.server import ServerProcess
from tests.test_awscli import run_aws

TARGET_S = 10.0


def stack_seconds(cf, stack: str) -> float:
    """The stack's last create, from its CREATE_IN_PROGRESS event to CREATE_COMPLETE."""
    events = [e for e in cf.describe_stack_events(StackName=stack)["StackEvents"]
              if e["ResourceType"] == "AWS::CloudFormation::Stack"]
    done = next(e["Timestamp"] for e in events if e["ResourceStatus"] == "CREATE_COMPLETE")
    began = min(e["Timestamp"] for e in events if e["ResourceStatus"] == "CREATE_IN_PROGRESS")
    return (done - began).total_seconds()


def one_round(srv: ServerProcess) -> dict[str, float]:
    """Deploy both stacks with the AWS CLI, then delete them, consumer first."""
    ec2_1, ec2_2 = srv.client("ec2", ACCOUNT_1), srv.client("ec2", ACCOUNT_2)
    cf_1, cf_2 = srv.client("cloudformation", ACCOUNT_1), srv.client("cloudformation", ACCOUNT_2)

    def aws(words: list[str], account: str) -> float:
        t0 = time.monotonic()
        run_aws(srv, *words, account=account)
        return time.monotonic() - t0

    provider_s = aws(deploy_words(PROVIDER_TEMPLATE, PROVIDER_STACK, network_parameters(ec2_1)), ACCOUNT_1)
    service_name = outputs(cf_1, PROVIDER_STACK)["ServiceName"]
    consumer_s = aws(deploy_words(CONSUMER_TEMPLATE, CONSUMER_STACK,
                                  {"ServiceName": service_name, **network_parameters(ec2_2)}), ACCOUNT_2)
    figures = {"provider_s": provider_s, "consumer_s": consumer_s, "both_s": provider_s + consumer_s,
               "provider_stack_s": stack_seconds(cf_1, PROVIDER_STACK),
               "consumer_stack_s": stack_seconds(cf_2, CONSUMER_STACK)}
    figures["delete_both_s"] = sum(
        aws(words, account) for words, account in (
            (["cloudformation", "delete-stack", "--stack-name", CONSUMER_STACK], ACCOUNT_2),
            (["cloudformation", "wait", "stack-delete-complete", "--stack-name", CONSUMER_STACK], ACCOUNT_2),
            (["cloudformation", "delete-stack", "--stack-name", PROVIDER_STACK], ACCOUNT_1),
            (["cloudformation", "wait", "stack-delete-complete", "--stack-name", PROVIDER_STACK], ACCOUNT_1)))
    return {k: round(v, 2) for k, v in figures.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--stack-wait", type=float, default=None,
                    help="the server's VPCLAB_STACK_WAIT (0: stack operations answer at once, as on AWS)")
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not start_as_root("cloudformation.py", args.timeout):
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="vpclab-bench-cfn-"))
    env = {"VPCLAB_STACK_WAIT": str(args.stack_wait)} if args.stack_wait is not None else None
    srv = ServerProcess(tmp / "state", free_port(), dataplane=True, env=env)
    results: dict[str, object] = {"target_s": TARGET_S, "stack_wait": args.stack_wait}
    try:
        srv.start()
        runs = []
        for _ in range(args.rounds):
            r = one_round(srv)
            runs.append(r)
            if not args.json:
                print(f"deploy: provider {r['provider_s']:6.2f} s, consumer {r['consumer_s']:6.2f} s, "
                      f"together {r['both_s']:6.2f} s  (the stacks themselves: {r['provider_stack_s']:.2f} s, "
                      f"{r['consumer_stack_s']:.2f} s; delete-stack and wait, both: {r['delete_both_s']:.2f} s)",
                      flush=True)
        results["rounds"] = runs
        median = statistics.median(r["both_s"] for r in runs)
        results["median_both_s"] = median
        results["met"] = median < TARGET_S
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            print(f"target: both stacks deployed in under {TARGET_S:.0f} s: "
                  f"{'met' if median < TARGET_S else 'MISSED'} (median {median:.2f} s of {len(runs)})")
        return 0
    finally:
        srv.stop()
        from vpclab.commands.down import tear_down
        tear_down(srv.state_dir)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
