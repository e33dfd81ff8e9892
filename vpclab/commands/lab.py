"""`vpclab lab privatelink`: the seed lab, end to end, on the embedded defaults."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.panel import Panel

from .options import fail, resolve_state_dir, state_dir_option

lab_app = typer.Typer(help="Guided labs run through the AWS APIs against vpclab.", no_args_is_help=True)


@lab_app.command("privatelink")
def privatelink(
    state_dir: Optional[Path] = state_dir_option(),
    endpoint_url: Optional[str] = typer.Option(
        None, "--endpoint-url", help="Use a running vpclab (its --state-dir must be given too) "
                                     "instead of starting one."),
    keep: bool = typer.Option(False, "--keep", help="Stop before cleanup and show how to explore."),
    cleanup: bool = typer.Option(False, "--cleanup", help="Remove what a --keep run left, then stop."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON (for CI)."),
) -> None:
    """Run the PrivateLink lab end to end (the seed's steps, two accounts).

    nginx behind an NLB in account 1, reached from account 2 through an interface
    endpoint, then cleaned up.
    """
    from ..lab.embedded import ensure_server
    from ..lab.privatelink import LabState, PrivateLinkLab
    from ..lab.steps import LabFailed, Recorder
    from .down import tear_down

    sd = resolve_state_dir(state_dir)
    console = None if as_json else Console()
    started = time.monotonic()
    rec = Recorder(console, started)
    try:
        server = None
        if endpoint_url is None:
            server = ensure_server(sd)
            url = server.url
            if not server.dataplane:
                fail(f"the vpclab server on {sd} runs without a data plane (see {sd / 'server.log'}); "
                     "the lab needs one: run as root on Linux")
        else:
            url = endpoint_url
    except RuntimeError as exc:
        fail(str(exc))
    if console:
        console.print(Panel.fit(f"vpclab PrivateLink lab  ·  {url}  ·  state {sd}\n"
                                "account 1 = 111111111111 (provider), account 2 = 222222222222 (consumer), "
                                "region ap-south-1", style="bold"))
    lab = PrivateLinkLab(url, sd, rec)
    outcome = "ok"
    failed = None
    try:
        if cleanup:
            kept = LabState.load(sd)
            if kept is None:
                fail(f"no kept lab run in {sd}")
            lab.s = kept
            lab.cleanup()
        else:
            lab.provider()
            lab.consumer()
            if keep:
                outcome = "kept"
            else:
                lab.cleanup()
        if not keep and (cleanup or (server is not None and server.started_here)):
            with rec.step("Step 3.8", "vpclab down: no namespace or process left", "vpclab down") as r:
                result = tear_down(sd)
                _check_kernel_clean(sd)
                r.ids = {"namespaces": str(result["namespaces"]), "processes": str(result["processes"])}
            (sd / "lab-privatelink.json").unlink(missing_ok=True)
    except LabFailed as exc:
        outcome = "failed"
        failed = exc.record
    total = round(time.monotonic() - started, 2)
    if as_json:
        print(json.dumps({
            "lab": "privatelink", "outcome": outcome, "seconds": total, "endpoint_url": url,
            "state_dir": str(sd), "steps": [r.as_json() for r in rec.records],
            "curl_output": lab.s.curl_output, "failed_step": failed.step if failed else None,
        }, indent=2))
    else:
        console.print()
        console.print(rec.summary())
        if lab.s.curl_output and not cleanup:
            console.print(Panel(lab.s.curl_output.strip(), title=f"curl {lab.s.endpoint_dns}",
                                subtitle="from account2-ec2, through PrivateLink"))
        if failed:
            console.print(f"[red bold]{failed.step} failed:[/] {failed.detail}")
            console.print(f"Resources are left for inspection; remove them with "
                          f"[bold]vpclab lab privatelink --cleanup --state-dir {sd}[/].")
        elif outcome == "kept":
            _explore(console, lab, sd, url)
        console.print(f"[bold]lab finished in {total:.1f} s[/] ({outcome})")
    if outcome == "failed":
        raise typer.Exit(1)


def _check_kernel_clean(state_dir: Path) -> None:
    from ..dataplane import naming, netns

    left = netns.list_namespaces(naming.prefix_for_state_dir(state_dir))
    if left:
        raise RuntimeError(f"namespaces left: {left}")


def _explore(console: Console, lab, sd: Path, url: str) -> None:
    """Commands to explore a kept lab, one a line and unwrapped, so they can be copied."""
    s = lab.s
    env2 = "AWS_ACCESS_KEY_ID=222222222222 AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=ap-south-1"
    env1 = env2.replace("222222222222", "111111111111")
    console.print("[bold]Explore the kept lab:[/]")
    for line in (
        f"vpclab ssh account2-ec2 --state-dir {sd}",
        f"vpclab exec account2-ec2 --state-dir {sd} -- curl -s http://{s.endpoint_dns}/",
        f"{env2} aws --endpoint-url {url} ec2 describe-vpc-endpoints --vpc-endpoint-ids {s.endpoint_id}",
        f"{env1} aws --endpoint-url {url} ec2 describe-vpc-endpoint-connections "
        f"--filters Name=service-id,Values={s.service_id}",
        f"vpclab lab privatelink --cleanup --state-dir {sd}",
    ):
        console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
