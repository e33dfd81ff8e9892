"""The instance type catalogue as the API uses it: which types RunInstances and
ModifyInstanceAttribute accept, whether an AMI's architecture fits one, and
DescribeInstanceTypes (what the console's Launch instances page offers). The types
themselves are data both planes read (`model/instance_types.py`): the data plane limits
an instance's CPU and memory to its type's.
"""
from __future__ import annotations

from ...model.instance_types import INSTANCE_TYPES, InstanceType
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue
from ..common.filters import filter_and_page
from .credit_specifications import default_cpu_credits
from .images import Image

#: What RunInstances launches when the request names no InstanceType (and no launch
#: template): AWS's documented default.
DEFAULT_INSTANCE_TYPE = "m1.small"


def check_instance_type(name: str) -> InstanceType:
    if name not in INSTANCE_TYPES:
        raise InvalidParameterValue(f"Invalid value '{name}' for InstanceType.")
    return INSTANCE_TYPES[name]


def check_architecture(image: Image, instance_type: str) -> None:
    arch = INSTANCE_TYPES[instance_type].architecture
    if arch != image.architecture:
        raise InvalidParameterValue(
            f"The architecture '{arch}' of the specified instance type does not match the architecture "
            f"'{image.architecture}' of the specified AMI. Specify an instance type and an AMI that have "
            "matching architectures, and try again. You can use 'describe-instance-types' or "
            "'describe-images' to discover the architecture of the instance type or AMI."
        )


# --- DescribeInstanceTypes ---------------------------------------------------------------

def _type_info(name: str) -> dict:
    t = INSTANCE_TYPES[name]
    return {
        "InstanceType": name,
        "CurrentGeneration": t.current_generation,
        "VCpuInfo": {"DefaultVCpus": t.vcpus, "DefaultCores": t.cores,
                     "DefaultThreadsPerCore": t.threads_per_core},
        "MemoryInfo": {"SizeInMiB": t.memory_mib},
        "ProcessorInfo": {"SupportedArchitectures": [t.architecture]},
        "SupportedUsageClasses": ["on-demand"],
        "SupportedRootDeviceTypes": ["ebs"],
        "SupportedVirtualizationTypes": ["hvm"],
        "BareMetal": False,
        "Hypervisor": t.hypervisor,
        "FreeTierEligible": t.free_tier_eligible,
        "BurstablePerformanceSupported": default_cpu_credits(name) is not None,
        "SupportedBootModes": ["uefi"] if t.architecture == "arm64"
        else ["legacy-bios"] if t.hypervisor == "xen" else ["legacy-bios", "uefi"],
        "EbsInfo": {"EbsOptimizedSupport": "unsupported" if t.hypervisor == "xen" else "default",
                    "EncryptionSupport": "supported",
                    "NvmeSupport": "unsupported" if t.hypervisor == "xen" else "required"},
        "NetworkInfo": {"EnaSupport": "unsupported" if t.hypervisor == "xen" else "required",
                        "Ipv6Supported": True, "EfaSupported": False},
    }


TYPE_FILTERS = {
    "instance-type": lambda t: t["InstanceType"],
    "current-generation": lambda t: t["CurrentGeneration"],
    "processor-info.supported-architecture": lambda t: t["ProcessorInfo"]["SupportedArchitectures"],
    "vcpu-info.default-vcpus": lambda t: t["VCpuInfo"]["DefaultVCpus"],
    "memory-info.size-in-mib": lambda t: t["MemoryInfo"]["SizeInMiB"],
    "free-tier-eligible": lambda t: t["FreeTierEligible"],
    "hypervisor": lambda t: t["Hypervisor"],
    "burstable-performance-supported": lambda t: t["BurstablePerformanceSupported"],
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
