"""CloudFormation stacks, their events and change sets.

A stack keeps its resources inside its own document (logical id -> `StackResource`):
they are only ever read and written with the stack, and one transaction then moves the
stack and a resource together. Events are their own kind, many per stack, appended and
never changed. Exports are not a table: they are the `export_name`s of live stacks'
outputs (`exporting`), and imports are the export names live stacks resolved
(`Stack.imports`), so neither can drift from the stacks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..store import Resource, resource

#: A stack in one of these is gone: visible by its id only (DescribeStacks, ListStacks).
DELETED = "DELETE_COMPLETE"
#: Stacks that are not (yet) stacks to a user: made by a CREATE change set, never executed.
REVIEW = "REVIEW_IN_PROGRESS"


@dataclass
class StackParameter:
    """A parameter as given (`value`) and as resolved (`resolved`: typed, JSON). `no_echo`
    parameters are kept, and shown as `****`."""

    key: str = ""
    value: str = ""
    use_previous: bool = False
    resolved: object = None
    no_echo: bool = False


@dataclass
class StackOutput:
    key: str = ""
    value: str = ""
    description: str | None = None
    export_name: str | None = None


@dataclass
class StackResource:
    """One resource of a stack: what CloudFormation knows of it. `properties` are the
    resolved properties it was last created or updated with; `attributes` its GetAtt
    values; `physical_id` its Ref value."""

    logical_id: str = ""
    type: str = ""
    physical_id: str | None = None
    status: str = ""
    reason: str | None = None
    timestamp: float = 0.0
    properties: dict = field(default_factory=dict)
    attributes: dict = field(default_factory=dict)
    description: str | None = None
    metadata: dict | None = None
    deletion_policy: str | None = None
    update_replace_policy: str | None = None


@resource("cloudformation-stack")
@dataclass
class Stack(Resource):
    """id is the stack ARN `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`."""

    name: str = ""
    status: str = "CREATE_IN_PROGRESS"
    status_reason: str | None = None
    description: str | None = None
    template_body: str = ""
    parameters: list[StackParameter] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)  # [{"Key", "Value"}], in the order given
    capabilities: list[str] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    role_arn: str | None = None
    timeout_in_minutes: int | None = None
    disable_rollback: bool = False
    on_failure: str = "ROLLBACK"  # ROLLBACK | DELETE | DO_NOTHING
    termination_protection: bool = False
    outputs: list[StackOutput] = field(default_factory=list)
    resources: dict[str, StackResource] = field(default_factory=dict)
    # Export names this stack's template imported when it last resolved (Fn::ImportValue).
    imports: list[str] = field(default_factory=list)
    change_set_id: str | None = None  # the change set last executed
    creation_time: float = 0.0
    last_updated_time: float | None = None
    deletion_time: float | None = None
    # The operation the engine runs now (its id), empty when none does.
    operation_id: str = ""
    # DeleteStack came while another operation ran: the engine deletes the stack after it.
    delete_requested: bool = False
    # What an update rolls back to: the template and parameters before it.
    previous_template_body: str | None = None
    previous_parameters: list[StackParameter] = field(default_factory=list)
    previous_outputs: list[StackOutput] = field(default_factory=list)


@resource("cloudformation-stack-event")
@dataclass
class StackEvent(Resource):
    """One status change of a stack or of one of its resources (id is the EventId)."""

    stack_id: str = ""
    stack_name: str = ""
    logical_id: str = ""
    physical_id: str | None = None
    resource_type: str = ""
    timestamp: float = 0.0
    status: str = ""
    reason: str | None = None
    properties: str | None = None  # JSON text, as AWS gives ResourceProperties
    client_request_token: str | None = None
    operation_id: str | None = None
    sequence: int = 0  # orders events of the same timestamp


@resource("cloudformation-change-set")
@dataclass
class ChangeSet(Resource):
    """id is the change set ARN `arn:aws:cloudformation:<region>:<account>:changeSet/<name>/<uuid>`.

    `changes` are the `Change` documents DescribeChangeSet returns, as botocore names them."""

    name: str = ""
    stack_id: str = ""
    stack_name: str = ""
    change_set_type: str = "UPDATE"  # CREATE | UPDATE
    status: str = "CREATE_PENDING"  # CREATE_PENDING | CREATE_IN_PROGRESS | CREATE_COMPLETE | DELETE_* | FAILED
    status_reason: str | None = None
    execution_status: str = "UNAVAILABLE"  # UNAVAILABLE | AVAILABLE | EXECUTE_* | OBSOLETE
    description: str | None = None
    template_body: str = ""
    parameters: list[StackParameter] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    tags: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    on_stack_failure: str | None = None
    creation_time: float = 0.0


def exporting(stacks: list[Stack]) -> dict[str, tuple[Stack, StackOutput]]:
    """Export name -> (stack, output), over the live stacks among `stacks`."""
    out: dict[str, tuple[Stack, StackOutput]] = {}
    for stack in stacks:
        if stack.status in (DELETED, REVIEW):
            continue
        for output in stack.outputs:
            if output.export_name:
                out[output.export_name] = (stack, output)
    return out


def importers(stacks: list[Stack], export_name: str) -> list[Stack]:
    """The live stacks among `stacks` whose templates import `export_name`."""
    return [s for s in stacks if s.status not in (DELETED, REVIEW) and export_name in s.imports]
