"""The instance type catalogue: what each type is (vCPUs, threads per core, architecture,
memory), as DescribeInstanceTypes reports it and the data plane enforces it.

Both planes read it: the control plane to accept a type (RunInstances,
ModifyInstanceAttribute), to match it to an AMI's architecture and to answer
DescribeInstances / DescribeInstanceTypes; the data plane to give the instance's cgroup
its CPU quota and memory limit (`dataplane/agents/instance_limits.py`). The figures are
AWS's own for the sizes listed.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    threads_per_core: int
    architecture: str
    memory_mib: int

    @property
    def cores(self) -> int:
        return max(1, self.vcpus // self.threads_per_core)

    @property
    def current_generation(self) -> bool:
        return not self.name.startswith("m1.")

    @property
    def hypervisor(self) -> str:
        return "xen" if self.name.startswith(("t2.", "m1.")) else "nitro"

    @property
    def free_tier_eligible(self) -> bool:
        return self.name == "t2.micro"


#: GiB of memory per vCPU of the general purpose (m), compute (c) and memory (r) families.
_GIB_PER_VCPU = {"m": 4, "c": 2, "r": 8}

#: The burstable sizes: (vCPUs of t2, vCPUs of t3/t3a/t4g, memory in MiB).
_BURSTABLE = {"nano": (1, 2, 512), "micro": (1, 2, 1024), "small": (1, 2, 2048),
              "medium": (2, 2, 4096), "large": (2, 2, 8192), "xlarge": (4, 4, 16384),
              "2xlarge": (8, 8, 32768)}

#: The previous generation RunInstances still defaults to: (vCPUs, memory in MiB).
_M1 = {"small": (1, 1740), "medium": (1, 3840), "large": (2, 7680), "xlarge": (4, 15360)}


def _types() -> dict[str, InstanceType]:
    out: dict[str, InstanceType] = {}
    sizes = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
             "12xlarge": 48, "16xlarge": 64, "24xlarge": 96}
    for family, tpc, arch in (("m5", 2, "x86_64"), ("m5a", 2, "x86_64"), ("m6i", 2, "x86_64"),
                              ("m6a", 2, "x86_64"), ("m7i", 2, "x86_64"), ("m6g", 1, "arm64"),
                              ("m7g", 1, "arm64"), ("c5", 2, "x86_64"), ("c5a", 2, "x86_64"),
                              ("c6i", 2, "x86_64"), ("c7i", 2, "x86_64"), ("c6g", 1, "arm64"),
                              ("c7g", 1, "arm64"), ("r5", 2, "x86_64"), ("r6i", 2, "x86_64"),
                              ("r6g", 1, "arm64"), ("r7g", 1, "arm64")):
        for size, vcpus in sizes.items():
            name = f"{family}.{size}"
            out[name] = InstanceType(name, vcpus, tpc, arch, vcpus * _GIB_PER_VCPU[family[0]] * 1024)
    for size, (t2_vcpus, _, memory) in _BURSTABLE.items():
        out[f"t2.{size}"] = InstanceType(f"t2.{size}", t2_vcpus, 1, "x86_64", memory)
    for family, tpc, arch in (("t3", 2, "x86_64"), ("t3a", 2, "x86_64"), ("t4g", 1, "arm64")):
        for size, (_, vcpus, memory) in _BURSTABLE.items():
            out[f"{family}.{size}"] = InstanceType(f"{family}.{size}", vcpus, tpc, arch, memory)
    for size, (vcpus, memory) in _M1.items():
        out[f"m1.{size}"] = InstanceType(f"m1.{size}", vcpus, 1, "x86_64", memory)
    return out


#: Every instance type vpclab knows, by name.
INSTANCE_TYPES: dict[str, InstanceType] = _types()
