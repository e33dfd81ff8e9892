"""A stack whose operation no thread runs any more: the server stopped in the middle of it.

The engine's threads die with the server; the store still says `*_IN_PROGRESS`. A
lifecycle step (run on the server's timer) finds such stacks, those in progress that
no thread of this process has claimed (`engine.running`), and ends their operation in
the failed state AWS shows when an operation stops half-way, with the reason
"The vpclab server stopped during the operation": every such state is one the user can
act on (DeleteStack works from each; an update that stopped leaves UPDATE_FAILED or
UPDATE_ROLLBACK_FAILED). Resources caught in progress fail the same way. Nothing is
resumed: what the provider calls made stays recorded with its physical id, so the
DeleteStack that follows removes it.
"""
from __future__ import annotations

from ...model.cloudformation import Stack
from ...store import Transaction
from . import engine, journal

REASON = "The vpclab server stopped during the operation"

#: In-progress status -> the status an interrupted operation ends in.
INTERRUPTED = {
    "CREATE_IN_PROGRESS": "CREATE_FAILED",
    "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
    "DELETE_IN_PROGRESS": "DELETE_FAILED",
    "UPDATE_IN_PROGRESS": "UPDATE_FAILED",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_COMPLETE",
}


def end_interrupted(tx: Transaction, now: float, dataplane: bool) -> None:
    """The lifecycle step (`fn(tx, now, dataplane)`)."""
    for stack in tx.list(Stack, where=lambda s: s.status in INTERRUPTED):
        if engine.running(stack.id):
            continue
        for res in stack.resources.values():
            if res.status.endswith("_IN_PROGRESS"):
                res.status = res.status.replace("_IN_PROGRESS", "_FAILED")
                res.reason, res.timestamp = REASON, now
                journal.resource_event(tx, stack, res, res.status, REASON)
        stack.status = INTERRUPTED[stack.status]
        stack.status_reason = REASON if stack.status.endswith("FAILED") else None
        stack.operation_id = ""
        tx.put(stack)
        journal.stack_event(tx, stack, stack.status, stack.status_reason)
