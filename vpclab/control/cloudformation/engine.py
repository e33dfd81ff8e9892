"""The engine: one background thread per stack operation (create, update, delete), with
CloudFormation's state machine.

The API handler checks the request, writes the stack's `*_IN_PROGRESS` status and hands
the operation to `start`; it answers at once, as AWS does. The thread then makes the
resources in `template.order` waves, a wave's resources in parallel, each through its
provider (`resources.provider`) with an `Api` as the stack's account, and writes a
status change with its StackEvent for every step (`journal.py`).

    create:  CREATE_IN_PROGRESS -> CREATE_COMPLETE
             | a resource fails -> ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE (or ROLLBACK_FAILED)
             | OnFailure DELETE -> DELETE_IN_PROGRESS -> DELETE_COMPLETE
             | OnFailure DO_NOTHING / DisableRollback -> CREATE_FAILED
    update:  UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE
             | fails -> UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS
               -> UPDATE_ROLLBACK_COMPLETE (or UPDATE_ROLLBACK_FAILED); DisableRollback -> UPDATE_FAILED
    delete:  DELETE_IN_PROGRESS -> DELETE_COMPLETE | DELETE_FAILED (what failed stays, a
             second DeleteStack retries it, RetainResources skips it)

An update replaces a resource when its provider says so (`replaces`): the new one is
made first, the old one deleted in the cleanup phase (or kept: UpdateReplacePolicy
Retain). Deletion runs the waves backwards; DeletionPolicy Retain keeps a resource
(DELETE_SKIPPED). A server stopped mid-operation leaves the stack as `recovery.py` says.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...model.cloudformation import DELETED, Stack, StackOutput, StackResource, exporting, importers
from ...store import Store
from . import journal, resources, template
from .resources import Api, ApiError, ResourceFailed, StackRef

log = logging.getLogger("vpclab.cloudformation")

#: How many resources of one wave are worked on at once.
PARALLEL = 8

#: The stacks whose operation runs in a thread of this process (`recovery.py` reads it).
_RUNNING: set[str] = set()
_RUNNING_LOCK = threading.Lock()


def claim(stack_id: str) -> None:
    """Mark the stack's operation as running here, before its IN_PROGRESS status commits."""
    with _RUNNING_LOCK:
        _RUNNING.add(stack_id)


def release(stack_id: str) -> None:
    with _RUNNING_LOCK:
        _RUNNING.discard(stack_id)


def running(stack_id: str) -> bool:
    with _RUNNING_LOCK:
        return stack_id in _RUNNING


#: A stack operation, run by `start` in its own thread.
Work = Callable[["Runner"], None]


def start(store: Store, calls: Any, stack_id: str, work: Work) -> threading.Thread:
    """Run `work` on the stack in a thread of its own (the stack was `claim`ed)."""
    stack = _read(store, stack_id)
    runner = Runner(store, calls, stack_id, stack.account, stack.region, stack.name)

    def run() -> None:
        try:
            work(runner)
            if runner.stack().delete_requested:
                runner.status("DELETE_IN_PROGRESS", "User Initiated", delete_requested=False)
                delete(set())(runner)
        except Exception as exc:  # a vpclab bug: the stack must not stay IN_PROGRESS
            log.exception("stack operation on %s failed", stack_id)
            runner.internal_failure(exc)
        finally:
            release(stack_id)

    thread = threading.Thread(target=run, name=f"cfn-{stack.name}", daemon=True)
    thread.start()
    return thread


def _read(store: Store, stack_id: str) -> Stack:
    with store.read() as tx:
        stack = tx.get(Stack, stack_id)
        assert stack is not None
        return stack.copy()


# Failures --------------------------------------------------------------------------------

def reason_of(exc: BaseException) -> str:
    """An exception as a ResourceStatusReason."""
    if isinstance(exc, ResourceFailed):
        return exc.reason
    if isinstance(exc, ApiError):
        return exc.reason()
    if isinstance(exc, template.TemplateError):
        return exc.message
    if isinstance(exc, StackFailure):
        return str(exc)
    log.error("resource handler failed", exc_info=exc)
    return "Internal Failure"


