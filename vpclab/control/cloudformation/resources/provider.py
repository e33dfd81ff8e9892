"""What every resource type's provider is: create, update in place, delete, and the rule
that decides between an update and a replacement.

A provider's work is AWS calls through `Api`; an AWS error becomes `ResourceFailed` with
the reason CloudFormation's events show. Subclasses write `_create`, `_update`,
`_delete`; the public methods translate the errors, once, here.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .api import CLOUDFORMATION_TAGS, Api, ApiError
from .schemas import Schema, schema, typed

Props = dict[str, Any]


@dataclass(frozen=True)
class StackRef:
    """The stack a resource belongs to, as CloudFormation tags what it makes."""

    stack_name: str
    stack_id: str
    logical_id: str

    def tags(self) -> list[dict[str, str]]:
        return [{"Key": CLOUDFORMATION_TAGS + "stack-name", "Value": self.stack_name},
                {"Key": CLOUDFORMATION_TAGS + "stack-id", "Value": self.stack_id},
                {"Key": CLOUDFORMATION_TAGS + "logical-id", "Value": self.logical_id}]


@dataclass
class Outcome:
    """A resource made or changed: its physical id (its Ref value) and its GetAtt values."""

    physical_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


class ResourceFailed(Exception):
    """A resource's create, update or delete failed; `reason` is its event's ResourceStatusReason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@contextmanager
def _failing() -> Iterator[None]:
    try:
        yield
    except ApiError as err:
        raise ResourceFailed(err.reason()) from err


class Provider:
    """One resource type. `type_name` names it; its schema decides what replaces."""

    type_name: ClassVar[str] = ""

    @property
    def schema(self) -> Schema:
        found = schema(self.type_name)
        assert found is not None, f"cfn-lint has no schema for {self.type_name}"
        return found

    def create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        with _failing():
            return self._create(api, logical_id, typed(self.schema, props), stack)

    def update(self, api: Api, physical_id: str, old_props: Props, new_props: Props, stack: StackRef) -> Outcome:
        """In place: only called when `replaces` said no."""
        with _failing():
            return self._update(api, physical_id, typed(self.schema, old_props), typed(self.schema, new_props),
                                stack)

    def delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        """Gone already is success; returns once what depends on the resource being gone can go."""
        with _failing():
            self._delete(api, physical_id, typed(self.schema, props), stack)

    def replaces(self, old_props: Props, new_props: Props) -> bool:
        """Whether the change needs a new resource: a create-only property of the schema changed."""
        old, new = typed(self.schema, old_props), typed(self.schema, new_props)
        return any(_at(old, path) != _at(new, path) for path in self.schema.create_only)

    # What each type writes --------------------------------------------------------------
    def _create(self, api: Api, logical_id: str, props: Props, stack: StackRef) -> Outcome:
        raise NotImplementedError

    def _update(self, api: Api, physical_id: str, old_props: Props, new_props: Props, stack: StackRef) -> Outcome:
        raise NotImplementedError

    def _delete(self, api: Api, physical_id: str, props: Props, stack: StackRef) -> None:
        raise NotImplementedError


def _at(props: Props, path: tuple[str, ...]) -> Any:
    """The value at a schema path (None where any part is missing)."""
    value: Any = props
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


_PROVIDERS: dict[str, Provider] = {}


def provides(cls: type[Provider]) -> type[Provider]:
    """Register a provider class for its `type_name` (one instance serves every stack)."""
    if cls.type_name in _PROVIDERS:
        raise ValueError(f"{cls.type_name} has two providers")
    _PROVIDERS[cls.type_name] = cls()
    return cls


def provider(type_name: str) -> Provider | None:
    """The provider of a type; None: vpclab does not make it."""
    return _PROVIDERS.get(type_name)


def provided_types() -> list[str]:
    return sorted(_PROVIDERS)
