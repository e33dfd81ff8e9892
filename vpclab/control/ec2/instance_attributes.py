"""Instance attributes and console: DescribeInstanceAttribute, ModifyInstanceAttribute,
GetConsoleOutput.

ModifyInstanceAttribute changes one attribute a call, as AWS does; the type and user data
only of a stopped instance. The console output is what the data plane's instance wrote.
"""
from __future__ import annotations

import base64
from pathlib import Path

from ...model.ec2 import Instance, NetworkInterface
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterCombination, InvalidParameterValue, MissingParameter
from ...store import Transaction
from .images import find_image
from .instance_launch import USER_DATA_LIMIT
from .instance_types import check_architecture, check_instance_type
from .instances import block_device_mappings, get_instances, root_device_name
from .network_interfaces import group_identifiers
from .security_groups import find_groups

# --- Attributes ----------------------------------------------------------------------------------

def _attribute_value(tx: Transaction, inst: Instance, name: str, now: float) -> dict:
    root = root_device_name(inst)
    values: dict[str, dict] = {
        "instanceType": {"InstanceType": {"Value": inst.instance_type}},
        "kernel": {"KernelId": {}},
        "ramdisk": {"RamdiskId": {}},
        "userData": {"UserData": {"Value": inst.user_data} if inst.user_data else {}},
        "disableApiTermination": {"DisableApiTermination": {"Value": inst.disable_api_termination}},
        "disableApiStop": {"DisableApiStop": {"Value": inst.disable_api_stop}},
        "instanceInitiatedShutdownBehavior": {"InstanceInitiatedShutdownBehavior": {"Value": inst.shutdown_behavior}},
        "rootDeviceName": {"RootDeviceName": {"Value": root}},
        "blockDeviceMapping": {"BlockDeviceMappings": block_device_mappings(tx, inst, root, now)},
        "productCodes": {"ProductCodes": []},
        "sourceDestCheck": {"SourceDestCheck": {"Value": True}},
        "groupSet": {"Groups": group_identifiers(tx, inst.security_group_ids)},
        "ebsOptimized": {"EbsOptimized": {"Value": False}},
        "sriovNetSupport": {"SriovNetSupport": {"Value": "simple"}},
        "enaSupport": {"EnaSupport": {"Value": True}},
        "enclaveOptions": {"EnclaveOptions": {"Enabled": False}},
    }
    if name not in values:
        raise InvalidParameterValue(f"Value ({name}) for parameter attribute is invalid. Unknown attribute.")
    return values[name]


@operation("ec2", "DescribeInstanceAttribute")
def describe_instance_attribute(ctx: RequestContext, req: dict) -> dict:
    name = req.get("Attribute")
    if not name:
        raise MissingParameter("The request must contain the parameter Attribute")
    with ctx.read() as tx:
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
        return {"InstanceId": inst.id, **_attribute_value(tx, inst, name, ctx.now.timestamp())}


_SIMPLE_ATTRIBUTES = {
    # request member -> (Attribute name for the Attribute/Value form, field, parse)
    "InstanceType": ("instanceType", "instance_type", str),
    "UserData": ("userData", "user_data", None),
    "DisableApiTermination": ("disableApiTermination", "disable_api_termination", bool),
    "DisableApiStop": ("disableApiStop", "disable_api_stop", bool),
    "InstanceInitiatedShutdownBehavior": ("instanceInitiatedShutdownBehavior", "shutdown_behavior", str),
    "Groups": ("groupSet", "security_group_ids", list),
    "SourceDestCheck": ("sourceDestCheck", None, bool),
}


def _parse_bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise InvalidParameterValue(f"Value ({value}) for parameter value is invalid. Expected a boolean.")
    return value.lower() == "true"


