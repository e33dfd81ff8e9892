"""Instance metadata options: RunInstances' MetadataOptions, what DescribeInstances shows
of them, and ModifyInstanceMetadataOptions.

The options live on the instance (`Instance.metadata_options`); the data plane's metadata
agent serves 169.254.169.254 as they say. Defaults come from the image, as on EC2: an
AMI whose `ImdsSupport` is `v2.0` (the Amazon Linux 2023 images) launches with IMDSv2
required and a PUT response hop limit of 2, every other image with tokens optional and a
hop limit of 1.

A change shows `State: pending` until it is applied: at once on a running instance (the
agent reads the options on its next pass; DescribeInstances shows `pending` for
`APPLY_DELAY` seconds), at the next start on a stopped one, as EC2 says it does.
"""
from __future__ import annotations

import time

from ...model.ec2 import Instance
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue, MissingParameter
from ..common import lifecycle
from ..common.lookup import INSTANCE, get_all_owned
from .images import Image

#: The options and the values each takes (None: an integer, see `HOP_LIMITS`).
CHOICES: dict[str, tuple[str, ...] | None] = {
    "HttpTokens": ("optional", "required"),
    "HttpPutResponseHopLimit": None,
    "HttpEndpoint": ("enabled", "disabled"),
    "HttpProtocolIpv6": ("enabled", "disabled"),
    "InstanceMetadataTags": ("enabled", "disabled"),
}

HOP_LIMITS = range(1, 65)

#: Seconds a running instance's changed options show as pending.
APPLY_DELAY = lifecycle.SETTLE_DELAY

#: EC2's defaults for an image without ImdsSupport (and for instances stored without options).
BASE_DEFAULTS = {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled",
                 "HttpProtocolIpv6": "disabled", "InstanceMetadataTags": "disabled"}


def defaults(image: Image) -> dict:
    """What an instance of `image` gets when RunInstances says nothing."""
    if image.imds_support == "v2.0":
        return {**BASE_DEFAULTS, "HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    return dict(BASE_DEFAULTS)


def check(options: dict) -> dict:
    """The options a request gives (only those it gives), checked as EC2 checks them."""
    out: dict = {}
    for name, choices in CHOICES.items():
        value = options.get(name)
        if value is None:
            continue
        if choices is None:
            if value not in HOP_LIMITS:
                raise InvalidParameterValue(
                    f"The HttpPutResponseHopLimit value '{value}' is not valid. "
                    f"Specify a value from {HOP_LIMITS.start} to {HOP_LIMITS.stop - 1}.")
        elif value not in choices:
            raise InvalidParameterValue(
                f"Value ({value}) for parameter {name} is invalid. "
                f"Valid values are: {', '.join(choices)}.")
        out[name] = value
    return out


def for_launch(image: Image, requested: dict | None) -> dict:
    """RunInstances' MetadataOptions over the image's defaults."""
    return {**defaults(image), **check(requested or {})}


def state(inst: Instance, now: float | None = None) -> str:
    """`pending` while a change waits to be applied, else `applied`."""
    modified = inst.metadata_options.get("ModifiedAt")
    if modified is None:
        return "applied"
    if inst.state in ("stopping", "stopped"):
        return "pending" if modified >= inst.state_since else "applied"
    now = time.time() if now is None else now
    return "pending" if now - modified < APPLY_DELAY else "applied"


def render(inst: Instance, now: float | None = None, state_: str | None = None) -> dict:
    """The instance's MetadataOptions as DescribeInstances shows them."""
    options = {**BASE_DEFAULTS, **{k: v for k, v in inst.metadata_options.items() if k in CHOICES}}
    return {"State": state_ or state(inst, now), **options}


@operation("ec2", "ModifyInstanceMetadataOptions")
def modify_instance_metadata_options(ctx: RequestContext, req: dict) -> dict:
    changes = check(req)
    if not changes:
        raise MissingParameter(
            "The request must contain at least one of the parameters HttpTokens, HttpPutResponseHopLimit, "
            "HttpEndpoint, HttpProtocolIpv6 or InstanceMetadataTags")
    now = ctx.now.timestamp()
    with ctx.write() as tx:
        inst = get_all_owned(tx, ctx, Instance, [req["InstanceId"]], INSTANCE)[0]
        if inst.state in ("shutting-down", "terminated"):
            raise AwsError(f"The instance '{inst.id}' is not in a state from which its metadata options "
                           "can be modified.", code="IncorrectInstanceState")
        inst.metadata_options = {**BASE_DEFAULTS, **inst.metadata_options, **changes, "ModifiedAt": now}
        tx.put(inst)
        return {"InstanceId": inst.id, "InstanceMetadataOptions": render(inst, state_="pending")}
