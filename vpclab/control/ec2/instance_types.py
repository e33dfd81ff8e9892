"""The instance type catalogue: which types RunInstances and ModifyInstanceAttribute accept,
the vCPUs and architecture DescribeInstances shows for each, and DescribeInstanceTypes
(what the console's Launch instances page offers).

vpclab runs every instance the same way, whatever its type: the type only decides what is
shown and whether an AMI's architecture fits it.
"""
from __future__ import annotations

from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue
from ..common.filters import filter_and_page
from .images import Image


def _types() -> dict[str, tuple[int, int, str]]:
    """Instance type -> (vCPUs, threads per core, architecture)."""
    out: dict[str, tuple[int, int, str]] = {}
    sizes = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32,
             "12xlarge": 48, "16xlarge": 64, "24xlarge": 96}
    for family, tpc, arch in (("m5", 2, "x86_64"), ("m5a", 2, "x86_64"), ("m6i", 2, "x86_64"),
                              ("m6a", 2, "x86_64"), ("m7i", 2, "x86_64"), ("m6g", 1, "arm64"),
                              ("m7g", 1, "arm64"), ("c5", 2, "x86_64"), ("c5a", 2, "x86_64"),
                              ("c6i", 2, "x86_64"), ("c7i", 2, "x86_64"), ("c6g", 1, "arm64"),
                              ("c7g", 1, "arm64"), ("r5", 2, "x86_64"), ("r6i", 2, "x86_64"),
                              ("r6g", 1, "arm64"), ("r7g", 1, "arm64")):
        for size, vcpus in sizes.items():
            out[f"{family}.{size}"] = (vcpus, tpc, arch)
    for size, vcpus in (("nano", 1), ("micro", 1), ("small", 1), ("medium", 2), ("large", 2),
                        ("xlarge", 4), ("2xlarge", 8)):
        out[f"t2.{size}"] = (vcpus, 1, "x86_64")
    for family, tpc, arch in (("t3", 2, "x86_64"), ("t3a", 2, "x86_64"), ("t4g", 1, "arm64")):
        for size, vcpus in (("nano", 2), ("micro", 2), ("small", 2), ("medium", 2), ("large", 2),
                            ("xlarge", 4), ("2xlarge", 8)):
            out[f"{family}.{size}"] = (vcpus, tpc, arch)
    out["c5.large"] = (2, 2, "x86_64")
    # The previous generation RunInstances still defaults to (see DEFAULT_INSTANCE_TYPE).
    for size, vcpus in (("small", 1), ("medium", 1), ("large", 2), ("xlarge", 4)):
        out[f"m1.{size}"] = (vcpus, 1, "x86_64")
    return out


INSTANCE_TYPES = _types()

#: What RunInstances launches when the request names no InstanceType (and no launch
#: template): AWS's documented default.
DEFAULT_INSTANCE_TYPE = "m1.small"


def check_instance_type(name: str) -> tuple[int, int, str]:
    if name not in INSTANCE_TYPES:
        raise InvalidParameterValue(f"Invalid value '{name}' for InstanceType.")
    return INSTANCE_TYPES[name]


def check_architecture(image: Image, instance_type: str) -> None:
    arch = INSTANCE_TYPES[instance_type][2]
    if arch != image.architecture:
        raise InvalidParameterValue(
            f"The architecture '{arch}' of the specified instance type does not match the architecture "
            f"'{image.architecture}' of the specified AMI. Specify an instance type and an AMI that have "
            "matching architectures, and try again. You can use 'describe-instance-types' or "
            "'describe-images' to discover the architecture of the instance type or AMI."
        )


# --- DescribeInstanceTypes ---------------------------------------------------------------

def _type_info(name: str) -> dict:
    vcpus, threads, arch = INSTANCE_TYPES[name]
    return {
        "InstanceType": name,
        "CurrentGeneration": not name.startswith("m1."),
        "VCpuInfo": {"DefaultVCpus": vcpus, "DefaultCores": max(1, vcpus // threads),
                     "DefaultThreadsPerCore": threads},
        "ProcessorInfo": {"SupportedArchitectures": [arch]},
        "SupportedUsageClasses": ["on-demand"],
        "SupportedRootDeviceTypes": ["ebs"],
        "SupportedVirtualizationTypes": ["hvm"],
        "BareMetal": False,
        "Hypervisor": "nitro" if not name.startswith(("t2.", "m1.")) else "xen",
        "FreeTierEligible": name == "t2.micro",
    }


TYPE_FILTERS = {
    "instance-type": lambda t: t["InstanceType"],
    "current-generation": lambda t: t["CurrentGeneration"],
    "processor-info.supported-architecture": lambda t: t["ProcessorInfo"]["SupportedArchitectures"],
    "vcpu-info.default-vcpus": lambda t: t["VCpuInfo"]["DefaultVCpus"],
    "free-tier-eligible": lambda t: t["FreeTierEligible"],
    "hypervisor": lambda t: t["Hypervisor"],
}


@operation("ec2", "DescribeInstanceTypes")
def describe_instance_types(ctx: RequestContext, req: dict) -> dict:
    names = req.get("InstanceTypes") or list(INSTANCE_TYPES)
    unknown = [n for n in names if n not in INSTANCE_TYPES]
    if unknown:
        raise AwsError(f"The following supplied instance types do not exist: [{', '.join(unknown)}]",
                       code="InvalidInstanceType")
    page, token = filter_and_page([_type_info(n) for n in names], req.get("Filters"), TYPE_FILTERS,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"),
                                  max_allowed=100)
    return {"InstanceTypes": page, "NextToken": token}
