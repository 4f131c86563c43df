"""The per-tree context shared by every node of one tree."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mstlite._runtime import report_error

if TYPE_CHECKING:
    from mstlite._node import Node

__all__ = ["Tree"]


class Tree:
    """What all nodes of one tree share: root, env, identifier index, listeners.

    Nodes point at their tree; moving a subtree to another tree repoints it.
    """

    __slots__ = (
        "__weakref__",
        "env",
        "ids",
        "patch_listener_count",
        "protected",
        "root",
        "safe_refs",
        "snapshot_listeners",
        "thread",
    )

    def __init__(self, root: Node, env: Any) -> None:
        self.root = root
        self.env = env if env is not None else {}
        # identifier -> live nodes carrying it (one per model type).
        self.ids: dict[str, list[Node]] = {}
        self.protected = True
        self.thread = threading.get_ident()
        self.patch_listener_count = 0
        # [node, listener, last snapshot delivered]
        self.snapshot_listeners: list[list[Any]] = []
        # identifier -> containers holding a safe reference to it.
        self.safe_refs: dict[str, set[Node]] = {}

    def find(self, identifier: str, accepts: Callable[[Node], bool]) -> Node | None:
        for node in self.ids.get(identifier, ()):
            if accepts(node):
                return node
        return None

    def notify_snapshot_listeners(self) -> None:
        for entry in list(self.snapshot_listeners):
            node, listener, last = entry
            if not node._alive or node._tree is not self:
                continue
            snapshot = node._get_snapshot()
            if snapshot is last:
                continue
            entry[2] = snapshot
            try:
                listener(snapshot)
            except Exception as error:
                report_error(error, "an on_snapshot listener")


def env_of(tree: Tree) -> Mapping[str, Any]:
    return tree.env
