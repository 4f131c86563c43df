"""Which removed array items a new snapshot item reconciles with (MST's areSame)."""

from __future__ import annotations

from typing import Any

from mstlite._node.node import Node

__all__ = ["Pool"]


class Pool:
    """The nodes a splice removes, which the values it puts in may reuse.

    A snapshot reuses the node that was at its position when it is that node's
    own snapshot (an unchanged item), else a node with the same type and
    identifier. Each node is reused once. The identifier index is built only
    when a snapshot is not matched by position.
    """

    __slots__ = ("_attributes", "_by_identifier", "nodes", "removed", "used")

    def __init__(self, removed: list[Any]) -> None:
        self.removed = removed
        self.nodes = [value for value in removed if isinstance(value, Node)]
        self.used: set[int] = set()
        self._by_identifier: dict[Any, list[Node]] | None = None
        self._attributes: set[str] = set()

    def take(self, node: Node) -> None:
        """``node`` has found its place: it is not reused again."""
        self.used.add(id(node))

    def match(self, offset: int, snapshot: Any) -> Node | None:
        """The removed node the snapshot at ``offset`` of the new values reuses, if any."""
        removed = self.removed
        if offset < len(removed):
            old = removed[offset]
            if isinstance(old, Node) and old._snap is snapshot and id(old) not in self.used:
                self.used.add(id(old))
                return old
        if not isinstance(snapshot, dict):
            return None
        index = self._by_identifier
        if index is None:
            index = self._by_identifier = {}
            for node in self.nodes:
                identifier = node._identifier()
                if identifier is not None:
                    index.setdefault(identifier, []).append(node)
                    attribute = node._type.identifier_attribute
                    if attribute is not None:
                        self._attributes.add(attribute)
        for attribute in self._attributes:
            for node in index.get(snapshot.get(attribute), ()):
                kind: Any = node._type
                if id(node) not in self.used and kind.same_identity(node, snapshot):
                    self.used.add(id(node))
                    return node
        return None
