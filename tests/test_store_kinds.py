"""The store serves the kinds it is opened with, and says so loudly about any other."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vpclab.model import KINDS
from vpclab.model.ec2 import Subnet, Vpc
from vpclab.store import UnknownKind, open_store


def _vpc(rid: str = "vpc-1") -> Vpc:
    return Vpc(id=rid, account="111111111111", region="ap-south-1", cidr_block="10.0.0.0/16")


def test_a_kind_not_given_is_an_error_not_an_empty_list(tmp_path: Path) -> None:
    store = open_store(tmp_path, [Vpc])
    with store.read() as tx:
        with pytest.raises(UnknownKind):
            tx.list(Subnet)
        with pytest.raises(UnknownKind):
            tx.get(Subnet, "subnet-1")
    with store.write() as tx, pytest.raises(UnknownKind):
        tx.put(Subnet(id="subnet-1", account="111111111111", region="ap-south-1"))
    store.close()


def test_rows_of_a_kind_not_given_are_kept_and_load_when_it_is(tmp_path: Path) -> None:
    store = open_store(tmp_path, KINDS)
    with store.write() as tx:
        tx.put(_vpc())
        tx.put(Subnet(id="subnet-1", account="111111111111", region="ap-south-1", vpc_id="vpc-1"))
    store.close()
    only_vpcs = open_store(tmp_path, [Vpc])
    with only_vpcs.write() as tx:
        tx.put(_vpc("vpc-2"))
    only_vpcs.close()
    again = open_store(tmp_path, KINDS)
    with again.read() as tx:
        assert sorted(v.id for v in tx.list(Vpc)) == ["vpc-1", "vpc-2"]
        assert [s.id for s in tx.list(Subnet)] == ["subnet-1"]
    again.close()


def test_a_store_opened_in_a_fresh_process_sees_every_row(tmp_path: Path) -> None:
    """Nothing depends on which modules happen to be imported before the store opens."""
    store = open_store(tmp_path, KINDS)
    with store.write() as tx:
        tx.put(_vpc())
    store.close()
    script = ("import sys; from pathlib import Path\n"
              "from vpclab.store import open_store\n"
              "from vpclab.model import KINDS\n"
              "from vpclab.model.ec2 import Vpc\n"
              "s = open_store(Path(sys.argv[1]), KINDS)\n"
              "with s.read() as tx: print([v.id for v in tx.list(Vpc)])\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['vpc-1']"


def test_a_kind_given_twice_is_refused(tmp_path: Path) -> None:
    class Other(Vpc):
        pass
    with pytest.raises(ValueError, match="given twice"):
        open_store(tmp_path, [Vpc, Other])
