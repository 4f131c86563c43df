"""Compile Python annotations (``list[Todo]``, ``Ref[Todo] | None``, ...) into mstlite types."""

from __future__ import annotations

import enum
import functools
import types as pytypes
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, ForwardRef, Literal, TypeVar, Union, get_args, get_origin

from mstlite._types.array import ArrayType
from mstlite._types.base import Type
from mstlite._types.forward import Namespace
from mstlite._types.map import MapType
from mstlite._types.model import ModelNode
from mstlite._types.reference import ReferenceType
from mstlite._types.scalars import (
    DateTimeType,
    EnumerationType,
    FrozenType,
    IdentifierType,
    LiteralType,
    PrimitiveType,
)
from mstlite._types.wrappers import LateType, MaybeType, RefinementType, UnionType

__all__ = [
    "Frozen",
    "Identifier",
    "Ref",
    "Refinement",
    "SafeRef",
    "refine",
    "to_type",
]

T = TypeVar("T")


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"mstlite.{self.name}"


_IDENTIFIER = _Marker("Identifier")
_REFERENCE = _Marker("Ref")
_SAFE_REFERENCE = _Marker("SafeRef")
_FROZEN = _Marker("Frozen")

Identifier = Annotated[str, _IDENTIFIER]
"""An identifier property: a ``str`` unique per model type within a tree.

A second node of the same type with the same identifier raises
``ValidationError`` (an ``IdentifierClashError``) when built or added;
assigning a new identifier raises ``TreeError``.
"""
Ref = Annotated[T, _REFERENCE]
"""``Ref[T]``: a reference to a ``T`` node; the snapshot holds its identifier.

Type checkers see a ``T`` (assign the node or its identifier at run time).
Reading it raises ``InvalidReferenceError`` when no such node is in the tree.
"""
SafeRef = Annotated[T, _SAFE_REFERENCE]
"""``SafeRef[T]``: a reference set to ``None`` (or dropped from its array or map)
when its target leaves the tree, so reading it never raises."""
Frozen = Annotated[T, _FROZEN]
"""``Frozen[T]``: an immutable JSON value stored as is (``Frozen[Any]`` for any JSON).

A value that is not JSON raises ``ValidationError``.
"""


class Refinement:
    """Marker for ``Annotated[T, refine(predicate, message)]``."""

    def __init__(self, predicate: Callable[[Any], bool], message: str) -> None:
        self.predicate = predicate
        self.message = message


def refine(predicate: Callable[[Any], bool], message: str = "value is not valid") -> Refinement:
    """Refine a type in an annotation: ``Annotated[int, refine(lambda v: v > 0, "must be > 0")]``.

    The predicate receives the snapshot value.
    """
    return Refinement(predicate, message)


_PRIMITIVES: dict[Any, Type] = {
    str: PrimitiveType(str),
    int: PrimitiveType(int),
    float: PrimitiveType(float),
    bool: PrimitiveType(bool),
}
_DATETIME = DateTimeType()
_IDENTIFIER_TYPE = IdentifierType()


def to_type(annotation: Any, resolve: Namespace | None = None) -> Type:
    """Map an annotation to a type; raises ``TypeError`` naming what is not supported.

    Names written as strings resolve in ``resolve`` (the defining scope of the
    model whose annotation this is), lazily, so they may name later classes.
    """
    if isinstance(annotation, Type):
        return annotation
    primitive = _PRIMITIVES.get(annotation)
    if primitive is not None:
        return primitive
    if annotation is datetime:
        return _DATETIME
    if annotation is Any:
        return FrozenType()
    if isinstance(annotation, str | ForwardRef):
        name = annotation if isinstance(annotation, str) else annotation.__forward_arg__
        return _forward(name, resolve)
    if isinstance(annotation, type):
        if issubclass(annotation, ModelNode):
            return annotation._mst_type
        if issubclass(annotation, enum.Enum):
            return EnumerationType(annotation.__name__, annotation)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _annotated(args[0], args[1:], resolve)
    if origin is Union or origin is pytypes.UnionType:
        members = [a for a in args if a is not type(None)]
        inner = (
            to_type(members[0], resolve)
            if len(members) == 1
            else UnionType([to_type(m, resolve) for m in members])
        )
        return MaybeType(inner) if len(members) < len(args) else inner
    if origin is list:
        return ArrayType(to_type(args[0], resolve) if args else FrozenType())
    if origin is dict:
        if args and args[0] is not str:
            raise TypeError(f"map keys must be str, not {args[0]!r}: use dict[str, X]")
        return MapType(to_type(args[1], resolve) if args else FrozenType())
    if origin is Literal:
        return LiteralType(args)
    if origin is typing.ClassVar:
        raise TypeError("ClassVar annotations are not properties")
    raise TypeError(
        f"cannot use {annotation!r} as an mstlite property type; use str, int, float, bool, "
        "datetime, Literal, an Enum, a Model, list[X], dict[str, X], X | None, Ref[X], "
        "Frozen[X], Any, or a type from mstlite.types"
    )


def _annotated(base: Any, metadata: tuple[Any, ...], resolve: Namespace | None) -> Type:
    kind: Type | None = None
    for marker in metadata:
        if marker is _IDENTIFIER:
            kind = _IDENTIFIER_TYPE
        elif marker is _REFERENCE or marker is _SAFE_REFERENCE:
            target = LateType(functools.partial(to_type, base, resolve), _name_of(base))
            kind = ReferenceType(target, safe=marker is _SAFE_REFERENCE)
        elif marker is _FROZEN:
            kind = FrozenType(None if base is Any else to_type(base, resolve))
        elif isinstance(marker, Refinement):
            inner = kind if kind is not None else to_type(base, resolve)
            kind = RefinementType(inner, marker.predicate, marker.message)
    return kind if kind is not None else to_type(base, resolve)


def _name_of(annotation: Any) -> str:
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, ForwardRef):
        return annotation.__forward_arg__
    return getattr(annotation, "__name__", repr(annotation))


def _forward(expression: str, resolve: Namespace | None) -> Type:
    """A type resolved on first use from an annotation written as a string."""

    def thunk() -> Type:
        if resolve is None:
            raise TypeError(
                f"cannot resolve the forward reference {expression!r}: a string names a "
                "class only in a model's annotations; pass the class itself, or use "
                "types.late(lambda: T)"
            )
        return to_type(resolve.evaluate(expression), resolve)

    return LateType(thunk, expression)
