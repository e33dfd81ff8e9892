"""Status changes of a stack and of its resources, each with its StackEvent, in one write.

Every status the engine (or a handler) gives a stack or a resource goes through here,
so that DescribeStacks, DescribeStackResources and DescribeStackEvents never disagree,
and each change is durable before anything reports it.
"""
from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ...model.cloudformation import Stack, StackEvent, StackResource
from ...store import Store, Transaction

STACK_TYPE = "AWS::CloudFormation::Stack"


def stack_event(tx: Transaction, stack: Stack, status: str, reason: str | None = None,
                token: str | None = None) -> None:
    """The stack's own event: its logical id is its name, its physical id its ARN."""
    now = time.time()
    tx.put(StackEvent(str(uuid.uuid4()), stack.account, stack.region, stack_id=stack.id,
                      stack_name=stack.name, logical_id=stack.name, physical_id=stack.id,
                      resource_type=STACK_TYPE, timestamp=now, status=status, reason=reason,
                      client_request_token=token, operation_id=stack.operation_id or None,
                      sequence=time.time_ns()))


def resource_event(tx: Transaction, stack: Stack, res: StackResource, status: str, reason: str | None = None,
                   properties: dict | None = None, physical_id: str | None = None) -> None:
    """An event of `res`; `physical_id` overrides its current one (an old, replaced resource)."""
    tx.put(StackEvent(str(uuid.uuid4()), stack.account, stack.region, stack_id=stack.id,
                      stack_name=stack.name, logical_id=res.logical_id,
                      physical_id=physical_id if physical_id is not None else (res.physical_id or ""),
                      resource_type=res.type, timestamp=time.time(), status=status, reason=reason,
                      properties=json.dumps(properties, separators=(",", ":")) if properties is not None else None,
                      operation_id=stack.operation_id or None, sequence=time.time_ns()))


def set_stack_status(store: Store, stack_id: str, status: str, reason: str | None = None,
                     **fields: Any) -> Stack:
    """Move the stack to `status` (with its event); `fields` are set on it in the same write."""
    with store.write() as tx:
        stack = tx.get(Stack, stack_id)
        assert stack is not None
        stack.status, stack.status_reason = status, reason
        for name, value in fields.items():
            setattr(stack, name, value)
        tx.put(stack)
        stack_event(tx, stack, status, reason)
        return stack


def set_resource_status(store: Store, stack_id: str, res: StackResource, status: str,
                        reason: str | None = None, properties: dict | None = None,
                        event: bool = True) -> StackResource:
    """Record `res` in the stack with `status` (and its event), as one write; returns the
    stored copy."""
    with store.write() as tx:
        stack = tx.get(Stack, stack_id)
        assert stack is not None
        res = StackResource(**{**vars(res), "status": status, "reason": reason, "timestamp": time.time()})
        stack.resources[res.logical_id] = res
        tx.put(stack)
        if event:
            resource_event(tx, stack, res, status, reason, properties)
        return res


def old_resource_event(store: Store, stack_id: str, res: StackResource, status: str,
                       reason: str | None = None) -> None:
    """An event of a resource the stack no longer holds under its logical id (the old
    physical resource of a replacement, being cleaned up)."""
    with store.write() as tx:
        stack = tx.get(Stack, stack_id)
        assert stack is not None
        resource_event(tx, stack, res, status, reason)


def forget_resource(store: Store, stack_id: str, logical_id: str) -> None:
    """Drop a resource from the stack (removed by an update, or its create rolled back)."""
    with store.write() as tx:
        stack = tx.get(Stack, stack_id)
        assert stack is not None
        stack.resources.pop(logical_id, None)
        tx.put(stack)