class StackFailure(Exception):
    """A failure of the stack itself (not of one resource): its status reason."""


def failed_to(verb: str, logical_ids: list[str]) -> str:
    return f"The following resource(s) failed to {verb}: [{', '.join(sorted(logical_ids))}]. "


# Templates and contexts ----------------------------------------------------------------------

def export_values(store: Store, account: str, region: str) -> dict[str, str]:
    with store.read() as tx:
        stacks = tx.list(Stack, account, region)
        return {name: out.value for name, (_, out) in exporting(stacks).items()}


@dataclass
class Evaluation:
    """One template evaluated for one stack: its context and which resources it makes."""

    tpl: template.Template
    ctx: template.Context
    wanted: list[str]
    deps: dict[str, set[str]]
    imports: set[str] = field(default_factory=set)

    def waves(self) -> list[list[str]]:
        return template.order(self.deps)


def zone_names(api: Api) -> Callable[[str], list[str]]:
    """Fn::GetAZs: the zone names DescribeAvailabilityZones gives in a region (the stack's
    for "")."""

    def azs(region: str) -> list[str]:
        regional = Api(api.calls, api.account, region or api.region)
        found = regional.call("ec2", "DescribeAvailabilityZones").get("AvailabilityZones", [])
        return [z["ZoneName"] for z in found]

    return azs


def evaluate(store: Store, api: Api, stack: Stack, tpl: template.Template, parameters: dict[str, Any],
             live: dict[str, StackResource]) -> Evaluation:
    """`tpl`'s context for `stack`, Ref/GetAtt reading `live` (as the engine fills it)."""
    exports: dict[str, str] | None = None
    imported: set[str] = set()

    def import_value(name: str) -> Any:
        nonlocal exports
        if exports is None:
            exports = export_values(store, stack.account, stack.region)
        if name not in exports:
            raise StackFailure(f"No export named {name} found")
        imported.add(name)
        return exports[name]

    def ref(logical_id: str) -> Any:
        res = live.get(logical_id)
        return res.physical_id if res is not None else None

    def get_att(logical_id: str, attribute: str) -> Any:
        res = live.get(logical_id)
        return res.attributes.get(attribute) if res is not None else None

    ctx = template.Context(
        account=stack.account, region=stack.region, stack_id=stack.id, stack_name=stack.name,
        parameters=parameters, conditions={}, ref=ref, get_att=get_att, import_value=import_value,
        azs=zone_names(api),
        no_echo=template.no_echo(tpl), mappings=tpl.mappings, notification_arns=list(stack.notification_arns))
    ctx.conditions = template.evaluate_conditions(tpl, ctx)
    template.check_active(tpl, ctx.conditions)
    wanted = template.active(tpl, ctx.conditions)
    all_deps = template.dependencies(tpl)
    deps = {lid: {d for d in all_deps.get(lid, set()) if d in wanted} for lid in wanted}
    return Evaluation(tpl, ctx, wanted, deps, imported)


def parameters_of(stack: Stack) -> dict[str, Any]:
    return {p.key: p.resolved for p in stack.parameters}


def resolve_outputs(ev: Evaluation) -> list[StackOutput]:
    outputs = []
    for key, spec in ev.tpl.outputs.items():
        if spec.condition is not None and not ev.ctx.conditions.get(spec.condition):
            continue
        value = template.resolve(spec.value, ev.ctx)
        name = template.resolve(spec.export_name, ev.ctx) if spec.export_name is not None else None
        outputs.append(StackOutput(key, _output_text(value), spec.description, name))
    return outputs


def _output_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_exports(store: Store, stack: Stack, outputs: list[StackOutput]) -> None:
    """AWS's rules for a stack's new outputs: an export name is one stack's, and an export
    another stack imports may not change or go."""
    with store.read() as tx:
        stacks = [s for s in tx.list(Stack, stack.account, stack.region) if s.id != stack.id]
    taken = exporting(stacks)
    new = {o.export_name: o for o in outputs if o.export_name}
    for name in new:
        if name in taken:
            raise StackFailure(f"Export with name {name} is already exported by stack {taken[name][0].name}")
    for old in stack.outputs:
        if not old.export_name:
            continue
        users = importers(stacks, old.export_name)
        if not users:
            continue
        if old.export_name not in new:
            raise StackFailure(f"Export {old.export_name} cannot be deleted as it is in use by {users[0].name}")
        if new[old.export_name].value != old.value:
            raise StackFailure(f"Export {old.export_name} cannot be updated as it is in use by {users[0].name}")


