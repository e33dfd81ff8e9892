"""CPU credit options of burstable instances: DescribeInstanceCreditSpecifications and
ModifyInstanceCreditSpecification.

Which types are burstable, and the option each starts with, is `default_cpu_credits`:
T2 launches `standard`, T3, T3a and T4g `unlimited` (the EC2 user guide). An instance
whose option was changed away from its type's default has a `CreditSpecification` record
under its own id; vpclab runs no credit accounting, so the option is only what the API
reports.
"""
from __future__ import annotations

from ...model.ec2 import CreditSpecification, Instance
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.lookup import INSTANCE, find_owned
from .instances import get_instances, visible_instances

CPU_CREDITS = ("standard", "unlimited")

_DEFAULTS = {"t2": "standard", "t3": "unlimited", "t3a": "unlimited", "t4g": "unlimited"}


def default_cpu_credits(instance_type: str) -> str | None:
    """The option an instance of `instance_type` launches with; None for a type that is
    not burstable (DescribeInstanceTypes' BurstablePerformanceSupported is this)."""
    return _DEFAULTS.get(instance_type.split(".", 1)[0])


def cpu_credits(tx: Transaction, inst: Instance) -> str | None:
    default = default_cpu_credits(inst.instance_type)
    if default is None:
        return None
    record = tx.get(CreditSpecification, inst.id)
    return record.cpu_credits if record is not None else default


def _not_supported(instance_id: str) -> AwsError:
    # The code is AWS's (terraform-provider-aws ignores it for non-T instances); the
    # wording is unconfirmed.
    return AwsError(f"The instance ID '{instance_id}' does not support credit specifications. "
                    "Only T2, T3, T3a and T4g instances do.", code="InstanceCreditSpecification.NotSupported")


FILTERS = {"instance-id": lambda s: s["InstanceId"]}


@operation("ec2", "DescribeInstanceCreditSpecifications")
def describe_instance_credit_specifications(ctx: RequestContext, req: dict) -> dict:
    """With InstanceIds, each one's option; without, the burstable instances whose option
    is `unlimited` (AWS lists only those then)."""
    ids = req.get("InstanceIds")
    with ctx.read() as tx:
        if ids:
            instances = get_instances(tx, ctx, ids)
            for inst in instances:
                if default_cpu_credits(inst.instance_type) is None:
                    raise _not_supported(inst.id)
            rows = [{"InstanceId": i.id, "CpuCredits": cpu_credits(tx, i)} for i in instances]
        else:
            rows = [{"InstanceId": i.id, "CpuCredits": "unlimited"} for i in visible_instances(tx, ctx)
                    if i.state != "terminated" and cpu_credits(tx, i) == "unlimited"]
    page, token = filter_and_page(rows, req.get("Filters"), FILTERS, max_results=req.get("MaxResults"),
                                  next_token=req.get("NextToken"))
    return {"InstanceCreditSpecifications": page, "NextToken": token}


def _modify_one(tx: Transaction, ctx: RequestContext, instance_id: str, credits: str) -> None:
    INSTANCE.check(instance_id)
    inst = find_owned(tx, ctx, Instance, instance_id)
    if inst is None or inst.state == "terminated":
        raise INSTANCE.not_found(instance_id)
    if default_cpu_credits(inst.instance_type) is None:
        raise _not_supported(instance_id)
    set_cpu_credits(tx, inst, credits)


def check_cpu_credits(value: object) -> None:
    if value not in CPU_CREDITS:
        raise InvalidParameterValue(f"Value ({value}) for parameter cpuCredits is invalid. "
                                    "Valid values are: standard, unlimited.")


def set_cpu_credits(tx: Transaction, inst: Instance, credits: str) -> None:
    """Record `inst`'s credit option (a burstable type's; its default needs no record).
    ModifyInstanceCreditSpecification and RunInstances' CreditSpecification both set it."""
    default = default_cpu_credits(inst.instance_type)
    if default is None:
        return
    record = tx.get(CreditSpecification, inst.id)
    if credits == default:
        if record is not None:
            tx.delete(record)
        return
    tx.put(CreditSpecification(id=inst.id, account=inst.account, region=inst.region, cpu_credits=credits))


@operation("ec2", "ModifyInstanceCreditSpecification")
def modify_instance_credit_specification(ctx: RequestContext, req: dict) -> dict:
    specs = req.get("InstanceCreditSpecifications") or []
    if not specs:
        raise MissingParameter("The request must contain the parameter InstanceCreditSpecification")
    for spec in specs:
        check_cpu_credits(spec.get("CpuCredits"))
    successful, unsuccessful = [], []
    with ctx.write() as tx:
        for spec in specs:
            try:
                _modify_one(tx, ctx, spec["InstanceId"], spec["CpuCredits"])
            except AwsError as err:
                unsuccessful.append({"InstanceId": spec["InstanceId"],
                                     "Error": {"Code": err.code, "Message": err.message}})
            else:
                successful.append({"InstanceId": spec["InstanceId"]})
    return {"SuccessfulInstanceCreditSpecifications": successful,
            "UnsuccessfulInstanceCreditSpecifications": unsuccessful}
