"""Stacks and change sets by name or ARN, as the caller's account sees them, and
CloudFormation's words when they are missing or busy.

A stack name finds the live stack of that name; a stack ARN finds that stack even once
deleted (DescribeStacks by id shows DELETE_COMPLETE for 90 days on AWS). Another
account's or region's stack is as missing.
"""
from __future__ import annotations

import uuid

from ...model.cloudformation import DELETED, ChangeSet, Stack
from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError, ValidationError
from ...store import Transaction

#: Statuses in which the engine is working on the stack: no other operation may start.
IN_PROGRESS_SUFFIX = "_IN_PROGRESS"


def arn_prefix(ctx: RequestContext) -> str:
    return f"arn:aws:cloudformation:{ctx.region}:{ctx.account}"


def new_stack_arn(ctx: RequestContext, name: str) -> str:
    return f"{arn_prefix(ctx)}:stack/{name}/{uuid.uuid4()}"


def new_change_set_arn(ctx: RequestContext, name: str) -> str:
    return f"{arn_prefix(ctx)}:changeSet/{name}/{uuid.uuid4()}"


def is_arn(value: str) -> bool:
    return value.startswith("arn:")


def stack_missing(name_or_id: str) -> AwsError:
    return ValidationError(f"Stack with id {name_or_id} does not exist")


def find_stack(tx: Transaction, ctx: RequestContext, name_or_id: str) -> Stack | None:
    """The caller's stack of this ARN (even deleted) or this name (live only)."""
    if is_arn(name_or_id):
        stack = tx.get(Stack, name_or_id)
        if stack is None or stack.account != ctx.account or stack.region != ctx.region:
            return None
        return stack
    live = tx.list(Stack, ctx.account, ctx.region, where=lambda s: s.status != DELETED, name=name_or_id)
    return live[0] if live else None


def get_stack(tx: Transaction, ctx: RequestContext, name_or_id: str) -> Stack:
    stack = find_stack(tx, ctx, name_or_id)
    if stack is None:
        raise stack_missing(name_or_id)
    return stack


def get_live_stack(tx: Transaction, ctx: RequestContext, name_or_id: str) -> Stack:
    """A stack an operation may act on: not deleted (an ARN of a deleted one is as missing)."""
    stack = get_stack(tx, ctx, name_or_id)
    if stack.status == DELETED:
        raise stack_missing(name_or_id)
    return stack


def is_busy(stack: Stack) -> bool:
    return stack.status.endswith(IN_PROGRESS_SUFFIX) and stack.status != "REVIEW_IN_PROGRESS"


def change_set_missing(name: str) -> AwsError:
    return AwsError(f"ChangeSet [{name}] does not exist", code="ChangeSetNotFound", status=404)


def find_change_set(tx: Transaction, ctx: RequestContext, name_or_id: str,
                    stack_name: str | None) -> ChangeSet | None:
    """A change set by ARN, or by name within the stack `stack_name` (AWS needs it then)."""
    if is_arn(name_or_id):
        cs = tx.get(ChangeSet, name_or_id)
        if cs is None or cs.account != ctx.account or cs.region != ctx.region:
            return None
        return cs
    if not stack_name:
        raise ValidationError("StackName must be specified if ChangeSetName is not specified as an ARN.")
    stack = find_stack(tx, ctx, stack_name)
    if stack is None:
        raise stack_missing(stack_name)
    found = tx.list(ChangeSet, ctx.account, ctx.region, stack_id=stack.id, name=name_or_id)
    return found[0] if found else None


def get_change_set(tx: Transaction, ctx: RequestContext, name_or_id: str, stack_name: str | None) -> ChangeSet:
    cs = find_change_set(tx, ctx, name_or_id, stack_name)
    if cs is None:
        raise change_set_missing(name_or_id)
    return cs
