"""Type objects for building types at run time; annotations compile to these.

Every type has ``create(snapshot=None, *, env=None)``, ``is_(value)``,
``validate(snapshot)``, ``name`` and ``json_schema()``. Arguments that take a
type also take an annotation (``str``, ``list[Todo]``, a Model class).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

from mstlite._types.annotations import to_type
from mstlite._types.array import ArrayType
from mstlite._types.base import Type
from mstlite._types.declare import Model, ModelMeta
from mstlite._types.map import MapType
from mstlite._types.model import ModelType
from mstlite._types.reference import ReferenceType
from mstlite._types.scalars import (
    DateTimeType,
    EnumerationType,
    FrozenType,
    IdentifierType,
    LiteralType,
)
from mstlite._types.wrappers import LateType, MaybeType, OptionalType, RefinementType, UnionType

__all__ = [
    "ArrayType",
    "MapType",
    "ModelType",
    "Type",
    "array",
    "boolean",
    "datetime",
    "enumeration",
    "frozen",
    "identifier",
    "integer",
    "late",
    "literal",
    "map",
    "maybe",
    "model",
    "number",
    "optional",
    "reference",
    "refinement",
    "safe_reference",
    "string",
    "union",
]

T = TypeVar("T")

string: Type = to_type(str)
"""``str``, as the annotation ``str``."""
integer: Type = to_type(int)
"""``int``, as the annotation ``int``: ``bool`` is rejected."""
number: Type = to_type(float)
"""``float``, as the annotation ``float``: an ``int`` is accepted."""
boolean: Type = to_type(bool)
"""``bool``, as the annotation ``bool``."""
datetime: Type = DateTimeType()
"""A ``datetime.datetime``, held in snapshots as an ISO 8601 string."""
identifier: Type = IdentifierType()
"""An identifier string, unique per model type within a tree (the annotation ``Identifier``)."""


def model(
    name_or_class: str | type[Model],
    properties: Mapping[str, Any] | None = None,
    *,
    unknown_keys: Literal["reject", "drop"] | None = None,
) -> ModelType:
    """The type of a Model class, or a new model type built from ``{name: type}``.

    Give a property a default with ``optional(type, default)``. ``unknown_keys``
    is the class keyword of the same name (``"drop"`` ignores snapshot keys the
    model does not declare, as MST does; ``"reject"``, the default, refuses them);
    a class keeps the setting declared on it (another one is a ``TypeError``).
    """
    if isinstance(name_or_class, type):
        if unknown_keys is not None and unknown_keys != name_or_class._mst_unknown_keys:
            raise TypeError(
                f"types.model({name_or_class.__name__}, unknown_keys={unknown_keys!r}): a "
                "class keeps its own setting; declare it on the class: "
                f"class {name_or_class.__name__}(Model, unknown_keys={unknown_keys!r})"
            )
        return name_or_class._mst_type
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__}
    for prop, kind in (properties or {}).items():
        annotations[prop] = to_type(kind)
    cls = ModelMeta(name_or_class, (Model,), namespace, unknown_keys=unknown_keys)
    return cls._mst_type  # type: ignore[attr-defined, no-any-return]


@overload
def array(item: type[T]) -> ArrayType[T]: ...
@overload
def array(item: Any) -> ArrayType[Any]: ...
def array(item: Any) -> ArrayType[Any]:
    """An array of ``item``; defaults to ``[]`` in a model.

    ``array(Todo).create()`` is a ``list[Todo]`` to type checkers (an
    ``ArrayNode`` at run time). Raises ``TypeError`` when ``item`` is not a type.
    """
    return ArrayType(to_type(item))


@overload
def map(item: type[T]) -> MapType[T]: ...
@overload
def map(item: Any) -> MapType[Any]: ...
def map(item: Any) -> MapType[Any]:
    """A map from strings to ``item``; defaults to ``{}`` in a model.

    ``map(Todo).create()`` is a ``dict[str, Todo]`` to type checkers (a
    ``MapNode`` at run time). Raises ``TypeError`` when ``item`` is not a type.
    """
    return MapType(to_type(item))


def maybe(inner: Any) -> MaybeType:
    """``inner`` or ``None``; defaults to ``None`` in a model."""
    return MaybeType(to_type(inner))


def optional(inner: Any, default: Any) -> OptionalType:
    """``inner`` with a default snapshot (or a function returning one)."""
    return OptionalType(to_type(inner), default)


def union(*members: Any, dispatcher: Callable[[Any], Type] | None = None) -> UnionType:
    """One of ``members``: the first that accepts a snapshot, or ``dispatcher(snapshot)``."""
    return UnionType([to_type(m) for m in members], dispatcher)


def literal(*values: Any) -> LiteralType:
    """Exactly one of ``values`` (JSON scalars)."""
    return LiteralType(values)


def enumeration(
    name: str | type[enum.Enum], options: Sequence[str] | None = None
) -> EnumerationType:
    """An ``enum.Enum`` class, or a named set of strings: ``enumeration("Color", ["red"])``."""
    if isinstance(name, type) and issubclass(name, enum.Enum):
        return EnumerationType(name.__name__, name)
    if options is None:
        raise TypeError("enumeration(name, options) needs the options")
    return EnumerationType(str(name), options)


def frozen(inner: Any = None) -> FrozenType:
    """An immutable JSON value, optionally of a given shape."""
    return FrozenType(None if inner is None else to_type(inner))


def reference(target: Any) -> ReferenceType:
    """A reference to a node of ``target``; the snapshot holds its identifier."""
    return ReferenceType(LateType(lambda: to_type(target), _name(target)))


def safe_reference(target: Any) -> ReferenceType:
    """A reference that is cleared (or removed from its array or map) when its target leaves."""
    return ReferenceType(LateType(lambda: to_type(target), _name(target)), safe=True)


def refinement(
    inner: Any, predicate: Callable[[Any], bool], message: str = "value is not valid"
) -> RefinementType:
    """``inner`` whose snapshots also satisfy ``predicate``."""
    return RefinementType(to_type(inner), predicate, message)


def late(thunk: Callable[[], Any]) -> LateType:
    """A type resolved on first use, for recursive or later-defined types.

    ``thunk`` returns a type or anything an annotation may be (a Model class, ...).
    """
    return LateType(lambda: to_type(thunk()))


def _name(target: Any) -> str:
    return getattr(target, "name", None) or getattr(target, "__name__", None) or "late"
