"""What a new user meets in the first hour: every CLI error is one line, a missing
dependency names itself at once (libnftables, nginx, curl), `vpclab` is on PATH after
`./run.sh lab`, `--version`, awslocal, RunInstances' default instance type.

Missing dependencies are simulated for real: the command runs in a private mount
namespace (`unshare --mount`, private propagation, so nothing leaks to the host) with an
empty file bound over the library or program.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.server import ServerProcess, free_port

REPO = Path(__file__).resolve().parent.parent
VPCLAB = [sys.executable, "-m", "vpclab.cli"]


def vpclab(*args: str, timeout: float = 60, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*VPCLAB, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env} if env else None)


def one_line(text: str) -> str:
    """The one non-empty line of `text` (and no traceback)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def hidden(paths: list[str], argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `argv` in a private mount namespace where each of `paths` is an empty file."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and util-linux unshare")
    empty = tempfile.NamedTemporaryFile(prefix="vpclab-empty-", delete=False)
    empty.close()
    binds = " && ".join(f'mount --bind {empty.name} "{p}"' for p in paths)
    script = f'{binds} && exec "$@"'
    try:
        return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv],
                              capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(empty.name)


def libnftables_path() -> str:
    for pattern in ("/usr/lib/*/libnftables.so.1", "/lib/*/libnftables.so.1", "/usr/lib/libnftables.so.1"):
        found = glob.glob(pattern)
        if found:
            return os.path.realpath(found[0])
    pytest.skip("libnftables is not installed here")


# -- missing data-plane and lab dependencies ------------------------------------------------

def test_missing_libnftables_is_one_line_at_start_and_in_status_and_the_lab_fails_at_once(tmp_path):
    """The server says what is missing and how to install it, once and at once; status
    says `data plane off: …`; the lab fails at once with that line and stops its server."""
    state_dir = tmp_path / "state"
    port = free_port()
    script = (f'{shlex_join(VPCLAB)} server --port {port} --state-dir {state_dir} > {tmp_path}/server.out 2>&1 & '
              f'for i in $(seq 100); do grep -q "vpclab ready" {tmp_path}/server.out && break; sleep 0.1; done; '
              f'{shlex_join(VPCLAB)} status --state-dir {state_dir}; kill $!; wait $!')
    t0 = time.monotonic()
    result = hidden([libnftables_path()], ["sh", "-c", script])
    took = time.monotonic() - t0
    out = (tmp_path / "server.out").read_text()
    assert "Traceback" not in out, out
    off = [line for line in out.splitlines() if "data plane off" in line]
    assert len(off) == 1, out
    assert "libnftables is missing" in off[0] and "apt-get install libnftables1" in off[0], off
    assert took < 30, took
    assert "data plane off: libnftables is missing" in result.stdout, result.stdout + result.stderr

    lab_dir = tmp_path / "lab"
    t0 = time.monotonic()
    lab = hidden([libnftables_path()], [*VPCLAB, "lab", "privatelink", "--state-dir", str(lab_dir)])
    took = time.monotonic() - t0
    assert lab.returncode != 0
    line = one_line(lab.stderr)
    assert "data plane" in line and "libnftables is missing" in line and "apt-get install libnftables1" in line
    assert "stopped the server it started" in line
    assert took < 30, took
    assert not (lab_dir / "server.json").exists()


def shlex_join(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)


@pytest.mark.parametrize("program,package", [("nginx", "nginx"), ("curl", "curl")])
def test_lab_without_nginx_or_curl_names_it_at_once(tmp_path, program, package):
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed here")
    state_dir = tmp_path / "lab"
    t0 = time.monotonic()
    lab = hidden([os.path.realpath(path)], [*VPCLAB, "lab", "privatelink", "--state-dir", str(state_dir)])
    assert lab.returncode != 0
    line = one_line(lab.stderr)
    assert f"{program} is missing" in line and f"apt-get install {package}" in line, line
    assert time.monotonic() - t0 < 20
    assert not (state_dir / "server.json").exists()  # no server was started


def test_dependency_probes_run_the_program():
    """A program that exists but cannot run counts as missing (here: `false`, which exits 1)."""
    from vpclab.kernel.dependencies import Dependency, _program

    broken = Dependency("false", "coreutils", _program("false"))
    assert "exited with 1" in broken.missing() and "apt-get install coreutils" in broken.missing()
    assert Dependency("true", "coreutils", _program("true")).missing() is None
    absent = Dependency("no-such-program", "nope", _program("vpclab-no-such-program"))
    assert "no `vpclab-no-such-program` on PATH" in absent.missing()


# -- the lab against an --endpoint-url where nothing listens ---------------------------------

def test_lab_endpoint_url_with_nothing_listening(tmp_path):
    port = free_port()
    t0 = time.monotonic()
    lab = vpclab("lab", "privatelink", "--state-dir", str(tmp_path / "s"), "--endpoint-url",
                 f"http://127.0.0.1:{port}")
    assert lab.returncode != 0
    line = one_line(lab.stderr)
    assert f"nothing answers at http://127.0.0.1:{port}" in line, line
    assert "left for inspection" not in lab.stdout + lab.stderr
    assert time.monotonic() - t0 < 20


# -- CLI errors are one line -------------------------------------------------------------------

def test_port_in_use_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = vpclab("server", "--no-dataplane", "--port", str(port), "--state-dir", str(tmp_path / "s"))
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert f"port {port} is in use" in line and "--port" in line, line
    assert not (tmp_path / "s" / "server.json").exists()
    assert not (tmp_path / "s" / "state.db").exists()


