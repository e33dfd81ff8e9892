"""Stacks: Create/Update/Delete/DescribeStacks, ListStacks, events, resources, templates,
ValidateTemplate, GetTemplateSummary, UpdateTerminationProtection.

A write checks the request, commits the stack's IN_PROGRESS status (with its "User
Initiated" event) and hands the operation to the engine's thread: the answer comes at
once, as on AWS, and waiters poll DescribeStacks.
"""
from __future__ import annotations

import uuid
from typing import Any

from ...model.cloudformation import DELETED, REVIEW, Stack, StackEvent, StackParameter
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, ValidationError
from ...store import Transaction
from . import engine, journal, plan, render, resources, submitted, template
from .lookup import find_stack, get_change_set, get_live_stack, get_stack, is_busy, new_stack_arn

#: Statuses from which UpdateStack (and an UPDATE change set) may start.
UPDATABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_FAILED", "IMPORT_COMPLETE",
             "IMPORT_ROLLBACK_COMPLETE")


def already_exists(name: str) -> AwsError:
    return AwsError(f"Stack [{name}] already exists", code="AlreadyExistsException")


def cannot_update(stack: Stack) -> AwsError:
    return ValidationError(f"Stack:{stack.id} is in {stack.status} state and can not be updated.")


def api_of(ctx: RequestContext) -> resources.Api:
    """The caller's AWS operations, in-process (what evaluating a template may call)."""
    return resources.Api(ctx.extras["calls"], ctx.account, ctx.region)


def start(ctx: RequestContext, stack_id: str, work: Any) -> None:
    """Hand a committed operation to the engine's thread (the handler `engine.claim`ed the
    stack before its IN_PROGRESS status committed, so recovery never takes it for lost),
    and wait for it up to the server's `stack_wait` (`server.STACK_WAIT`: the AWS CLI's
    waiters then find it done at their first look)."""
    thread = engine.start(ctx.store, ctx.extras["calls"], stack_id, work)
    thread.join(float(ctx.extras.get("stack_wait", 0.0)))


def check_updatable(stack: Stack) -> None:
    if stack.status not in UPDATABLE:
        raise cannot_update(stack)


# CreateStack --------------------------------------------------------------------------------

@operation("cloudformation", "CreateStack")
def create_stack(ctx: RequestContext, req: dict) -> dict:
    name = req.get("StackName", "")
    submitted.check_name(name)
    if req.get("OnFailure") and req.get("DisableRollback") is not None:
        raise ValidationError("You can specify either DisableRollback or OnFailure, but not both.")
    body = submitted.body_of(req)
    tpl = submitted.parse(body)
    params = submitted.parameters(tpl, req.get("Parameters"))
    with ctx.write() as tx:
        if find_stack(tx, ctx, name) is not None:
            raise already_exists(name)
        now = ctx.now.timestamp()
        stack = Stack(new_stack_arn(ctx, name), ctx.account, ctx.region, name=name, status="CREATE_IN_PROGRESS",
                      status_reason="User Initiated", description=tpl.description, template_body=body,
                      parameters=params, tags=submitted.tags(req), capabilities=list(req.get("Capabilities") or []),
                      notification_arns=list(req.get("NotificationARNs") or []), role_arn=req.get("RoleARN"),
                      timeout_in_minutes=req.get("TimeoutInMinutes"),
                      disable_rollback=bool(req.get("DisableRollback")) or req.get("OnFailure") == "DO_NOTHING",
                      on_failure=req.get("OnFailure") or "ROLLBACK",
                      termination_protection=bool(req.get("EnableTerminationProtection")),
                      creation_time=now, operation_id=str(uuid.uuid4()))
        tx.put(stack)
        journal.stack_event(tx, stack, "CREATE_IN_PROGRESS", "User Initiated", req.get("ClientRequestToken"))
        engine.claim(stack.id)
    start(ctx, stack.id, engine.create)
    return {"StackId": stack.id}


# UpdateStack --------------------------------------------------------------------------------

