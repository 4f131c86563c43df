"""Walking a live tree along JSON pointer segments, with the RFC 6902 core's rules."""

from __future__ import annotations

from typing import Any

from mstlite._node.node import Node
from mstlite._types.array import ArrayNode
from mstlite._types.map import MapNode
from mstlite._types.model import ModelNode
from mstlite._util import rfc6902
from mstlite._util.json_pointer import join_json_path
from mstlite.errors import PatchError

__all__ = ["child", "no_property", "resolve_parts"]


def child(container: Any, parts: list[str], depth: int, op: str) -> Any:
    """The stored value under ``container`` at ``parts[depth]``; PatchError if none.

    Arrays follow the core's index rules, maps its member rules; a model has
    exactly its properties; frozen JSON values are walked as plain JSON.
    """
    token = parts[depth]
    # Models first: ArrayNode and MapNode are ABCs (Sequence, MutableMapping), whose
    # isinstance is slow on a non-member, and most path steps are model properties.
    if isinstance(container, ModelNode):
        if token not in type(container)._mst_type.props:
            raise no_property(container, parts, depth)
        return container._data[token]
    if isinstance(container, ArrayNode):
        items = container._items
        return items[rfc6902.index(len(items), token, parts, depth, op)]
    if isinstance(container, MapNode):
        if token not in container._items:
            raise rfc6902.missing_member(parts, depth, op)
        return container._items[token]
    return rfc6902.step(container, parts, depth, op)


def no_property(model: ModelNode, parts: list[str], depth: int) -> PatchError:
    """The error for a path naming a property a model does not have."""
    props = ", ".join(type(model)._mst_type.props) or "none"
    return PatchError(
        f"the {model._type.name} at {join_json_path(parts[:depth])!r} has no property "
        f"{parts[depth]!r}; its properties: {props}"
    )


def resolve_parts(root: Node, parts: list[str], op: str = "test") -> Any:
    """The stored value at ``parts`` under ``root``; raises PatchError if there is none."""
    current: Any = root
    for depth in range(len(parts)):
        current = child(current, parts, depth, op)
    return current
