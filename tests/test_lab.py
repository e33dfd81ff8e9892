"""`vpclab lab privatelink`: the seed lab end to end as a user runs it, and what it leaves.

Runs the real command as a subprocess (its own embedded server and state directory),
then checks every step, the curl output, and that no namespace, process or resource of
that state directory is left.
"""
import json

import pytest

from tests.helpers.lab import processes_of, run_lab
from tests.helpers.server import ServerProcess, free_port
from vpclab.kernel import naming, netns
from vpclab.lab.privatelink import open_in_browser_tab
from vpclab.model.internet import host_address

pytestmark = pytest.mark.netns

EXPECTED_STEPS = [
    "Step 1.2", "Step 1.3", "Step 1.4", "Step 1.7", "Step 1.8", "Step 1.10", "Step 1.11", "Step 1.12",
    "Step 1.13", "Step 1.17", "Step 2.1", "Step 2.5", "Step 2.7", "Step 2.8", "Step 2.9", "Step 2.10",
    "Step 2.11", "Step 2.12", "Step 2.15", "Step 3.0", "Step 3.1", "Step 3.2", "Step 3.3", "Step 3.4", "Step 3.5",
    "Step 3.6", "Step 3.7", "Step 3.8",
]


def test_lab_runs_end_to_end_and_leaves_nothing(tmp_path):
    state_dir = tmp_path / "lab"
    try:
        result = run_lab(state_dir, "--json")
        assert result.returncode == 0, result.stderr + result.stdout[-3000:]
        report = json.loads(result.stdout)
        assert report["outcome"] == "ok"
        steps = {s["step"]: s for s in report["steps"]}
        assert list(steps) == EXPECTED_STEPS
        for name, step in steps.items():
            expected = "expected-error" if name == "Step 2.5" else "ok"
            assert step["outcome"] == expected, step
        assert steps["Step 2.5"]["detail"].startswith("InvalidServiceName")
        assert steps["Step 2.10"]["ids"]["state"] == "pendingAcceptance"
        assert steps["Step 2.12"]["ids"]["state"] == "available"
        assert "<title>Welcome to nginx!</title>" in report["curl_output"]
        assert steps["Step 2.9"]["ids"]["endpoint"].startswith("vpce-")
        # Steps 1.4 and 1.13: the seed's browser tabs, from this machine at the host mapping.
        public_ip = steps["Step 1.4"]["ids"]["public_ip"]
        assert steps["Step 1.4"]["ids"]["url"] == f"http://{host_address(public_ip)}/"
        assert steps["Step 1.4"]["detail"] == (
            f"Public IPv4 address {public_ip} — open http://{host_address(public_ip)}/: Welcome to nginx!")
        assert steps["Step 1.13"]["ids"]["url"].startswith(("http://127.18.", "http://127.19."))
        assert steps["Step 1.13"]["detail"].endswith("Welcome to nginx!")
        print(f"lab took {report['seconds']} s")
        # Nothing left: no namespace of the state directory, no process, no server.
        assert netns.list_namespaces(naming.prefix_for_state_dir(state_dir)) == []
        assert processes_of(state_dir) == []
        assert not (state_dir / "server.json").exists()
    finally:
        from vpclab.commands.down import tear_down

        tear_down(state_dir)


def test_lab_failure_names_the_step_and_keeps_resources(tmp_path):
    """A lab pointed at a server without a data plane fails in one clear line."""
    state_dir = tmp_path / "cp"
    srv = ServerProcess(state_dir, free_port(), dataplane=False).start()
    try:
        result = run_lab(state_dir)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr + result.stdout
        assert "data plane" in result.stderr
    finally:
        srv.stop()


def test_a_browser_tab_whose_page_does_not_come_fails_in_one_clear_line():
    """Steps 1.4 and 1.13 name the address they opened and why nothing came."""
    port = free_port()  # nothing listens there
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(RuntimeError) as err:
        open_in_browser_tab([url], 0.5, "the public address 198.18.1.7 of i-1")
    text = str(err.value)
    assert text.startswith(f"no nginx page from this machine at {url} (the public address 198.18.1.7 of i-1)")
    assert "refused" in text.lower()
