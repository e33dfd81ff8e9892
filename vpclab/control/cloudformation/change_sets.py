"""Change sets: Create/Describe/Execute/Delete/ListChangeSets (what `aws cloudformation
deploy` drives).

A change set's changes are computed when it is created (`plan.py`), so it is
CREATE_COMPLETE (or FAILED: no changes, an import of no export) by the time
CreateChangeSet answers. A CREATE change set makes its stack in REVIEW_IN_PROGRESS;
executing it runs the engine's create, an UPDATE one the engine's update. Once one is
executed, the stack's other change sets go, as on AWS.
"""
from __future__ import annotations

import uuid

from ...model.cloudformation import REVIEW, ChangeSet, Stack
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, ValidationError
from . import engine, journal, plan, render, submitted, template
from .lookup import find_stack, get_change_set, get_stack, is_busy, new_change_set_arn, new_stack_arn, stack_missing
from .stacks import UPDATABLE, api_of, begin_update, cannot_update, start

NO_CHANGES = ("The submitted information didn't contain changes. Submit different information to create a "
              "change set.")


def invalid_status(cs: ChangeSet) -> AwsError:
    return AwsError(f"ChangeSet [{cs.id}] cannot be executed in its current status of [{cs.execution_status}]",
                    code="InvalidChangeSetStatus")


@operation("cloudformation", "CreateChangeSet")
def create_change_set(ctx: RequestContext, req: dict) -> dict:
    stack_name = req.get("StackName", "")
    cs_name = req.get("ChangeSetName", "")
    submitted.check_name(cs_name, "changeSetName")
    kind = req.get("ChangeSetType") or "UPDATE"
    if kind not in ("CREATE", "UPDATE"):
        raise ValidationError(f"ChangeSetType {kind} is not supported by vpclab (CREATE or UPDATE)")
    with ctx.read() as tx:
        existing = find_stack(tx, ctx, stack_name)
        existing = existing.copy() if existing is not None else None
    if kind == "CREATE":
        submitted.check_name(stack_name)
        if existing is not None and existing.status != REVIEW:
            raise AwsError(f"Stack [{stack_name}] already exists and cannot be created again with the "
                           f"changeSet [{cs_name}].", code="AlreadyExistsException")
    else:
        if existing is None or existing.status == REVIEW:
            raise ValidationError(f"Stack [{stack_name}] does not exist")
        if existing.status not in UPDATABLE:
            raise cannot_update(existing)
    previous = existing.template_body if existing is not None and existing.status != REVIEW else None
    body = submitted.body_of(req, previous)
    tpl = submitted.parse(body)
    params = submitted.parameters(tpl, req.get("Parameters"),
                                  existing.parameters if kind == "UPDATE" and existing is not None else None)
    tags = submitted.tags(req) if req.get("Tags") is not None else None
    now = ctx.now.timestamp()
    stack = existing or Stack(new_stack_arn(ctx, stack_name), ctx.account, ctx.region, name=stack_name,
                              status=REVIEW, status_reason="User Initiated", description=tpl.description,
                              creation_time=now)
    cs = ChangeSet(new_change_set_arn(ctx, cs_name), ctx.account, ctx.region, name=cs_name, stack_id=stack.id,
                   stack_name=stack.name, change_set_type=kind, description=req.get("Description"),
                   template_body=body, parameters=params, capabilities=list(req.get("Capabilities") or []),
                   notification_arns=list(req.get("NotificationARNs") or []),
                   tags=tags if tags is not None else list(stack.tags),
                   on_stack_failure=req.get("OnStackFailure"), creation_time=now)
    try:
        changes = plan.plan(ctx.store, api_of(ctx), stack, tpl, params)
    except (engine.StackFailure, template.TemplateError) as exc:
        cs.status, cs.status_reason = "FAILED", str(exc) if isinstance(exc, engine.StackFailure) else exc.message
    else:
        cs.changes = changes.changes
        if kind == "UPDATE" and changes.empty and _same_inputs(stack, body, cs):
            cs.status, cs.status_reason = "FAILED", NO_CHANGES
        else:
            cs.status, cs.execution_status = "CREATE_COMPLETE", "AVAILABLE"
    with ctx.write() as tx:
        if existing is None:
            if find_stack(tx, ctx, stack_name) is not None:
                raise AwsError(f"Stack [{stack_name}] already exists", code="AlreadyExistsException")
            tx.put(stack)
            journal.stack_event(tx, stack, REVIEW, "User Initiated", req.get("ClientToken"))
        if tx.list(ChangeSet, ctx.account, ctx.region, stack_id=stack.id, name=cs_name):
            raise AwsError(f"ChangeSet [{cs_name}] already exists", code="AlreadyExistsException")
        tx.put(cs)
    return {"Id": cs.id, "StackId": stack.id}