def begin_update(ctx: RequestContext, tx: Transaction, stack: Stack, body: str, params: list[StackParameter],
                 tags: list[dict] | None, req: dict, change_set_id: str | None = None) -> None:
    """Move `stack` to UPDATE_IN_PROGRESS with its new template and parameters (the old
    ones kept for a rollback), claimed for the engine's update (`start` it after commit)."""
    tpl = template.load(body)
    stack.previous_template_body = stack.template_body
    stack.previous_parameters = stack.parameters
    stack.previous_outputs = stack.outputs
    stack.template_body, stack.parameters, stack.description = body, params, tpl.description
    if tags is not None:
        stack.tags = tags
    if req.get("Capabilities") is not None:
        stack.capabilities = list(req.get("Capabilities") or [])
    if req.get("DisableRollback") is not None:
        stack.disable_rollback = bool(req.get("DisableRollback"))
    stack.status, stack.status_reason = "UPDATE_IN_PROGRESS", "User Initiated"
    stack.last_updated_time = ctx.now.timestamp()
    stack.operation_id = str(uuid.uuid4())
    stack.change_set_id = change_set_id
    tx.put(stack)
    journal.stack_event(tx, stack, "UPDATE_IN_PROGRESS", "User Initiated", req.get("ClientRequestToken"))
    engine.claim(stack.id)


@operation("cloudformation", "UpdateStack")
def update_stack(ctx: RequestContext, req: dict) -> dict:
    name = req.get("StackName", "")
    with ctx.read() as tx:
        current = get_live_stack(tx, ctx, name).copy()
    check_updatable(current)
    body = submitted.body_of(req, current.template_body)
    tpl = submitted.parse(body)
    params = submitted.parameters(tpl, req.get("Parameters"), current.parameters)
    tags = submitted.tags(req) if req.get("Tags") is not None else None
    changes = plan.plan(ctx.store, api_of(ctx), current, tpl, params)
    if changes.empty and _same(current, body, params, tags):
        raise ValidationError("No updates are to be performed.")
    with ctx.write() as tx:
        stack = get_live_stack(tx, ctx, name)
        check_updatable(stack)
        begin_update(ctx, tx, stack, body, params, tags, req)
    start(ctx, current.id, engine.update)
    return {"StackId": current.id}


def _same(stack: Stack, body: str, params: list[StackParameter], tags: list[dict] | None) -> bool:
    """Nothing but the resources could change: the same outputs, parameters and tags."""
    try:
        old_outputs = template.load(stack.template_body).raw.get("Outputs")
        new_outputs = template.load(body).raw.get("Outputs")
    except template.TemplateError:
        return False
    return (old_outputs == new_outputs
            and {p.key: p.value for p in params} == {p.key: p.value for p in stack.parameters}
            and (tags is None or tags == stack.tags))


# DeleteStack --------------------------------------------------------------------------------