@pytest.mark.parametrize("where", ["file", "under-a-file", "proc", "proc-child", "read-only"])
def test_unusable_state_directory_is_one_line(tmp_path, where):
    afile = tmp_path / "afile"
    afile.write_text("x")
    state_dir = {"file": afile, "under-a-file": afile / "state", "proc": Path("/proc"),
                 "proc-child": Path("/proc/vpclab-state"), "read-only": tmp_path / "ro"}[where]
    argv = [*VPCLAB, "server", "--no-dataplane", "--port", str(free_port()), "--state-dir", str(state_dir)]
    if where == "read-only":
        state_dir.mkdir()
        if shutil.which("unshare") is None or os.geteuid() != 0:
            pytest.skip("needs root and util-linux unshare")
        result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                 f'mount --bind -o ro "{state_dir}" "{state_dir}" && exec "$@"', "sh", *argv],
                                capture_output=True, text=True, timeout=60)
    else:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    line = one_line(result.stderr)
    assert f"cannot use {state_dir} as a state directory" in line, line
    reason = {"file": "not a directory", "under-a-file": "not a directory", "proc": "on proc",
              "proc-child": "on proc", "read-only": "not writable"}[where]
    assert reason in line, line


def test_status_and_down_on_a_file_are_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for command in ("status", "down", "accounts"):
        result = vpclab(command, "--state-dir", str(afile))
        assert result.returncode != 0, command
        assert "not a directory" in one_line(result.stderr) or "no accounts" in result.stderr


def nobody_python() -> list[str]:
    """A Python that uid 65534 can run with this venv's packages, or skip."""
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv")
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = ["env", f"PYTHONPATH={site}:{REPO}", "HOME=/tmp"]
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    # -S: the venv's packages only (PYTHONPATH), not the system Python's dist-packages,
    # whose older modules (python3-openssl) would print warnings of their own.
    for python in (sys.executable, f"/usr/bin/python{minor}", f"/usr/local/bin/python{minor}"):
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *env, python, "-S"]
        try:
            ok = subprocess.run([*argv, "-c", "import vpclab.cli, typer, rich"], capture_output=True,
                                timeout=30).returncode == 0
        except OSError:
            ok = False
        if ok:
            return argv
    pytest.skip("no Python that uid 65534 can run with this venv's packages")


def test_non_root_down_on_roots_state_is_one_line():
    python = nobody_python()
    top = Path(tempfile.mkdtemp(prefix="vpclab-nonroot-"))
    top.chmod(0o755)  # the state directory must be reachable by uid 65534
    srv = ServerProcess(top / "state", free_port()).start()
    try:
        result = subprocess.run([*python, "-m", "vpclab.cli", "down", "--state-dir", str(srv.state_dir)],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        line = one_line(result.stderr)
        assert "sudo vpclab down" in line and "root" in line, line
        assert srv.proc.poll() is None  # still serving
        assert srv.client("ec2").describe_vpcs()["Vpcs"]
    finally:
        srv.stop()
        shutil.rmtree(top)


# -- vpclab on PATH, --version, awslocal ------------------------------------------------------

def test_version_comes_from_the_package_metadata():
    result = vpclab("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"vpclab {version('vpclab')}"


def test_run_sh_lab_puts_vpclab_on_path(tmp_path):
    """`./run.sh lab` links vpclab into the bin directory (VPCLAB_BIN_DIR here, so the
    machine's /usr/local/bin is left alone)."""
    if not (REPO / ".venv" / "bin" / "vpclab").exists():
        pytest.skip("run.sh has not made .venv here")
    bin_dir = tmp_path / "bin"
    result = subprocess.run(["./run.sh", "lab", "--help"], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "VPCLAB_BIN_DIR": str(bin_dir)})
    assert result.returncode == 0, result.stderr[-2000:]
    link = bin_dir / "vpclab"
    assert link.is_symlink() and link.resolve() == (REPO / ".venv" / "bin" / "vpclab").resolve()
    assert subprocess.run([str(link), "--version"], capture_output=True, text=True,
                          timeout=60).stdout.startswith("vpclab ")


def test_awslocal_works(server):
    awslocal = Path(sys.executable).parent / "awslocal"
    if not awslocal.exists():
        awslocal = shutil.which("awslocal")
    assert awslocal, "awslocal is installed with the test extra (pyproject.toml)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LOCALSTACK_HOST=f"127.0.0.1:{server.port}", AWS_ACCESS_KEY_ID=ACCOUNT_1,
               AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="ap-south-1", AWS_CONFIG_FILE=os.devnull)
    result = subprocess.run([str(awslocal), "ec2", "describe-vpcs", "--output", "json"], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Vpcs"][0]["OwnerId"] == ACCOUNT_1
    assert "deprecated" not in result.stderr


# -- RunInstances without InstanceType ------------------------------------------------------

def test_run_instances_defaults_to_m1_small(ec2):
    image = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "architecture", "Values": ["x86_64"]}])["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
    assert inst["InstanceType"] == "m1.small"
    got = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert got["InstanceType"] == "m1.small"
    assert got["CpuOptions"] == {"CoreCount": 1, "ThreadsPerCore": 1}
    # ...and m1.small can be asked for by name too.
    named = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="m1.small")["Instances"][0]
    assert named["InstanceType"] == "m1.small"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"], named["InstanceId"]])
