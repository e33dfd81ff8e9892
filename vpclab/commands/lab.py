"""`vpclab lab privatelink`: the seed lab, end to end, on the embedded defaults."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.panel import Panel

from ..console.paths import PREFIX
from .options import fail, resolve_state_dir, state_dir_option

if TYPE_CHECKING:
    from ..lab.embedded import Server
    from ..lab.privatelink import PrivateLinkLab

lab_app = typer.Typer(help="Guided labs run through the AWS APIs against vpclab.", no_args_is_help=True)


@lab_app.command("privatelink")
def privatelink(
    state_dir: Optional[Path] = state_dir_option(),
    endpoint_url: Optional[str] = typer.Option(
        None, "--endpoint-url", help="Use a running vpclab (its --state-dir must be given too) "
                                     "instead of starting one."),
    keep: bool = typer.Option(False, "--keep", help="Stop before cleanup and show how to explore."),
    cleanup: bool = typer.Option(False, "--cleanup", help="Remove what earlier runs made (found by the "
                                                          "lab's tags), then stop the lab's server."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON (for CI)."),
) -> None:
    """Run the PrivateLink lab end to end (the seed's steps, two accounts).

    nginx behind an NLB in account 1, reached from account 2 through an interface
    endpoint, then cleaned up. Everything it makes carries the tags vpclab:lab=privatelink
    and vpclab:lab-run=<run>; cleanup removes only what carries them.
    """
    from ..kernel import dependencies
    from ..lab.embedded import LabServerError, attach, ensure_server, forget_lab_server, started_by_lab
    from ..lab.privatelink import RECORD_FILE, PrivateLinkLab
    from ..lab.steps import LabFailed, Recorder
    from .down import tear_down

    sd = resolve_state_dir(state_dir)
    if keep and cleanup:
        fail("--keep and --cleanup exclude each other")
    if not cleanup:
        # What the lab's instances run; the host's programs are theirs (shared file system).
        missing = dependencies.missing(dependencies.LAB)
        if missing:
            fail("; ".join(missing) + " (the lab's instances run nginx and curl)")
    try:
        server = ensure_server(sd) if endpoint_url is None else attach(endpoint_url, sd)
    except LabServerError as exc:
        fail(str(exc))
    url = server.url
    if not server.dataplane and not cleanup:
        stopped = ""
        if server.started_here:
            tear_down(sd)
            forget_lab_server(sd)
            stopped = " (the lab stopped the server it started)"
        fail(f"the lab needs the data plane, and it is off: {server.dataplane_off or 'see ' + str(sd / 'server.log')}"
             f"{stopped}")
    # The server is the lab's to stop if this run started it, or (for --cleanup) an earlier
    # run did and left it running.
    earlier = started_by_lab(sd, server.pid) and not server.started_here
    lab_server = server.started_here or (cleanup and earlier)
    console = None if as_json else Console()
    started = time.monotonic()
    rec = Recorder(console, started)
    if console:
        console.print(Panel.fit(f"vpclab PrivateLink lab  ·  {url}  ·  state {sd}\n"
                                "account 1 = 111111111111 (provider), account 2 = 222222222222 (consumer), "
                                "region ap-south-1", style="bold"))
    lab = PrivateLinkLab(url, sd, rec)
    outcome = "ok"
    failed = None
    try:
        if cleanup:
            lab.cleanup(run_id=None)
            (sd / RECORD_FILE).unlink(missing_ok=True)
        else:
            lab.save()
            lab.provider()
            lab.consumer()
            if keep:
                outcome = "kept"
            else:
                lab.cleanup(run_id=lab.s.run_id)
                (sd / RECORD_FILE).unlink(missing_ok=True)
        if not keep and lab_server:
            with rec.step("Step 3.8", "vpclab down: no namespace or process left", "vpclab down") as r:
                result = tear_down(sd)
                forget_lab_server(sd)
                _check_kernel_clean(sd)
                r.ids = {"namespaces": str(result["namespaces"]), "processes": str(result["processes"])}
    except LabFailed as exc:
        outcome = "failed"
        failed = exc.record
    total = round(time.monotonic() - started, 2)
    server_running = outcome != "ok" or not lab_server
    after = _after_failure(lab, sd, url, server, lab_server, earlier, cleanup) if failed else []
    if console is None:  # --json
        print(json.dumps({
            "lab": "privatelink", "outcome": outcome, "seconds": total, "endpoint_url": url,
            "state_dir": str(sd), "run_id": lab.s.run_id, "steps": [r.as_json() for r in rec.records],
            "curl_output": lab.s.curl_output, "failed_step": failed.step if failed else None,
            "server": {"pid": server.pid, "started_by_lab": lab_server, "running": server_running},
            "next": after,
        }, indent=2))
    else:
        console.print()
        console.print(rec.summary())
        if lab.s.curl_output and not cleanup:
            console.print(Panel(lab.s.curl_output.strip(), title=f"curl {lab.s.endpoint_dns}",
                                subtitle="from account2-ec2, through PrivateLink"))
        if failed:
            console.print(f"[red bold]{failed.step} failed:[/] {failed.detail}", soft_wrap=True)
            for line in after:
                console.print(line, soft_wrap=True, highlight=False, markup=False)
        elif outcome == "kept":
            _explore(console, lab, sd, url)
        elif not lab_server:
            console.print(_keeps_running(sd, url, server, earlier), soft_wrap=True, highlight=False, markup=False)
        console.print(f"[bold]lab finished in {total:.1f} s[/] ({outcome})")
    if outcome == "failed":
        raise typer.Exit(1)


def _keeps_running(sd: Path, url: str, server: Server, earlier: bool) -> str:
    if earlier:
        return (f"The server at {url} (pid {server.pid}) keeps running: an earlier lab run started it and "
                f"left what it made; `vpclab lab privatelink --cleanup --state-dir {sd}` removes that and "
                "stops it.")
    return f"The server at {url} (pid {server.pid}) keeps running; the lab did not start it."


def _after_failure(lab: PrivateLinkLab, sd: Path, url: str, server: Server, lab_server: bool,
                   earlier: bool, cleanup: bool) -> list[str]:
    """What a failed run left and the commands that remove it, one a line."""
    lines = []
    if cleanup:
        lines.append(f"The lab could not remove everything it made. `vpclab down --state-dir {sd}` stops "
                     f"the server and removes every namespace and process; `rm -rf {sd}` then forgets "
                     "the resources too.")
    elif lab.made_something():
        lines.append(f"What this run made is left for inspection; remove it with "
                     f"`vpclab lab privatelink --cleanup --state-dir {sd}`.")
    if lab_server:
        lines.append(f"The lab's server (pid {server.pid}, {url}) is still running; `vpclab down "
                     f"--state-dir {sd}` stops it and removes every namespace and process.")
    else:
        lines.append(_keeps_running(sd, url, server, earlier))
    return lines


def _check_kernel_clean(state_dir: Path) -> None:
    from ..kernel import naming, netns

    left = netns.list_namespaces(naming.prefix_for_state_dir(state_dir))
    if left:
        raise RuntimeError(f"namespaces left: {left}")


def _explore(console: Console, lab: PrivateLinkLab, sd: Path, url: str) -> None:
    """Commands to explore a kept lab, one a line and unwrapped, so they can be copied."""
    s = lab.s
    env2 = "AWS_ACCESS_KEY_ID=222222222222 AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=ap-south-1"
    env1 = env2.replace("222222222222", "111111111111")
    console.print("[bold]Explore the kept lab:[/]")
    for line in (
        f"{url.rstrip('/')}{PREFIX}    # the console: sign in as 111111111111 or 222222222222",
        f"vpclab ssh {s.consumer_instance} --state-dir {sd}    # account2-ec2",
        f"curl {s.provider_url}    # demo-server-instance: Public IPv4 address {s.provider_public_ip}",
        f"curl {s.load_balancer_url}    # the internet-facing NLB {s.load_balancer_dns}",
        f"vpclab exec --state-dir {sd} {s.consumer_instance} -- curl -s http://{s.endpoint_dns}/",
        f"{env2} aws --endpoint-url {url} ec2 describe-vpc-endpoints --vpc-endpoint-ids {s.endpoint_id}",
        f"{env1} aws --endpoint-url {url} ec2 describe-vpc-endpoint-connections "
        f"--filters Name=service-id,Values={s.service_id}",
        f"vpclab lab privatelink --cleanup --state-dir {sd}",
    ):
        console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(lab_app, name="lab")
