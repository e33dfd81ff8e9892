"""How long the console takes to show a page with 1, 100 and 1,000 resources in the account.

    python benchmarks/console.py [--sizes 1,100,1000] [--repeat 3] [--pages instances,endpoints,...]

Starts a control-plane `vpclab server` (temporary state directory, free port), fills one
account with boto3 as a user's code would (instances; interface endpoints to one
service of another account, whose Endpoint connections tab then lists them), and opens the
console in Debian's chromium (playwright). Per size and page it times, from the moment the
page's address is opened (a full load) to the moment its table holds every row: the AWS
calls through the console's API (botocore serializer, Gateway, parser), the JSON to the
page, and building the table. Each figure is the median of `--repeat` loads. Target
(issue 12): under 0.5 s for each page at 1,000 on this machine.

Sizes grow in place (1 -> 100 -> 1,000). The server is stopped (by its pid) and the state
directory removed at the end, also on error.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _harness import free_port  # benchmarks/_harness.py (puts the repository on sys.path)

from tests.helpers.server import ServerProcess

PROVIDER, CONSUMER, REGION = "111111111111", "222222222222", "ap-south-1"
TARGET = 0.5


def default_vpc(ec2) -> tuple[str, str]:
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    return vpc, subnet


class Filler:
    """Grows the consumer account to a size: instances, and endpoints to the provider's service."""

    def __init__(self, srv: ServerProcess):
        self.ec2 = srv.client("ec2", CONSUMER)
        self.vpc, self.subnet = default_vpc(self.ec2)
        self.image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        provider, elb = srv.client("ec2", PROVIDER), srv.client("elbv2", PROVIDER)
        _, p_subnet = default_vpc(provider)
        lb = elb.create_load_balancer(Name="bench", Type="network", Scheme="internal",
                                      Subnets=[p_subnet])["LoadBalancers"][0]
        svc = provider.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[lb["LoadBalancerArn"]], AcceptanceRequired=True)["ServiceConfiguration"]
        provider.modify_vpc_endpoint_service_permissions(
            ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER}:root"])
        self.service_id, self.service_name = svc["ServiceId"], svc["ServiceName"]
        self.instances = self.endpoints = 0

    def grow(self, size: int) -> None:
        while self.instances < size:
            n = min(100, size - self.instances)
            self.ec2.run_instances(ImageId=self.image, InstanceType="t3.micro", MinCount=n, MaxCount=n,
                                   SubnetId=self.subnet)
            self.instances += n
        while self.endpoints < size:
            self.ec2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=self.vpc, ServiceName=self.service_name,
                                         SubnetIds=[self.subnet])
            self.endpoints += 1


#: (what, account, hash, tab to open or None, table label)
PAGES = [
    ("instances", CONSUMER, "#/ec2/instances", None, "Instances"),
    ("endpoints", CONSUMER, "#/vpc/endpoints", None, "Endpoints"),
    ("endpoint connections", PROVIDER, "#/vpc/endpoint-services/{service}", "Endpoint connections",
     "Endpoint connections"),
]


def load_seconds(page, srv: ServerProcess, account: str, hash_: str, tab: str | None, label: str, rows: int) -> float:
    """Seconds from opening the page's address (a full load: the page, its modules, the
    session, the AWS calls) to its table holding `rows` rows."""
    page.evaluate("([a]) => sessionStorage.setItem('vpclab.account', a)", [account])
    page.goto("about:blank")  # so the next address is a full load, not a same-page hash change
    started = time.perf_counter()
    page.goto(srv.url + "/console/" + hash_)
    if tab is not None:
        page.get_by_role("tab", name=tab).click()
    page.wait_for_function(
        "([label, rows]) => { const t = document.querySelector(`table[aria-label=\"${label}\"]`);"
        " return t && t.tBodies[0] && t.tBodies[0].rows.length >= rows"
        " && !t.tBodies[0].querySelector('td.empty'); }", arg=[label, rows], timeout=60000)
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,100,1000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pages", default=",".join(p[0] for p in PAGES), help="which of the pages, comma-separated")
    args = ap.parse_args()
    pages = [p for p in PAGES if p[0] in args.pages.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    chromium = shutil.which("chromium")
    if chromium is None:
        print("benchmarks/console.py needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="vpclab-console-bench-"))
    srv = ServerProcess(tmp / "state", free_port())
    results: dict[tuple[str, int], float] = {}
    try:
        srv.start()
        filler = Filler(srv)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(srv.url + "/console/")
            page.evaluate("() => { sessionStorage.setItem('vpclab.region', 'ap-south-1');"
                          " sessionStorage.setItem('vpclab.guide', 'closed'); }")
            for size in sizes:
                t0 = time.perf_counter()
                filler.grow(size)
                print(f"size {size}: filled in {time.perf_counter() - t0:.1f} s", flush=True)
                for what, account, hash_, tab, label in pages:
                    h = hash_.format(service=filler.service_id)
                    times = [load_seconds(page, srv, account, h, tab, label, size) for _ in range(args.repeat)]
                    results[(what, size)] = statistics.median(times)
                    print(f"  {what:22s} {results[(what, size)]:.3f} s  (runs: "
                          + ", ".join(f"{t:.3f}" for t in times) + ")", flush=True)
            browser.close()
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'page':22s} " + " ".join(f"{s:>8d}" for s in sizes) + "   target at 1,000")
    ok = True
    for what, *_ in pages:
        row = [results[(what, s)] for s in sizes]
        big = results.get((what, 1000))
        verdict = "" if big is None else ("met" if big < TARGET else "MISSED")
        ok = ok and verdict != "MISSED"
        print(f"{what:22s} " + " ".join(f"{t:8.3f}" for t in row) + f"   < {TARGET} s {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