def exports_in_use(store: Store, stack: Stack) -> str | None:
    """Why the stack may not be deleted because of its exports, or None."""
    with store.read() as tx:
        stacks = [s for s in tx.list(Stack, stack.account, stack.region) if s.id != stack.id]
    for out in stack.outputs:
        if out.export_name:
            users = importers(stacks, out.export_name)
            if users:
                return f"Export {out.export_name} cannot be deleted as it is in use by {users[0].name}"
    return None


# The runner ---------------------------------------------------------------------------------

class Runner:
    """One operation on one stack: its Api, and the steps every operation is made of."""

    def __init__(self, store: Store, calls: Any, stack_id: str, account: str, region: str, name: str):
        self.store = store
        self.stack_id = stack_id
        self.name = name
        self.api = Api(calls, account, region)

    # State ------------------------------------------------------------------------------
    def stack(self) -> Stack:
        return _read(self.store, self.stack_id)

    def status(self, status: str, reason: str | None = None, **fields: Any) -> Stack:
        return journal.set_stack_status(self.store, self.stack_id, status, reason, **fields)

    def resource(self, res: StackResource, status: str, reason: str | None = None,
                 properties: dict | None = None) -> StackResource:
        return journal.set_resource_status(self.store, self.stack_id, res, status, reason, properties)

    def ref(self, logical_id: str) -> StackRef:
        return StackRef(self.name, self.stack_id, logical_id)

    def internal_failure(self, exc: BaseException) -> None:
        stack = self.stack()
        failure = {"CREATE_IN_PROGRESS": "CREATE_FAILED", "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
                   "DELETE_IN_PROGRESS": "DELETE_FAILED", "UPDATE_IN_PROGRESS": "UPDATE_FAILED",
                   "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_COMPLETE",
                   "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
                   "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_COMPLETE"}.get(stack.status)
        if failure is not None:
            self.status(failure, "Internal Failure", operation_id="")

    # Waves ----------------------------------------------------------------------------------
    def waves(self, waves: list[list[str]], step: Callable[[str], bool],
              skip: Callable[[str], bool] = lambda _lid: False) -> list[str]:
        """Run `step` on every logical id, a wave at a time, a wave's ids in parallel;
        stop after the first wave in which one fails. The ids that failed."""
        for wave in waves:
            todo = [lid for lid in wave if not skip(lid)]
            if not todo:
                continue
            with ThreadPoolExecutor(max_workers=min(PARALLEL, len(todo)),
                                    thread_name_prefix=f"cfn-{self.name}") as pool:
                ok = dict(zip(todo, pool.map(step, todo)))
            failed = [lid for lid, good in ok.items() if not good]
            if failed:
                return failed
        return []

    # One resource ---------------------------------------------------------------------------
    def create_one(self, ev: Evaluation, live: dict[str, StackResource], logical_id: str,
                   replacing: StackResource | None = None) -> bool:
        """Create `logical_id` (anew, or as the replacement of `replacing`)."""
        spec = ev.tpl.resources[logical_id]
        res = StackResource(logical_id, spec.type, None, description=None, metadata=_dict_or_none(spec.metadata),
                            deletion_policy=spec.deletion_policy, update_replace_policy=spec.update_replace_policy)
        verb = "UPDATE" if replacing is not None else "CREATE"
        if replacing is not None:
            res.physical_id = replacing.physical_id
        try:
            props = template.resolve(spec.properties or {}, ev.ctx) or {}
            res = self.resource(res, f"{verb}_IN_PROGRESS", _REPLACING if replacing else None, props)
            provider = resources.provider(spec.type)
            if provider is None:
                raise ResourceFailed(f"Unrecognized resource type {spec.type}")
            outcome = provider.create(self.api, logical_id, props, self.ref(logical_id))
        except Exception as exc:
            if replacing is not None:
                res.physical_id = replacing.physical_id
            live[logical_id] = self.resource(res, f"{verb}_FAILED", reason_of(exc))
            return False
        res.physical_id, res.attributes, res.properties = outcome.physical_id, dict(outcome.attributes), props
        live[logical_id] = self.resource(res, f"{verb}_COMPLETE")
        return True

    def update_one(self, ev: Evaluation, live: dict[str, StackResource], logical_id: str,
                   new_props: dict) -> bool:
        current = live[logical_id]
        spec = ev.tpl.resources[logical_id]
        res = StackResource(**{**vars(current), "deletion_policy": spec.deletion_policy,
                               "update_replace_policy": spec.update_replace_policy,
                               "metadata": _dict_or_none(spec.metadata)})
        res = self.resource(res, "UPDATE_IN_PROGRESS", None, new_props)
        try:
            provider = resources.provider(spec.type)
            assert provider is not None
            outcome = provider.update(self.api, current.physical_id or "", current.properties, new_props,
                                      self.ref(logical_id))
        except Exception as exc:
            live[logical_id] = self.resource(res, "UPDATE_FAILED", reason_of(exc))
            return False
        res.physical_id, res.attributes, res.properties = outcome.physical_id, dict(outcome.attributes), new_props
        live[logical_id] = self.resource(res, "UPDATE_COMPLETE")
        return True

    def delete_one(self, res: StackResource, retain: bool, old: bool = False) -> bool:
        """Delete one resource (`old`: the replaced one of an update, not the stack's record)."""
        event: Callable[[str, str | None], Any]
        if old:
            def event(status: str, reason: str | None) -> None:
                journal.old_resource_event(self.store, self.stack_id, res, status, reason)
        else:
            def event(status: str, reason: str | None) -> None:
                self.resource(res, status, reason)
        if retain:
            event("DELETE_SKIPPED", None)
            return True
        if not res.physical_id:  # never made (its create failed): nothing to delete
            event("DELETE_COMPLETE", None)
            return True
        event("DELETE_IN_PROGRESS", None)
        provider = resources.provider(res.type)
        try:
            if provider is not None:
                provider.delete(self.api, res.physical_id, res.properties, self.ref(res.logical_id))
        except Exception as exc:
            event("DELETE_FAILED", reason_of(exc))
            return False
        event("DELETE_COMPLETE", None)
        return True

    def delete_all(self, records: dict[str, StackResource], deps: dict[str, set[str]],
                   retain: Callable[[StackResource], bool], old: bool = False) -> list[str]:
        """Delete `records` in reverse dependency order (`deps` among them): a resource
        goes only once everything that depends on it went. The ids that failed; what
        depends on them stays."""
        ids = set(records)
        graph = {lid: {d for d in deps.get(lid, set()) if d in ids} for lid in ids}
        dependents: dict[str, set[str]] = {lid: set() for lid in ids}
        for lid, needs in graph.items():
            for d in needs:
                dependents[d].add(lid)
        failed: list[str] = []
        kept: set[str] = set()
        lock = threading.Lock()

        def step(lid: str) -> bool:
            if dependents[lid] & kept:
                with lock:
                    kept.add(lid)
                return True
            good = self.delete_one(records[lid], retain(records[lid]), old)
            if not good:
                with lock:
                    failed.append(lid)
                    kept.add(lid)
            return True

        for wave in reversed(template.order(graph)):
            self.waves([wave], step)
        return failed


