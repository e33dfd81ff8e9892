"""Instances a data-plane test launches and enters: launch, wait, `vpclab exec`, and what
runs inside. Traffic stays inside namespaces vpclab made: every curl runs in an instance.
"""
from __future__ import annotations

import subprocess
import sys

from vpclab.dataplane.agents.instances import cgroup_of, find_init
from vpclab.kernel import confinement, naming

from .waiting import wait_for

NGINX = "#!/bin/sh\necho user-data-ran-here\nnginx\n"


def image_id(ec2) -> str:
    return ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-ami-2023*"]},
        {"Name": "architecture", "Values": ["x86_64"]}])["Images"][0]["ImageId"]


def launch(ec2, name: str, user_data: str | None = NGINX, **kw) -> dict:
    args = {"ImageId": image_id(ec2), "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}]}
    if user_data is not None:
        args["UserData"] = user_data
    args.update(kw)
    return ec2.run_instances(**args)["Instances"][0]


def describe(ec2, iid: str) -> dict:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def wait_state(ec2, iid: str, state: str, timeout=20.0) -> dict:
    """The instance once it is in `state`."""
    return wait_for(lambda: (lambda i: i if i["State"]["Name"] == state else None)(describe(ec2, iid)),
                    timeout=timeout, interval=0.1, what=f"{iid} {state}")


def vpclab(srv, *args, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    return subprocess.run([sys.executable, "-m", "vpclab.cli", *args], **kw)


def vexec(srv, ref: str, *argv: str, account: str | None = None, **kw) -> subprocess.CompletedProcess:
    opts = ["--state-dir", str(srv.state_dir)] + (["--account", account] if account else [])
    return vpclab(srv, "exec", *opts, ref, "--", *argv, **kw)


def curl_ok(srv, ref: str, url: str) -> str:
    """GET `url` from inside instance `ref` until nginx answers (it starts asynchronously)."""
    def attempt():
        r = vexec(srv, ref, "curl", "-sS", "-m", "3", url)
        return r.stdout if r.returncode == 0 else None
    return wait_for(attempt, timeout=20, interval=0.2, what=f"curl {url} from {ref}")


def namespace(srv, iid: str) -> str:
    return naming.namespace_name(naming.prefix_for_state_dir(srv.state_dir), iid)


def processes(srv, iid: str) -> list[int]:
    """The instance's programs: confined processes of its cgroup other than its init
    (not the host-side unshare/nsenter that wait on them, nor the server)."""
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    init = find_init(prefix, iid)
    return [p for p in cgroup_of(prefix, iid).pids() if p != init and confinement.is_confined(p)]


def program_names(srv, iid: str) -> list[str]:
    """The names (`comm`) of the instance's programs (`processes`)."""
    out = []
    for pid in processes(srv, iid):
        try:
            out.append(open(f"/proc/{pid}/comm").read().strip())
        except OSError:
            pass
    return out


def alive(pid: int) -> bool:
    """True if `pid` runs (a zombie waiting for init to reap it has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def console_text(ec2, iid: str) -> str:
    return ec2.get_console_output(InstanceId=iid).get("Output", "")  # botocore decodes it


def vpclab_exec(srv, instance: str, script: str, timeout: float = 60) -> str:
    """What shell `script` printed inside `instance`."""
    return vexec(srv, instance, "sh", "-c", script, timeout=timeout).stdout
