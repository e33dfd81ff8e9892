"""An instance's CPU and memory limits: its type's vCPUs and memory
(`model/instance_types.py`, what DescribeInstanceTypes reports), as its cgroup enforces
them (`kernel/cgroups.py`)."""
from __future__ import annotations

from ...kernel.cgroups import Limits
from ...model.instance_types import INSTANCE_TYPES


def limits_for(instance_type: str) -> Limits | None:
    """The limits of `instance_type`; None for a type the catalogue does not have (the
    API accepts none, so only a record from elsewhere has one): no limit."""
    itype = INSTANCE_TYPES.get(instance_type)
    if itype is None:
        return None
    return Limits(vcpus=itype.vcpus, memory_mib=itype.memory_mib)