def _same_inputs(stack: Stack, body: str, cs: ChangeSet) -> bool:
    try:
        same_outputs = template.load(stack.template_body).raw.get("Outputs") == template.load(body).raw.get("Outputs")
    except template.TemplateError:
        return False
    return (same_outputs and {p.key: p.value for p in cs.parameters} == {p.key: p.value for p in stack.parameters}
            and cs.tags == stack.tags)


@operation("cloudformation", "DescribeChangeSet")
def describe_change_set(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        return render.change_set(get_change_set(tx, ctx, req.get("ChangeSetName", ""), req.get("StackName")))


@operation("cloudformation", "ListChangeSets")
def list_change_sets(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        stack = get_stack(tx, ctx, req.get("StackName", ""))
        found = tx.list(ChangeSet, ctx.account, ctx.region, stack_id=stack.id)
        found.sort(key=lambda cs: cs.creation_time)
        return {"Summaries": [render.change_set_summary(cs) for cs in found]}


@operation("cloudformation", "DeleteChangeSet")
def delete_change_set(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        cs = get_change_set(tx, ctx, req.get("ChangeSetName", ""), req.get("StackName"))
        if cs.execution_status == "EXECUTE_IN_PROGRESS":
            raise AwsError(f"ChangeSet [{cs.id}] cannot be deleted in its current status of "
                           f"[{cs.execution_status}]", code="InvalidChangeSetStatus")
        tx.delete(cs)
    return {}


@operation("cloudformation", "ExecuteChangeSet")
def execute_change_set(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        cs = get_change_set(tx, ctx, req.get("ChangeSetName", ""), req.get("StackName"))
        stack = tx.get(Stack, cs.stack_id)
        if stack is None:
            raise stack_missing(cs.stack_name)
        if cs.status != "CREATE_COMPLETE" or cs.execution_status != "AVAILABLE":
            raise invalid_status(cs)
        if is_busy(stack):
            raise AwsError(f"ChangeSet [{cs.id}] cannot be executed in its current status of [UNAVAILABLE]",
                           code="InvalidChangeSetStatus")
        for other in tx.list(ChangeSet, ctx.account, ctx.region, stack_id=stack.id):
            if other.id != cs.id:
                tx.delete(other)
        cs.execution_status = "EXECUTE_IN_PROGRESS"
        tx.put(cs)
        if cs.change_set_type == "CREATE":
            tpl = template.load(cs.template_body)
            stack.template_body, stack.parameters, stack.description = cs.template_body, cs.parameters, \
                tpl.description
            stack.tags, stack.capabilities = list(cs.tags), list(cs.capabilities)
            stack.notification_arns = list(cs.notification_arns)
            stack.disable_rollback = bool(req.get("DisableRollback")) or cs.on_stack_failure == "DO_NOTHING"
            stack.on_failure = cs.on_stack_failure or "ROLLBACK"
            stack.status, stack.status_reason = "CREATE_IN_PROGRESS", "User Initiated"
            stack.operation_id, stack.change_set_id = str(uuid.uuid4()), cs.id
            tx.put(stack)
            journal.stack_event(tx, stack, "CREATE_IN_PROGRESS", "User Initiated", req.get("ClientRequestToken"))
            engine.claim(stack.id)
            work = engine.create
        else:
            if stack.status not in UPDATABLE:
                raise cannot_update(stack)
            begin_update(ctx, tx, stack, cs.template_body, cs.parameters, list(cs.tags),
                         {"DisableRollback": req.get("DisableRollback"), "Capabilities": cs.capabilities,
                          "ClientRequestToken": req.get("ClientRequestToken")}, change_set_id=cs.id)
            work = engine.update
    start(ctx, stack.id, _then_mark(cs.id, work))
    return {}


def _then_mark(cs_id: str, work: engine.Work) -> engine.Work:
    """`work`, then the change set's ExecutionStatus from how the stack's operation ended."""

    def run(runner: engine.Runner) -> None:
        try:
            work(runner)
        finally:
            status = runner.stack().status
            with runner.store.write() as tx:
                cs = tx.get(ChangeSet, cs_id)
                if cs is not None:
                    cs.execution_status = ("EXECUTE_COMPLETE" if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
                                           else "EXECUTE_FAILED")
                    tx.put(cs)

    return run
