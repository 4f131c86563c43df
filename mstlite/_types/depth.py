"""The depth limit of trees, and the checks that keep every tree within it.

Snapshots are plain JSON values built, validated, copied and serialized by
code that recurses once or more per level: mstlite's node building, pydantic's
validation (which stops at 255 levels of a recursive type) and the standard
``json`` module (bounded by Python's recursion limit). So a tree could be
built by actions that no snapshot of it could restore. Instead trees are
limited to ``MAX_DEPTH`` levels (a model, an array and a map each count one,
the root is level 1; inside a type that can nest without bound, frozen values
count their own nesting too), well within those limits: creating from a
deeper snapshot is a ``ValidationError`` and an action that would build
deeper raises ``TreeError``, so whatever a tree holds can be snapshotted,
cloned, walked, serialized and restored from its own snapshot.

The checks cost nothing for types that cannot nest deeply: a type's static
height is known, and only types that can nest without bound (recursive
models, frozen values) walk the value.
"""

from __future__ import annotations

from typing import Any

from mstlite._node.node import Node
from mstlite.errors import TreeError, ValidationError

__all__ = ["MAX_DEPTH", "check_nesting", "check_room", "static_height"]

#: The deepest level a node may have (the root is level 1).
MAX_DEPTH = 200

_HOW = (
    f"the depth limit of trees is {MAX_DEPTH} levels (each model, array and map is one; "
    "frozen values count their own nesting), so that every snapshot can be validated, "
    "serialized and restored; keep deep structures flat, e.g. a map of nodes linked by "
    "references"
)


def static_height(kind: Any) -> int | None:
    """How many levels a value of ``kind`` can nest at most; None when without bound."""
    cached = kind.__dict__.get("_static_height", False)
    if cached is not False:
        return cached  # type: ignore[no-any-return]
    height = _height_of(kind, set())
    kind._static_height = height
    return height


def _height_of(kind: Any, visiting: set[int]) -> int | None:
    if id(kind) in visiting:
        return None  # a recursive type
    if type(kind).__name__ == "FrozenType":
        return None  # any JSON
    if hasattr(kind, "target"):
        return 0  # a reference holds an identifier
    visiting.add(id(kind))
    try:
        props = getattr(kind, "props", None)
        if props is not None:
            members: list[Any] = list(props.values())
            own = 1
        elif hasattr(kind, "item"):
            members, own = [kind.item], 1
        elif hasattr(kind, "members"):
            members, own = list(kind.members), 0
        elif "inner" in dir(type(kind)) or "inner" in kind.__dict__:
            members, own = [kind.inner], 0
        else:
            return 0
        deepest = 0
        for member in members:
            height = _height_of(member, visiting)
            if height is None:
                return None
            deepest = max(deepest, height)
        return own + deepest
    finally:
        visiting.discard(id(kind))


def _nesting(value: Any) -> int:
    """The levels of a snapshot (objects and arrays) or of a node's subtree, iteratively."""
    if isinstance(value, Node):
        deepest = 0
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            node, level = stack.pop()
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node._children())
        return deepest
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend(
            (child, level + 1) for child in children if isinstance(child, (dict, list, tuple))
        )
    return deepest


def _deepest_path(value: Any, limit: int) -> str:
    """The JSON pointer of the first place of ``value`` nested deeper than ``limit``."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, level, path = stack.pop()
        if level > limit:
            return path
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(child, (dict, list, tuple)):
                stack.append((child, level + 1, f"{path}/{key}"))
    return ""


def check_nesting(kind: Any, snapshot: Any, where: str = "") -> None:
    """Raise ``ValidationError`` when ``snapshot`` nests deeper than a tree may."""
    if static_height(kind) is not None or not isinstance(snapshot, (dict, list, tuple)):
        return
    levels = _nesting(snapshot)
    if levels <= MAX_DEPTH:
        return
    path = where + _deepest_path(snapshot, MAX_DEPTH)
    message = f"nested {levels} levels deep (level {MAX_DEPTH + 1} at {_shorten(path)!r}); {_HOW}"
    raise ValidationError(
        f"invalid snapshot for {kind.name}: {message}; nothing was changed",
        [{"path": path, "message": message, "type": "too_deep", "input": None}],
    )


def node_depth(node: Node) -> int:
    """The level of ``node`` in its tree (the root is 1)."""
    depth = 1
    parent = node._parent
    while parent is not None:
        depth += 1
        parent = parent._parent
    return depth


def check_room(kind: Any, value: Any, parent: Node, key: Any) -> None:
    """Raise ``TreeError`` when putting ``value`` at ``parent[key]`` would nest too deep."""
    static = static_height(kind)
    depth = node_depth(parent)
    if static is not None and depth + static <= MAX_DEPTH:
        return
    levels = depth + _nesting(value)
    if levels > MAX_DEPTH:
        raise TreeError(
            f"cannot put a {kind.name} at {_shorten(parent._path() + '/' + str(key))!r} "
            f"(level {depth + 1}): the tree would be {levels} levels deep; {_HOW}"
        )


def _shorten(path: str) -> str:
    return path if len(path) <= 80 else path[:40] + "..." + path[-37:]
