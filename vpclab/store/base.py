"""Resources, transactions and the in-memory view that the persistence layer backs.

Every resource is a dataclass of JSON-native fields (or of value dataclasses and lists
or dicts of them, encoded and decoded from the field types), keyed by (kind, id) and
owned by an (account, region). The store keeps all of them in memory for fast reads and writes each
transaction through to a `Persistence` before it becomes visible, so a response is only
sent for state that survives `kill -9`. Persistence is a two-method seam so that a
PostgreSQL store can follow the SQLite one.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import threading
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

T = TypeVar("T", bound="Resource")


@dataclass
class Resource:
    """Base of every stored resource. `kind` names the class in the store."""

    kind: ClassVar[str] = ""
    id: str
    account: str
    region: str

    def to_json(self) -> str:
        # The same document `dataclasses.asdict` gives, without its deep copy: a value
        # dataclass is encoded as its fields (they are JSON-native or value dataclasses).
        return json.dumps(vars(self), separators=(",", ":"), default=vars)

    def copy(self: T) -> T:
        """A private copy, as deep as the data: what a write transaction hands out.

        Fields hold JSON-native values and value dataclasses only, so this walks them
        directly; `copy.deepcopy` costs about twice as much on every write."""
        return _copied(self)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return _from_dict(cls, json.loads(text))


D = TypeVar("D")


def _from_dict(cls: type[D], data: dict[str, Any]) -> D:
    """`cls` from the dict `dataclasses.asdict` made of one, at any depth.

    Fields added since the row was written take their defaults; fields removed since are
    dropped, in nested value dataclasses as at the top, so old state directories keep
    loading."""
    fields = _field_types(cls)
    return cls(**{k: v if fields[k] is None else _decode(fields[k], v)
                  for k, v in data.items() if k in fields})


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """Each init field of dataclass `cls` and its resolved type, or None where the type
    holds no dataclass (the JSON value is the field's value). Resolved once per class."""
    known = _FIELD_TYPES.get(cls)
    if known is None:
        hints = typing.get_type_hints(cls)
        known = _FIELD_TYPES[cls] = {f.name: hints[f.name] if _holds_dataclass(hints[f.name]) else None
                                     for f in dataclasses.fields(cls) if f.init}
    return known


def _holds_dataclass(tp: Any) -> bool:
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return True
    return any(_holds_dataclass(a) for a in typing.get_args(tp))


def _decode(tp: Any, value: Any) -> Any:
    """`value` as JSON gave it, made the `tp` a field declares: value dataclasses are built
    again inside lists, dicts and optionals; every other value is kept as it is."""
    if value is None:
        return None
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _from_dict(tp, value)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list and args:
        return [_decode(args[0], v) for v in value]
    if origin is dict and len(args) == 2:
        return {k: _decode(args[1], v) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if len(members) == 1:
            return _decode(members[0], value)
    return value


def resource(kind: str) -> Callable[[type[T]], type[T]]:
    """Name a dataclass's kind in the store. A store serves the kinds it is opened with."""

    def name(cls: type[T]) -> type[T]:
        cls.kind = kind
        return cls

    return name


def _copied(value: Any) -> Any:
    """A deep copy of a JSON-native value or (value) dataclass, by walking it."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        clone = object.__new__(type(value))
        clone.__dict__.update({k: _copied(v) for k, v in vars(value).items()})
        return clone
    return copy.deepcopy(value)  # tuples and anything else a field might hold


class UnknownKind(TypeError):
    """A resource class the store was not opened with: a programming error, never a row to drop."""


Key = tuple[str, str]  # (kind, id)


class Persistence(Protocol):
    def load(self) -> Iterable[tuple[str, str, str]]:
        """Every stored (kind, id, json body), in the order they were first written."""

    def commit(self, puts: list[Resource], deletes: list[Key]) -> None:
        """Write one transaction durably; return only once it survives a crash."""

    def close(self) -> None: ...


class Store:
    """All resources in memory, written through to persistence one transaction at a time."""

    def __init__(self, persistence: Persistence, kinds: Iterable[type[Resource]]):
        """`kinds` are every resource class this store serves (`vpclab.model.KINDS`).

        They are given, not discovered by import side effects: a store opened before some
        module was imported would otherwise load none of that module's rows. Reading or
        writing a class not given raises `UnknownKind`."""
        self._persistence = persistence
        self._lock = threading.RLock()
        self._kinds: dict[str, type[Resource]] = {}
        for cls in kinds:
            if not cls.kind:
                raise UnknownKind(f"{cls.__name__} has no kind: decorate it with @resource")
            if self._kinds.setdefault(cls.kind, cls) is not cls:
                raise ValueError(f"resource kind {cls.kind!r} given twice")
        self._data: dict[str, dict[str, Resource]] = {kind: {} for kind in self._kinds}
        self._listeners: list[Callable[[set[Key]], None]] = []
        for kind, rid, body in persistence.load():
            known = self._kinds.get(kind)
            if known is None:
                continue  # a kind this version no longer has: keep the row, ignore it
            self._data[kind][rid] = known.from_json(body)

    def kind_class(self, kind: str) -> type[Resource] | None:
        """The class of a kind this store serves, by its name."""
        return self._kinds.get(kind)

    def _rows(self, cls: type[Resource]) -> dict[str, Resource]:
        rows = self._data.get(cls.kind)
        if rows is None or self._kinds[cls.kind] is not cls:
            raise UnknownKind(f"the store does not serve {cls.__name__} (kind {cls.kind!r})")
        return rows

    def subscribe(self, listener: Callable[[set[Key]], None]) -> None:
        """Call `listener(changed_keys)` after each commit (the data plane marks itself dirty)."""
        self._listeners.append(listener)

    @contextmanager
    def read(self) -> Iterator["Transaction"]:
        """A read-only view. Objects it returns are shared: never mutate them."""
        with self._lock:
            yield Transaction(self, writable=False)

    @contextmanager
    def write(self) -> Iterator["Transaction"]:
        """A transaction: all of it is durable before the block returns, or none of it is."""
        with self._lock:
            tx = Transaction(self, writable=True)
            yield tx
            changed = tx._commit()
        if changed:
            for listener in self._listeners:
                listener(changed)

    def close(self) -> None:
        self._persistence.close()

    # Used by Transaction ---------------------------------------------------------------
    def _apply(self, puts: list[Resource], deletes: list[Key]) -> None:
        self._persistence.commit(puts, deletes)
        for obj in puts:
            self._data[obj.kind][obj.id] = obj
        for kind, rid in deletes:
            self._data[kind].pop(rid, None)


class Transaction:
    """Reads see the transaction's own writes; writes reach the store only on commit."""

    def __init__(self, store: Store, writable: bool):
        self._store = store
        self._writable = writable
        self._overlay: dict[Key, Resource | None] = {}

    def get(self, cls: type[T], rid: str) -> T | None:
        key = (cls.kind, rid)
        if key in self._overlay:
            return self._overlay[key]  # type: ignore[return-value]
        obj = self._store._rows(cls).get(rid)
        if obj is None or not self._writable:
            return obj  # type: ignore[return-value]
        mine = obj.copy()
        self._overlay[key] = mine
        return mine  # type: ignore[return-value]

    def list(
        self,
        cls: type[T],
        account: str | None = None,
        region: str | None = None,
        where: Callable[[T], bool] | None = None,
        **equal: Any,
    ) -> list[T]:
        """Resources of a kind, optionally of one account/region, matching every filter."""
        base = self._store._rows(cls)
        out: list[T] = []
        seen: set[str] = set()
        for rid, stored in base.items():
            seen.add(rid)
            obj = self._overlay.get((cls.kind, rid), stored)  # None: deleted in this transaction
            if obj is None:
                continue
            if _matches(obj, account, region, where, equal):
                out.append(self.get(cls, rid) if self._writable else obj)  # type: ignore[arg-type]
        for (kind, rid), obj in self._overlay.items():
            if kind == cls.kind and rid not in seen and obj is not None:
                if _matches(obj, account, region, where, equal):
                    out.append(obj)  # type: ignore[arg-type]
        return out

    def put(self, obj: Resource) -> None:
        self._check_writable()
        self._store._rows(type(obj))
        self._overlay[(obj.kind, obj.id)] = obj

    def delete(self, obj: Resource) -> None:
        self._check_writable()
        self._store._rows(type(obj))
        self._overlay[(obj.kind, obj.id)] = None

    def kind_class(self, kind: str) -> type[Resource] | None:
        return self._store.kind_class(kind)

    def _check_writable(self) -> None:
        if not self._writable:
            raise RuntimeError("write in a read-only transaction")

    def _commit(self) -> set[Key]:
        if not self._overlay:
            return set()
        puts: list[Resource] = []
        deletes: list[Key] = []
        base = self._store._data
        for key, obj in self._overlay.items():
            if obj is None:
                if key[1] in base.get(key[0], {}):
                    deletes.append(key)
            elif base.get(key[0], {}).get(key[1]) != obj:
                puts.append(obj)
        if puts or deletes:
            self._store._apply(puts, deletes)
        return {(o.kind, o.id) for o in puts} | set(deletes)


def _matches(obj: Resource, account: str | None, region: str | None,
             where: Callable[[Any], bool] | None, equal: dict[str, Any]) -> bool:
    if account is not None and obj.account != account:
        return False
    if region is not None and obj.region != region:
        return False
    for name, value in equal.items():
        if getattr(obj, name) != value:
            return False
    return where is None or where(obj)
