"""Utility types: maybe, optional, union, late (forward references), refinement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import CoreSchema, PydanticCustomError
from pydantic_core import core_schema as cs

from mstlite._node.node import Node
from mstlite._types.base import LABEL, MISSING, Type, snapshot_of, where
from mstlite._types.forms import Form, LateForm, nullable
from mstlite.errors import MstError, ValidationError

if TYPE_CHECKING:
    from mstlite._engine.transaction import Transaction
    from mstlite._node.tree import Tree

__all__ = ["LateType", "MaybeType", "OptionalType", "RefinementType", "UnionType"]


class _Wrapper(Type):
    """A type that delegates the node side to ``inner``."""

    def __init__(self, name: str, inner: Type) -> None:
        super().__init__(name)
        self.inner = inner
        self.is_complex = inner.is_complex
        self.needs_read = inner.needs_read

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return self.inner.build_schema(defs)

    def accepts_node(self, node: Node) -> bool:
        return self.inner.accepts_node(node)

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Tree | None) -> Any:
        return self.inner.instantiate(snapshot, parent, key, tree)

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        return self.inner.to_stored(value, parent, key, tx)

    def reconcile(self, old: Any, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        return self.inner.reconcile(old, value, parent, key, tx)

    def reconcile_normalized(
        self, old: Any, snapshot: Any, parent: Node, key: Any, tx: Transaction
    ) -> Any:
        return self.inner.reconcile_normalized(old, snapshot, parent, key, tx)

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        return self.inner.read(stored, owner)

    def create_from_normalized(self, normalized: Any, env: Any) -> Any:
        return self.inner.create_from_normalized(normalized, env)

    def contains_safe_references(self) -> bool:
        return self.inner.contains_safe_references()

    def form(self) -> Form:
        return self.inner.form()


class MaybeType(_Wrapper):
    """``X | None``: the value may be ``None``; defaults to ``None``."""

    def __init__(self, inner: Type) -> None:
        super().__init__(f"{inner.name} | None", inner)

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return cs.nullable_schema(self.inner.build_schema(defs))

    def form(self) -> Form:
        return nullable(self.inner.form())

    def default_snapshot(self) -> Any:
        return None

    def accepts_node(self, node: Node) -> bool:
        return self.inner.accepts_node(node)

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Tree | None) -> Any:
        return None if snapshot is None else self.inner.instantiate(snapshot, parent, key, tree)

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        return None if value is None else self.inner.to_stored(value, parent, key, tx)

    def reconcile(self, old: Any, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        if value is None:
            return None
        if old is None:
            return self.inner.to_stored(value, parent, key, tx)
        return self.inner.reconcile(old, value, parent, key, tx)

    def reconcile_normalized(
        self, old: Any, snapshot: Any, parent: Node, key: Any, tx: Transaction
    ) -> Any:
        if snapshot is None:
            return None
        return self.inner.reconcile_normalized(old, snapshot, parent, key, tx)

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        return None if stored is None else self.inner.read(stored, owner)

    def create_from_normalized(self, normalized: Any, env: Any) -> Any:
        return None if normalized is None else self.inner.create_from_normalized(normalized, env)


class OptionalType(_Wrapper):
    """``optional(T, default)``: a model property that may be left out of a snapshot."""

    def __init__(self, inner: Type, default: Any) -> None:
        super().__init__(inner.name, inner)
        self._default = default

    def default_snapshot(self) -> Any:
        default = self._default
        return default() if callable(default) else default


class RefinementType(_Wrapper):
    """A type whose snapshots must also satisfy a predicate."""

    def __init__(self, inner: Type, predicate: Callable[[Any], bool], message: str) -> None:
        super().__init__(inner.name, inner)
        self.predicate = predicate
        self.message = message

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        predicate, message = self.predicate, self.message

        def check(value: Any) -> Any:
            if not predicate(value):
                raise PydanticCustomError("refinement", message)
            return value

        return cs.no_info_after_validator_function(check, self.inner.build_schema(defs))

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        stored = self.inner.to_stored(value, parent, key, tx)
        if not self.inner.is_complex and not self.predicate(snapshot_of(stored)):
            return self.normalize(value, where(parent, key))
        return stored

    def default_snapshot(self) -> Any:
        return self.inner.default_snapshot()


class LateType(_Wrapper):
    """A type resolved on first use: for recursive and forward-referenced types."""

    def __init__(self, thunk: Callable[[], Type], name: str = "late") -> None:
        Type.__init__(self, name)
        self._thunk = thunk
        self._inner: Type | None = None

    @property
    def inner(self) -> Type:
        if self._inner is None:
            inner = self._thunk()
            if not isinstance(inner, Type):
                raise TypeError(
                    f"late type {self.name!r}: the function returned {inner!r}, not a type"
                )
            self._inner = inner
            self.name = inner.name
        return self._inner

    @inner.setter
    def inner(self, value: Type) -> None:  # _Wrapper.__init__ is not used
        self._inner = value

    @property
    def is_complex(self) -> bool:  # type: ignore[override]
        return self.inner.is_complex

    @property
    def needs_read(self) -> bool:  # type: ignore[override]
        return self.inner.needs_read

    def default_snapshot(self) -> Any:
        return self.inner.default_snapshot()

    def form(self) -> Form:
        return LateForm(lambda: self.inner.form())  # asked for while it may be resolving


class UnionType(Type):
    """One of several types; a snapshot goes to the first member that accepts it
    (or to ``dispatcher(snapshot)`` when given)."""

    def __init__(
        self, members: Sequence[Type], dispatcher: Callable[[Any], Type] | None = None
    ) -> None:
        super().__init__(" | ".join(m.name for m in members))
        if not members:
            raise MstError("a union needs at least one member type")
        self.members = tuple(members)
        self.dispatcher = dispatcher

    @property
    def is_complex(self) -> bool:  # type: ignore[override]
        return any(m.is_complex for m in self.members)

    @property
    def needs_read(self) -> bool:  # type: ignore[override]
        return any(m.needs_read for m in self.members)

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        choices: list[Any] = [(m.build_schema(defs), LABEL + m.name) for m in self.members]
        return cs.union_schema(choices, mode="left_to_right")

    def default_snapshot(self) -> Any:
        return MISSING

    def member_for(self, snapshot: Any) -> Type:
        if self.dispatcher is not None:
            return self.dispatcher(snapshot)
        for member in self.members:
            if not member.validate(snapshot):
                return member
        raise ValidationError(f"no member of {self.name} accepts {snapshot!r}")

    def accepts_node(self, node: Node) -> bool:
        return any(m.accepts_node(node) for m in self.members)

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Tree | None) -> Any:
        if not self.is_complex:
            return snapshot
        return self.member_for(snapshot).instantiate(snapshot, parent, key, tree)

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        if isinstance(value, Node):
            for member in self.members:
                if member.accepts_node(value):
                    return member.to_stored(value, parent, key, tx)
        normalized = self.normalize(value, where(parent, key))
        member = self.member_for(normalized)
        return member.to_stored(normalized, parent, key, tx)

    def reconcile(self, old: Any, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        if isinstance(old, Node) and not isinstance(value, Node):
            normalized = self.normalize(value, where(parent, key))
            member = self.member_for(normalized)
            if member.accepts_node(old):
                return member.reconcile(old, normalized, parent, key, tx)
            return member.to_stored(normalized, parent, key, tx)
        return self.to_stored(value, parent, key, tx)

    def reconcile_normalized(
        self, old: Any, snapshot: Any, parent: Node, key: Any, tx: Transaction
    ) -> Any:
        member = self.member_for(snapshot)
        return member.reconcile_normalized(old, snapshot, parent, key, tx)

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        if isinstance(stored, Node) or not self.needs_read:
            return stored
        for member in self.members:
            if member.needs_read and not member.is_complex and not member.validate(stored):
                return member.read(stored, owner)
        return stored

    def create_from_normalized(self, normalized: Any, env: Any) -> Any:
        return self.member_for(normalized).create_from_normalized(normalized, env)
