"""A server holding more than 1,024 descriptors keeps programming instances, and does not
keep a thread per instance namespace (issue 10: it aborted with "bit out of range 0 -
FD_SETSIZE on fd_set" at ~150-200 instances; benchmarks/instances_scale.py runs 500).

The server is started with ~1,100 descriptors inherited at numbers from ~150 up, so every
descriptor it opens beyond its first hundred or so is numbered above 1,024, as in a server
with a few hundred instances. No packet is sent.
"""
from __future__ import annotations

import os

import pytest

from tests.helpers.server import ServerProcess, free_port, is_root
from tests.helpers.waiting import wait_for
from vpclab.kernel import linux, naming, netns

pytestmark = pytest.mark.netns

COUNT = 80  # instances: more than the namespace threads kept, and than fit below the inherited block


def test_instances_run_while_the_server_holds_more_than_fd_setsize_descriptors(tmp_path) -> None:
    if not is_root():
        pytest.skip("the data plane needs root")
    from vpclab.commands.down import tear_down

    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1250)]
    for fd in held[:150]:  # the server gets these numbers free, and the rest taken
        os.close(fd)
    inherited = tuple(held[150:])
    srv = ServerProcess(tmp_path / "state", free_port(), dataplane=True, pass_fds=inherited)
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    try:
        srv.start()
        for fd in inherited:
            os.close(fd)
        ec2 = srv.client("ec2")
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        ids = [i["InstanceId"] for i in ec2.run_instances(
            ImageId=image, InstanceType="t3.micro", MinCount=COUNT, MaxCount=COUNT)["Instances"]]

        def all_running() -> bool:
            assert srv.proc is not None and srv.proc.poll() is None, srv.log()[-2000:]
            pages = ec2.get_paginator("describe_instances").paginate(InstanceIds=ids)
            return all(i["State"]["Name"] == "running" for p in pages for r in p["Reservations"]
                       for i in r["Instances"])

        wait_for(all_running, timeout=90, interval=0.5, what=f"{COUNT} instances running")
        assert srv.proc.poll() is None
        assert len(os.listdir(f"/proc/{srv.proc.pid}/fd")) > 1100  # it really holds that many
        assert len(os.listdir(f"/proc/{srv.proc.pid}/task")) < linux.MAX_THREADS + 10  # not one per instance
        for iid in (ids[0], ids[-1]):  # their security-group tables were applied
            tables = netns.run(naming.namespace_name(prefix, iid), ["nft", "list", "tables"], check=True).stdout
            assert f"inet {prefix}-sg" in tables
        assert "FD_SETSIZE" not in srv.log() and "Traceback" not in srv.log()
    finally:
        for fd in inherited:
            try:
                os.close(fd)
            except OSError:
                pass
        srv.stop()
        tear_down(srv.state_dir)
        assert netns.list_namespaces(prefix) == []