_REPLACING = "Requested update requires the creation of a new physical resource; hence creating one."


def _dict_or_none(value: Any) -> dict | None:
    return value if isinstance(value, dict) else None


def deps_of_stack(stack: Stack, body: str | None = None) -> dict[str, set[str]]:
    """Dependencies among the stack's resources, read off its template (or `body`)."""
    try:
        tpl = template.load(body if body is not None else stack.template_body)
        return template.dependencies(tpl)
    except template.TemplateError:
        return {}


def live_records(stack: Stack) -> dict[str, StackResource]:
    """The stack's resources that exist (or may: a failed create or delete)."""
    return {lid: r for lid, r in stack.resources.items() if r.status not in ("DELETE_COMPLETE", "DELETE_SKIPPED")}


# Create ---------------------------------------------------------------------------------------

def create(runner: Runner) -> None:
    """The stack's first operation, from CREATE_IN_PROGRESS (CreateStack, or a CREATE
    change set executed)."""
    stack = runner.stack()
    tpl = template.load(stack.template_body)
    live: dict[str, StackResource] = {}
    try:
        ev = evaluate(runner.store, runner.api, stack, tpl, parameters_of(stack), live)
        failed = runner.waves(ev.waves(), lambda lid: runner.create_one(ev, live, lid))
        if failed:
            raise StackFailure(failed_to("create", failed))
        outputs = resolve_outputs(ev)
        check_exports(runner.store, stack, outputs)
    except (StackFailure, template.TemplateError) as exc:
        _create_failed(runner, str(exc) if isinstance(exc, StackFailure) else exc.message)
        return
    runner.status("CREATE_COMPLETE", None, outputs=outputs, imports=sorted(ev.imports), operation_id="")