@operation("cloudformation", "DeleteStack")
def delete_stack(ctx: RequestContext, req: dict) -> dict:
    name = req.get("StackName", "")
    retain = set(req.get("RetainResources") or [])
    work = None
    with ctx.write() as tx:
        stack = find_stack(tx, ctx, name)
        if stack is None or stack.status == DELETED:
            return {}  # AWS: deleting a stack that is not there succeeds
        if stack.termination_protection:
            raise ValidationError(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
        if retain and stack.status != "DELETE_FAILED":
            raise ValidationError(f"Invalid operation on stack [{stack.id}]: RetainResources can only be "
                                  "specified when the stack is in the DELETE_FAILED state")
        if stack.status == "DELETE_IN_PROGRESS":
            return {}
        if is_busy(stack):
            stack.delete_requested = True  # the engine deletes it once its operation ends
            tx.put(stack)
            return {}
        nothing_made = stack.status == REVIEW or not engine.live_records(stack)
        stack.status, stack.status_reason = "DELETE_IN_PROGRESS", "User Initiated"
        stack.operation_id = str(uuid.uuid4())
        tx.put(stack)
        journal.stack_event(tx, stack, "DELETE_IN_PROGRESS", "User Initiated", req.get("ClientRequestToken"))
        if nothing_made:
            stack.status, stack.status_reason = DELETED, None
            stack.deletion_time, stack.operation_id = ctx.now.timestamp(), ""
            tx.put(stack)
            journal.stack_event(tx, stack, DELETED)
        else:
            engine.claim(stack.id)
            work = engine.delete(retain)
    if work is not None:
        start(ctx, stack.id, work)
    return {}


@operation("cloudformation", "UpdateTerminationProtection")
def update_termination_protection(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        stack = get_live_stack(tx, ctx, req.get("StackName", ""))
        stack.termination_protection = bool(req.get("EnableTerminationProtection"))
        tx.put(stack)
        return {"StackId": stack.id}


# Reading stacks -----------------------------------------------------------------------------

@operation("cloudformation", "DescribeStacks")
def describe_stacks(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        name = req.get("StackName")
        if name:
            return {"Stacks": [render.stack(get_stack(tx, ctx, name))]}
        stacks = tx.list(Stack, ctx.account, ctx.region, where=lambda s: s.status != DELETED)
        stacks.sort(key=lambda s: s.creation_time, reverse=True)
        return {"Stacks": [render.stack(s) for s in stacks]}


@operation("cloudformation", "ListStacks")
def list_stacks(ctx: RequestContext, req: dict) -> dict:
    wanted = set(req.get("StackStatusFilter") or [])
    with ctx.read() as tx:
        stacks = tx.list(Stack, ctx.account, ctx.region, where=lambda s: not wanted or s.status in wanted)
        stacks.sort(key=lambda s: s.creation_time, reverse=True)
        return {"StackSummaries": [render.summary(s) for s in stacks]}


@operation("cloudformation", "DescribeStackEvents")
def describe_stack_events(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        stack = get_stack(tx, ctx, req.get("StackName", ""))
        events = tx.list(StackEvent, ctx.account, ctx.region, stack_id=stack.id)
        events.sort(key=lambda e: e.sequence, reverse=True)
        return {"StackEvents": [render.event(e) for e in events]}


def _resource_missing(logical_id: str, stack_name: str) -> AwsError:
    return ValidationError(f"Resource {logical_id} does not exist for stack {stack_name}")


@operation("cloudformation", "DescribeStackResource")
def describe_stack_resource(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        stack = get_stack(tx, ctx, req.get("StackName", ""))
        lid = req.get("LogicalResourceId", "")
        res = stack.resources.get(lid)
        if res is None:
            raise _resource_missing(lid, stack.name)
        return {"StackResourceDetail": render.resource_detail(stack, res)}


@operation("cloudformation", "DescribeStackResources")
def describe_stack_resources(ctx: RequestContext, req: dict) -> dict:
    name, physical = req.get("StackName"), req.get("PhysicalResourceId")
    with ctx.read() as tx:
        if name:
            stack = get_stack(tx, ctx, name)
        elif physical:
            holding = tx.list(Stack, ctx.account, ctx.region, where=lambda s: s.status != DELETED and any(
                r.physical_id == physical for r in s.resources.values()))
            if not holding:
                raise ValidationError(f"Stack for {physical} does not exist")
            stack = holding[0]
        else:
            raise ValidationError("Either StackName or PhysicalResourceId must be specified.")
        lid = req.get("LogicalResourceId")
        rows = [r for r in stack.resources.values()
                if (lid is None or r.logical_id == lid) and (physical is None or r.physical_id == physical)]
        return {"StackResources": [render.resource(stack, r) for r in rows]}


@operation("cloudformation", "ListStackResources")
def list_stack_resources(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        stack = get_stack(tx, ctx, req.get("StackName", ""))
        return {"StackResourceSummaries": [render.resource_summary(r) for r in stack.resources.values()]}


# Templates ------------------------------------------------------------------------------------

@operation("cloudformation", "GetTemplate")
def get_template(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        if req.get("ChangeSetName"):
            body = get_change_set(tx, ctx, req["ChangeSetName"], req.get("StackName")).template_body
        else:
            body = get_stack(tx, ctx, req.get("StackName", "")).template_body
    return {"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]}


@operation("cloudformation", "ValidateTemplate")
def validate_template(ctx: RequestContext, req: dict) -> dict:
    return template.validation_result(submitted.parse(submitted.body_of(req)))


@operation("cloudformation", "GetTemplateSummary")
def get_template_summary(ctx: RequestContext, req: dict) -> dict:
    if req.get("StackName"):
        with ctx.read() as tx:
            body = get_stack(tx, ctx, req["StackName"]).template_body
    else:
        body = submitted.body_of(req)
    tpl = template.load(body)
    out = template.summary(tpl)
    by_type: dict[str, list[str]] = {}
    for lid, spec in tpl.resources.items():
        by_type.setdefault(spec.type, []).append(lid)
    identifiers = []
    for type_name, lids in by_type.items():
        schema = resources.schema(type_name)
        if schema is not None and schema.primary_identifier:
            identifiers.append({"ResourceType": type_name, "LogicalResourceIds": lids,
                                "ResourceIdentifiers": ["/".join(p) for p in schema.primary_identifier]})
    out["ResourceIdentifierSummaries"] = identifiers
    return out
