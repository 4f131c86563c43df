"""Public type aliases for annotating code that uses mstlite: JSON values, snapshots, patches.

>>> from mstlite.typing import Patch
>>> patch: Patch = {"op": "replace", "path": "/todos/0/done", "value": True}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "ActionCall",
    "JSONScalar",
    "JSONValue",
    "ModelSnapshot",
    "Patch",
    "PatchOp",
    "Snapshot",
]

JSONScalar: TypeAlias = str | int | float | bool | None
"""A JSON leaf: string, number, boolean or null."""

JSONValue: TypeAlias = "JSONScalar | list[JSONValue] | dict[str, JSONValue]"
"""Any JSON value; mstlite's frozen snapshot containers are dict and list subclasses."""

Snapshot: TypeAlias = JSONValue
"""The immutable JSON value of a tree node, as ``get_snapshot`` returns it."""

ModelSnapshot: TypeAlias = Mapping[str, JSONValue]
"""The snapshot of a model that declares no snapshot type (``Model[TodoSnapshot]`` does):
a read-only mapping, as snapshots are immutable."""

PatchOp: TypeAlias = Literal["add", "remove", "replace", "move", "copy", "test"]
"""The six RFC 6902 operations."""

# Functional syntax: "from" is a Python keyword, so it cannot be a class-body field.
Patch = TypedDict(
    "Patch",
    {
        "op": PatchOp,
        "path": str,
        "value": NotRequired[JSONValue],
        "from": NotRequired[str],
    },
)
"""One RFC 6902 operation. ``path`` and ``from`` are RFC 6901 pointers (``"/todos/0"``);
``value`` is required by add, replace and test, ``from`` by move and copy."""


class ActionCall(TypedDict):
    """One outermost action call as ``on_action``, ``rx.actions`` and ``record_actions``
    report it and ``apply_action`` replays it."""

    name: str
    path: str
    args: list[JSONValue]
    kwargs: NotRequired[dict[str, JSONValue]]