def _create_failed(runner: Runner, reason: str) -> None:
    stack = runner.stack()
    if stack.disable_rollback or stack.on_failure == "DO_NOTHING":
        runner.status("CREATE_FAILED", reason, operation_id="")
        return
    if stack.on_failure == "DELETE":
        runner.status("DELETE_IN_PROGRESS", reason)
        failed = runner.delete_all(live_records(stack), deps_of_stack(stack), lambda _r: False)
        if failed:
            runner.status("DELETE_FAILED", failed_to("delete", failed), operation_id="")
        else:
            runner.status("DELETE_COMPLETE", None, deletion_time=time.time(), operation_id="")
        return
    runner.status("ROLLBACK_IN_PROGRESS", f"{reason.rstrip()}{'' if reason.rstrip().endswith('.') else '.'} "
                                          "Rollback requested by user.")
    failed = runner.delete_all(live_records(stack), deps_of_stack(stack), _retained)
    if failed:
        runner.status("ROLLBACK_FAILED", failed_to("delete", failed), operation_id="")
    else:
        runner.status("ROLLBACK_COMPLETE", None, operation_id="")


def _retained(res: StackResource) -> bool:
    """Kept by a create's rollback: Retain is (RetainExceptOnCreate is not)."""
    return res.deletion_policy == "Retain"


# Delete ---------------------------------------------------------------------------------------

def delete(retain_resources: set[str]) -> Callable[[Runner], None]:
    """DeleteStack, from DELETE_IN_PROGRESS; `retain_resources` (a retried delete's
    RetainResources) are kept."""

    def work(runner: Runner) -> None:
        stack = runner.stack()
        in_use = exports_in_use(runner.store, stack)
        if in_use is not None:
            runner.status("DELETE_FAILED", in_use, operation_id="")
            return
        failed = runner.delete_all(
            live_records(stack), deps_of_stack(stack),
            lambda r: r.logical_id in retain_resources or r.deletion_policy in ("Retain", "RetainExceptOnCreate"))
        if failed:
            runner.status("DELETE_FAILED", failed_to("delete", failed), operation_id="")
            return
        runner.status(DELETED, None, deletion_time=time.time(), operation_id="")

    return work


# Update ---------------------------------------------------------------------------------------

@dataclass
class UpdateRecord:
    """What an update did, so that a rollback can undo it and the cleanup finish it."""

    added: list[str] = field(default_factory=list)
    replaced: dict[str, StackResource] = field(default_factory=dict)  # lid -> old record
    updated: dict[str, StackResource] = field(default_factory=dict)  # lid -> record before
    lock: threading.Lock = field(default_factory=threading.Lock)