@operation("ec2", "ModifyInstanceAttribute")
def modify_instance_attribute(ctx: RequestContext, req: dict) -> dict:
    changes: dict[str, object] = {}
    for member, (attr, _field, _parse) in _SIMPLE_ATTRIBUTES.items():
        if member in req:
            value = req[member]
            changes[member] = value if isinstance(value, list) else (value or {}).get("Value")
    if req.get("Attribute"):
        by_attr = {a: m for m, (a, _f, _p) in _SIMPLE_ATTRIBUTES.items()}
        named = by_attr.get(req["Attribute"])
        if named is None:
            raise InvalidParameterValue(
                f"Value ({req['Attribute']}) for parameter attribute is invalid. "
                "vpclab modifies instanceType, userData, disableApiTermination, disableApiStop, "
                "instanceInitiatedShutdownBehavior, groupSet and sourceDestCheck.")
        if "Value" not in req:
            raise MissingParameter("The request must contain the parameter value")
        raw = req["Value"]
        parse = _SIMPLE_ATTRIBUTES[named][2]
        changes[named] = _parse_bool(raw) if parse is bool else raw
    if len(changes) != 1:
        raise InvalidParameterCombination(
            "Fields for multiple attribute types specified: " + ", ".join(changes) if changes
            else "No attributes specified.")
    member, value = next(iter(changes.items()))
    with ctx.write() as tx:
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
        if inst.state == "terminated":
            raise AwsError(f"The instance '{inst.id}' is not in a state from which it can be modified.",
                           code="IncorrectInstanceState")
        if member in ("InstanceType", "UserData") and inst.state != "stopped":
            raise AwsError(f"The instance '{inst.id}' is not in the 'stopped' state.",
                           code="IncorrectInstanceState")
        if member == "InstanceType":
            check_instance_type(str(value))
            image = find_image(inst.region, inst.image_id)
            if image is not None:
                check_architecture(image, str(value))
            inst.instance_type = str(value)
        elif member == "UserData":
            # The blob arrives decoded; AWS keeps and returns its base64.
            raw = value if isinstance(value, bytes) else str(value or "").encode()
            if len(raw) > USER_DATA_LIMIT:
                raise InvalidParameterValue(f"User data is limited to {USER_DATA_LIMIT} bytes")
            inst.user_data = base64.b64encode(raw).decode() if raw else ""
        elif member == "DisableApiTermination":
            inst.disable_api_termination = bool(value)
        elif member == "DisableApiStop":
            inst.disable_api_stop = bool(value)
        elif member == "InstanceInitiatedShutdownBehavior":
            if value not in ("stop", "terminate"):
                raise InvalidParameterValue(
                    f"Value ({value}) for parameter instanceInitiatedShutdownBehavior is invalid.")
            inst.shutdown_behavior = str(value)
        elif member == "Groups":
            ids = list(value) if isinstance(value, list) else [str(value)]
            if not ids:
                raise MissingParameter("The request must contain the parameter groupId")
            find_groups(tx, ctx, ids, vpc_id=inst.vpc_id, subnet_id=inst.subnet_id)
            inst.security_group_ids = ids
            eni = tx.get(NetworkInterface, inst.network_interface_id)
            if eni is not None:
                eni.security_group_ids = list(ids)
                tx.put(eni)
        elif member == "SourceDestCheck":
            # Unconfirmed how much it matters here: vpclab routes by subnet; the check stays on.
            if not value:
                raise InvalidParameterValue("vpclab keeps the source/destination check on.")
        tx.put(inst)
    return {}


# --- Console output ------------------------------------------------------------------------------

CONSOLE_LIMIT = 64 * 1024  # AWS returns the most recent 64 KB


@operation("ec2", "GetConsoleOutput")
def get_console_output(ctx: RequestContext, req: dict) -> dict:
    """The console log the data plane writes to `<state_dir>/instances/<id>/console.log`."""
    with ctx.read() as tx:
        inst = get_instances(tx, ctx, [req["InstanceId"]])[0]
    out = {"InstanceId": inst.id, "Timestamp": ctx.now}
    state_dir = ctx.extras.get("state_dir")
    if state_dir:
        path = Path(state_dir) / "instances" / inst.id / "console.log"
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - CONSOLE_LIMIT))
                data = f.read()
            out["Output"] = base64.b64encode(data).decode()
            out["Timestamp"] = path.stat().st_mtime
        except OSError:
            pass
    return out
