"""Per-model snapshot types: write a model's ``TypedDict`` pair, check a declared pair.

A model may name its snapshot types for type checkers,
``class Todo(Model[TodoSnapshot, TodoSnapshotIn])``, in the spirit of
MobX-State-Tree's ``SnapshotOut`` and ``SnapshotIn``. Python cannot compute
those from the class, so they are written once (``snapshot_types`` writes
them) and checked against the model (``check_snapshot_types``, for a test),
which keeps them from drifting when a property changes.

Shapes are compared, not spellings: ``str | None`` and ``Optional[str]`` are
one shape; a ``Frozen``/``Any`` property accepts any declared type.
"""

from __future__ import annotations

import types as pytypes
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from mstlite._types.array import ArrayType
from mstlite._types.base import MISSING, Type
from mstlite._types.map import MapType
from mstlite._types.model import ModelType
from mstlite._types.reference import ReferenceType
from mstlite._types.scalars import (
    DateTimeType,
    EnumerationType,
    FrozenType,
    IdentifierType,
    LiteralType,
    PrimitiveType,
)
from mstlite._types.wrappers import MaybeType, UnionType, _Wrapper

__all__ = ["check_snapshot_types", "declared_snapshot_types", "snapshot_types"]

# A shape: ("name", "str"), ("list", s), ("dict", s), ("union", frozenset),
# ("literal", frozenset), ("typeddict", cls), ("json",) (anything matches it).
Shape = tuple[Any, ...]
_JSON: Shape = ("json",)
# mstlite.typing's JSON aliases are strings at run time, which get_type_hints
# would evaluate in the user's module; any JSON value matches them anyway.
_JSON_NAMES: dict[str, Any] = {"JSONValue": Any, "JSONScalar": Any, "Snapshot": Any}


def declared_snapshot_types(cls: type) -> tuple[Any, Any] | None:
    """The ``(SnapshotOut, SnapshotIn)`` a model class names as ``Model[Out, In]``
    (``In`` is None when only ``Out`` is named), or None when it names none."""
    for klass in cls.__mro__:
        for base in vars(klass).get("__orig_bases__", ()):
            origin = typing.get_origin(base)
            # Model itself, recognized without importing it (declare imports this module's layer).
            if isinstance(origin, type) and vars(origin).get("_mst_root") is True:
                args = typing.get_args(base)
                return args[0], args[1] if len(args) > 1 else None
    return None


def _shape(kind: Type, incoming: bool) -> Shape:
    if isinstance(kind, MaybeType):
        return _union([_shape(kind.inner, incoming), ("name", "None")])
    if isinstance(kind, _Wrapper):  # optional, refinement, late: the inner shape
        return _shape(kind.inner, incoming)
    if isinstance(kind, PrimitiveType):
        return ("name", kind.py_type.__name__)
    if isinstance(kind, IdentifierType | DateTimeType | ReferenceType):
        return ("name", "str")
    if isinstance(kind, LiteralType | EnumerationType):
        return ("literal", frozenset(kind.values))
    if isinstance(kind, FrozenType):
        return _JSON
    if isinstance(kind, ArrayType):
        return ("list", _shape(kind.item, incoming))
    if isinstance(kind, MapType):
        return ("dict", _shape(kind.item, incoming))
    if isinstance(kind, UnionType):
        return _union([_shape(member, incoming) for member in kind.members])
    if isinstance(kind, ModelType):
        declared = declared_snapshot_types(kind.cls)
        chosen = None if declared is None else declared[1 if incoming else 0]
        return ("typeddict", chosen) if isinstance(chosen, type) else _JSON
    return _JSON


def _union(shapes: list[Shape]) -> Shape:
    flat: set[Shape] = set()
    for shape in shapes:
        flat.update(shape[1] if shape[0] == "union" else (shape,))
    return ("union", frozenset(flat)) if len(flat) > 1 else next(iter(flat))


def _annotation_shape(annotation: Any) -> Shape:
    if annotation is None or annotation is type(None):
        return ("name", "None")
    if annotation in (str, int, float, bool):
        return ("name", annotation.__name__)
    if annotation is Any or isinstance(annotation, str | typing.ForwardRef):
        return _JSON  # Any, or the JSONValue alias (a string at run time)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union or origin is pytypes.UnionType:
        return _union([_annotation_shape(arg) for arg in args])
    if origin is Literal:
        return ("literal", frozenset(args))
    if origin is list:
        return ("list", _annotation_shape(args[0]) if args else _JSON)
    if origin in (dict, Mapping):
        return ("dict", _annotation_shape(args[1]) if args else _JSON)
    if typing.is_typeddict(annotation):
        return ("typeddict", annotation)
    return ("name", repr(annotation))


def _matches(expected: Shape, declared: Shape) -> bool:
    if expected == _JSON or declared == _JSON:
        return True
    if expected[0] != declared[0]:
        return False
    if expected[0] in ("list", "dict"):
        return _matches(expected[1], declared[1])
    if expected[0] == "union":
        return len(expected[1]) == len(declared[1]) and all(
            any(_matches(e, d) for d in declared[1]) for e in expected[1]
        )
    return expected == declared


