"""Which removed array items a new snapshot item reconciles with (MST's areSame)."""

from __future__ import annotations

from typing import Any

from mstlite._node.node import Node

__all__ = ["match", "pool_of", "take"]


def pool_of(removed: list[Any]) -> tuple[dict[Any, list[Node]], set[str]]:
    """The removed nodes by identifier (and by their own snapshot), for ``_match``."""
    pool: dict[Any, list[Node]] = {}
    attributes: set[str] = set()
    for value in removed:
        if isinstance(value, Node):
            identifier = value._identifier()
            if identifier is not None:
                pool.setdefault(identifier, []).append(value)
                attribute = value._type.identifier_attribute
                if attribute is not None:
                    attributes.add(attribute)
            snap = value._snap
            if snap is not None:
                pool.setdefault(id(snap), []).append(value)
    return pool, attributes


def take(pool: dict[Any, list[Node]], node: Node) -> None:
    """Take ``node`` out of the pool: it has found its place."""
    for key in (node._identifier(), id(node._snap)):
        nodes = pool.get(key)
        if nodes is not None and node in nodes:
            nodes.remove(node)


def match(snapshot: Any, pool: dict[Any, list[Node]], attributes: set[str]) -> Node | None:
    """The removed node a snapshot item reconciles with (MST's areSame), if any."""
    same = pool.get(id(snapshot))
    if same:
        node = same[0]
        if node._snap is snapshot:
            take(pool, node)
            return node
    if not isinstance(snapshot, dict):
        return None
    for attribute in attributes:
        candidates = pool.get(snapshot.get(attribute))
        if not candidates:
            continue
        for node in candidates:
            if node._type.same_identity(node, snapshot):  # type: ignore[attr-defined]
                take(pool, node)
                return node
    return None