def update(runner: Runner) -> None:
    """UpdateStack or an UPDATE change set, from UPDATE_IN_PROGRESS: the stack's
    template_body and parameters are the new ones; `previous_*` what it had."""
    stack = runner.stack()
    before = live_records(stack)
    live = dict(before)
    done = UpdateRecord()
    try:
        tpl = template.load(stack.template_body)
        ev = evaluate(runner.store, runner.api, stack, tpl, parameters_of(stack), live)

        def step(lid: str) -> bool:
            spec = tpl.resources[lid]
            current = live.get(lid)
            if current is None:
                with done.lock:
                    done.added.append(lid)
                return runner.create_one(ev, live, lid)
            props = template.resolve(spec.properties or {}, ev.ctx) or {}
            if current.type != spec.type or _replaces(spec.type, current.properties, props):
                with done.lock:
                    done.replaced[lid] = current
                return runner.create_one(ev, live, lid, replacing=current)
            if props == current.properties:
                return True
            with done.lock:
                done.updated[lid] = current
            return runner.update_one(ev, live, lid, props)

        failed = runner.waves(ev.waves(), step)
        if failed:
            raise StackFailure(failed_to("update", failed))
        outputs = resolve_outputs(ev)
        check_exports(runner.store, stack, outputs)
    except (StackFailure, template.TemplateError) as exc:
        _update_failed(runner, str(exc) if isinstance(exc, StackFailure) else exc.message, before, done)
        return
    runner.status("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None, outputs=outputs, imports=sorted(ev.imports))
    old_deps = deps_of_stack(stack, stack.previous_template_body) if stack.previous_template_body else {}
    runner.delete_all(done.replaced, old_deps, lambda r: r.update_replace_policy == "Retain", old=True)
    removed = {lid: r for lid, r in before.items() if lid not in ev.wanted}
    runner.delete_all(removed, old_deps, lambda r: r.deletion_policy in ("Retain", "RetainExceptOnCreate"))
    for lid in removed:
        journal.forget_resource(runner.store, runner.stack_id, lid)
    runner.status("UPDATE_COMPLETE", None, operation_id="", previous_template_body=None,
                  previous_parameters=[], previous_outputs=[])


def _replaces(type_name: str, old: dict, new: dict) -> bool:
    provider = resources.provider(type_name)
    return provider is not None and old != new and provider.replaces(old, new)


def _update_failed(runner: Runner, reason: str, before: dict[str, StackResource], done: UpdateRecord) -> None:
    stack = runner.stack()
    if stack.disable_rollback:
        runner.status("UPDATE_FAILED", reason, operation_id="")
        return
    runner.status("UPDATE_ROLLBACK_IN_PROGRESS", reason)
    failed: list[str] = []
    now = runner.stack().resources
    # In place: back to the properties before.
    for lid, old in done.updated.items():
        current = now.get(lid)
        if current is None or current.status == "UPDATE_FAILED":
            runner.resource(old, "UPDATE_COMPLETE")
            continue
        res = runner.resource(current, "UPDATE_IN_PROGRESS", None, old.properties)
        try:
            provider = resources.provider(old.type)
            assert provider is not None
            outcome = provider.update(runner.api, current.physical_id or "", current.properties, old.properties,
                                      runner.ref(lid))
            res.physical_id, res.attributes, res.properties = outcome.physical_id, dict(outcome.attributes), \
                old.properties
            runner.resource(res, "UPDATE_COMPLETE")
        except Exception as exc:
            runner.resource(res, "UPDATE_FAILED", reason_of(exc))
            failed.append(lid)
    # Replaced: the old resource is the stack's again; the new one goes in the cleanup.
    made = {lid: now[lid] for lid in done.replaced if lid in now}
    for lid, old in done.replaced.items():
        runner.resource(old, "UPDATE_COMPLETE")
    added = {lid: now[lid] for lid in done.added if lid in now}
    if failed:
        runner.status("UPDATE_ROLLBACK_FAILED", failed_to("update", failed), operation_id="")
        return
    runner.status("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None,
                  template_body=stack.previous_template_body or stack.template_body,
                  parameters=stack.previous_parameters or stack.parameters,
                  outputs=stack.previous_outputs)
    deps = deps_of_stack(stack)
    runner.delete_all({lid: r for lid, r in made.items() if r.physical_id != done.replaced[lid].physical_id},
                      deps, lambda _r: False, old=True)
    runner.delete_all(added, deps, lambda _r: False)
    for lid in added:
        journal.forget_resource(runner.store, runner.stack_id, lid)
    runner.status("UPDATE_ROLLBACK_COMPLETE", None, operation_id="", previous_template_body=None,
                  previous_parameters=[], previous_outputs=[])