def _render(shape: Shape, incoming: bool) -> str:
    tag = shape[0]
    if tag == "name":
        return str(shape[1])
    if tag == "list":
        return f"list[{_render(shape[1], incoming)}]"
    if tag == "dict":
        return f"dict[str, {_render(shape[1], incoming)}]"
    if tag == "literal":
        return f"Literal[{', '.join(sorted(repr(v) for v in shape[1]))}]"
    if tag == "union":
        parts = sorted(_render(s, incoming) for s in shape[1])
        if "None" in parts:  # None last, as people write it
            parts = [p for p in parts if p != "None"] + ["None"]
        return " | ".join(parts)
    if tag == "typeddict":
        return str(shape[1].__name__)
    return "JSONValue"


def snapshot_types(model: type[Any]) -> str:
    """Python source of the ``TypedDict`` pair for ``model``'s snapshots.

    ``{Name}Snapshot`` (what ``get_snapshot`` returns: every key) and
    ``{Name}SnapshotIn`` (what ``create`` takes: keys with a default are
    ``NotRequired``). A nested model without declared snapshot types is a
    ``JSONValue``; paste the source, then declare ``class Name(Model[NameSnapshot,
    NameSnapshotIn])``. Raises ``TypeError`` when ``model`` is not a Model class.
    """
    kind = _model_type(model)
    name = model.__name__
    lines: list[str] = []
    for suffix, incoming in (("Snapshot", False), ("SnapshotIn", True)):
        lines.append(f"class {name}{suffix}(TypedDict):")
        for prop, prop_kind in kind.props.items():
            text = _render(_shape(prop_kind, incoming), incoming)
            if incoming and kind.defaults[prop] is not MISSING:
                text = f"NotRequired[{text}]"
            lines.append(f"    {prop}: {text}")
        if not kind.props:
            lines.append("    pass")
        lines.append("")
        lines.append("")
    return "\n".join(lines[:-2]) + "\n"


def check_snapshot_types(model: type[Any]) -> None:
    """Raise ``TypeError`` unless the snapshot types ``model`` declares match it.

    Checks keys, which keys are required (all in ``SnapshotOut``; those without
    a default in ``SnapshotIn``) and each value's shape; a nested model must name
    its own declared types. The message lists every difference and what to write.
    Raises ``TypeError`` too when ``model`` declares none.
    """
    kind = _model_type(model)
    declared = declared_snapshot_types(model)
    if declared is None:
        raise TypeError(
            f"{model.__name__} declares no snapshot types: write "
            f"class {model.__name__}(Model[{model.__name__}Snapshot, {model.__name__}SnapshotIn]) "
            "with the TypedDicts mstlite.snapshot_types() prints"
        )
    problems: list[str] = []
    for index, incoming in ((0, False), (1, True)):
        typed = declared[index]
        if typed is None or typing.get_origin(typed) is Mapping:
            continue  # not named: the default (a Mapping) stands
        label = "SnapshotIn" if incoming else "SnapshotOut"
        if not typing.is_typeddict(typed):
            problems.append(f"{label} {typed!r} is not a TypedDict")
            continue
        hints, required = _keys(typed)
        for prop, prop_kind in kind.props.items():
            expected = _shape(prop_kind, incoming)
            if prop not in hints:
                problems.append(f"{label} {typed.__name__} lacks key {prop!r}")
                continue
            if not _matches(expected, _annotation_shape(hints[prop])):
                problems.append(
                    f"{label} {typed.__name__}[{prop!r}] is {hints[prop]!r}; "
                    f"the model makes it {_render(expected, incoming)}"
                )
            must = not incoming or kind.defaults[prop] is MISSING
            if must != (prop in required):
                problems.append(
                    f"{label} {typed.__name__}[{prop!r}] should be "
                    f"{'required' if must else 'NotRequired'}"
                )
        for extra in sorted(set(hints) - set(kind.props)):
            problems.append(f"{label} {typed.__name__} has key {extra!r}, not a property")
    if problems:
        raise TypeError(
            f"the snapshot types of {model.__name__} do not match the model:\n  "
            + "\n  ".join(problems)
            + "\nmstlite.snapshot_types(model) prints matching ones"
        )


def _keys(typed: Any) -> tuple[dict[str, Any], set[str]]:
    """A TypedDict's value types and required keys. ``Required``/``NotRequired``
    are read from the hints: with ``from __future__ import annotations``,
    Python 3.11 leaves them out of ``__required_keys__``."""
    hints: dict[str, Any] = {}
    required: set[str] = set()
    hinted = typing.get_type_hints(typed, localns=_JSON_NAMES, include_extras=True)
    for key, hint in hinted.items():
        origin = typing.get_origin(hint)
        if origin is typing.Required or origin is typing.NotRequired:
            if origin is typing.Required:
                required.add(key)
            hint = typing.get_args(hint)[0]
        elif key in typed.__required_keys__:
            required.add(key)
        hints[key] = hint
    return hints, required


def _model_type(model: type) -> ModelType:
    kind = getattr(model, "_mst_type", None)
    if not isinstance(kind, ModelType):
        raise TypeError(f"{model!r} is not an mstlite Model class")
    return kind
