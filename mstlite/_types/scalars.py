"""Scalar types: primitives, date-times, literals, enumerations, identifiers, frozen JSON.

Scalars are stored in their parent as their snapshot value: no node per leaf.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from mstlite._types.base import Type, where
from mstlite._types.forms import Form, leaf
from mstlite._util.frozen import freeze

if TYPE_CHECKING:
    from mstlite._engine.transaction import Transaction
    from mstlite._node.node import Node

__all__ = [
    "DateTimeType",
    "EnumerationType",
    "FrozenType",
    "IdentifierType",
    "LiteralType",
    "PrimitiveType",
]


class PrimitiveType(Type):
    """``str``, ``int`` (rejects ``bool``), ``float`` (accepts ``int``) or ``bool``."""

    _schemas = {
        str: cs.str_schema(strict=True),
        int: cs.int_schema(strict=True),
        float: cs.float_schema(strict=True),
        bool: cs.bool_schema(strict=True),
    }

    def __init__(self, py_type: type) -> None:
        super().__init__(py_type.__name__)
        self.py_type = py_type
        self.stored_as_is = py_type  # see to_stored

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return self._schemas[self.py_type]

    def form(self) -> Form:
        return leaf(self.py_type)

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        kind = type(value)
        if kind is self.py_type:
            return value
        if kind is int and self.py_type is float:
            return float(value)
        return freeze(self.normalize(value, where(parent, key)))


class DateTimeType(Type):
    """A ``datetime``; its snapshot is the ISO 8601 string."""

    needs_read = True

    def __init__(self) -> None:
        super().__init__("datetime")

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return cs.no_info_after_validator_function(_iso, cs.datetime_schema())

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        return self.normalize(value, where(parent, key))

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        return datetime.fromisoformat(stored)


def _iso(value: datetime) -> str:
    return value.isoformat()


class LiteralType(Type):
    """One of a fixed set of JSON scalars (``Literal[...]``)."""

    def __init__(self, values: Sequence[Any]) -> None:
        super().__init__(" | ".join(repr(v) for v in values))
        self.values = tuple(values)

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return cs.literal_schema(list(self.values))

    def form(self) -> Form:
        return leaf(*map(type, self.values))


class EnumerationType(Type):
    """An ``enum.Enum`` (snapshot holds the member's value) or a list of strings."""

    def __init__(self, name: str, options: type[enum.Enum] | Sequence[str]) -> None:
        super().__init__(name)
        if isinstance(options, type) and issubclass(options, enum.Enum):
            self.enum: type[enum.Enum] | None = options
            self.values: tuple[Any, ...] = tuple(m.value for m in options)
            self.needs_read = True
        else:
            self.enum = None
            self.values = tuple(options)

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        literal = cs.literal_schema(list(self.values))
        if self.enum is None:
            return literal
        enum_class = self.enum
        return cs.no_info_before_validator_function(
            lambda v: v.value if isinstance(v, enum_class) else v, literal
        )

    def form(self) -> Form:
        return leaf(*map(type, self.values))  # the snapshot holds the member's value

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        if self.enum is not None and isinstance(value, self.enum):
            return value.value
        return self.normalize(value, where(parent, key))

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        return self.enum(stored) if self.enum is not None else stored


class IdentifierType(Type):
    """The string that identifies a model node, unique per type in a tree."""

    is_identifier = True

    def __init__(self) -> None:
        super().__init__("identifier")

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return cs.str_schema(strict=True, min_length=1)

    def form(self) -> Form:
        return leaf(str)


class FrozenType(Type):
    """An immutable JSON value (``Frozen[T]`` or ``Any``), stored as its frozen snapshot."""

    def __init__(self, inner: Type | None = None) -> None:
        super().__init__(f"frozen[{inner.name}]" if inner else "frozen")
        self.inner = inner

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        inner = self.inner.build_schema(defs) if self.inner else cs.any_schema()
        return cs.no_info_after_validator_function(_freeze_json, inner)

    def form(self) -> Form:
        # An equal but new frozen container is a change (compared by identity, as in
        # MST), and a number's type cannot be told from an equal one's here (True == 1):
        # only strings and None are certain.
        return leaf(str, type(None))


def _freeze_json(value: Any) -> Any:
    try:
        return freeze(value)
    except TypeError as error:  # pydantic turns ValueError into a validation error
        raise ValueError(str(error)) from None
