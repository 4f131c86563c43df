"""The per-tree context shared by every node of one tree, and its owner thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mstlite._engine.runtime import current_runtime
from mstlite._node.patches import PathCache

if TYPE_CHECKING:
    from mstlite._engine.runtime import Runtime
    from mstlite._engine.transaction import Delivery, Transaction
    from mstlite._node.node import Node

__all__ = ["Tree"]


class Tree:
    """What all nodes of one tree share: root, env, identifier index, listeners, owner.

    Nodes point at their tree; moving a subtree to another tree repoints it.
    ``rt`` is the runtime of the owner thread (the one that created the tree, or
    adopted it): its transaction is the one writes join.
    """

    __slots__ = (
        "__weakref__",
        "cleared_refs",
        "commit_hooks",
        "deferred_ids",
        "env",
        "fresh",
        "ids",
        "patch_listener_count",
        "path_cache",
        "protected",
        "root",
        "rt",
        "safe_refs",
        "snapshot_listeners",
    )

    def __init__(self, root: Node, env: Any) -> None:
        self.root = root
        self.env = env if env is not None else {}
        self.rt: Runtime = current_runtime()
        # True while the tree is being built: its identifier registrations belong to
        # no transaction (a tree built inside an action is not part of it).
        self.fresh = True
        # identifier -> live nodes carrying it (one per model type).
        self.ids: dict[str, list[Node]] = {}
        self.protected = True
        self.patch_listener_count = 0
        # node -> the patch listeners that hear it and its pointers (mstlite._node.patches);
        # cleared whenever a node's parent, key or tree, or a listener, changes: an
        # action that writes the same nodes again builds no path.
        self.path_cache = PathCache()
        # [node, listener, last snapshot delivered]
        self.snapshot_listeners: list[list[Any]] = []
        # Called with each committed transaction that changed this tree (undo managers).
        self.commit_hooks: list[Callable[[Transaction], None]] = []
        # identifier -> the containers holding a safe reference to it, each with the
        # registration number of each of its slots (a model or a map: slot -> number;
        # None for an array, which numbers its own items): see _node/identifiers.py.
        self.safe_refs: dict[str, dict[Node, dict[Any, int] | None]] = {}
        # While a snapshot is applied (it is valid or not as a whole): the nodes built
        # with an identifier already in the tree, checked once it is applied.
        self.deferred_ids: list[Node] | None = None
        # While a patch list is applied: how many safe references it cleared from each
        # array (a later patch of the list may name the item it removed).
        self.cleared_refs: dict[Node, int] | None = None

    def find(self, identifier: str, accepts: Callable[[Node], bool]) -> Node | None:
        for node in self.ids.get(identifier, ()):
            if accepts(node):
                return node
        return None

    def notify_snapshot_listeners(self, delivery: Delivery) -> None:
        for entry in list(self.snapshot_listeners):
            node, listener, last = entry
            if not node._alive or node._tree is not self:
                continue
            snapshot = node._get_snapshot()
            if snapshot is last:
                continue
            entry[2] = snapshot
            delivery.call("an on_snapshot listener", listener, snapshot)
