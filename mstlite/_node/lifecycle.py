"""The end of a node's life: killing a subtree in a transaction, finishing it at commit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mstlite._engine.runtime import report_error
from mstlite._node.identifiers import invalidate_safe_references, reference_targets, unregister

if TYPE_CHECKING:
    from mstlite._engine.transaction import Transaction
    from mstlite._node.node import Node

__all__ = ["finalize_destroy", "kill"]


def kill(node: Node, tx: Transaction) -> None:
    """Kill ``node``'s subtree: before_destroy hooks, identifiers, safe references."""
    nodes = list(node._iter_subtree())
    for member in reversed(nodes):  # children before parents, as MST does
        if member._has_hooks:
            member._call_hook("before_destroy")
    tree = node._tree
    journal = tx.journal
    targets = reference_targets(tree, nodes) if tree.safe_refs else None
    for member in nodes:
        identifier = member._identifier()
        if identifier is not None:
            unregister(tree, identifier, member, journal)
        member._alive = False
    journal.append((_revive, nodes))
    tx.killed.append(node)
    if targets:
        invalidate_safe_references(tree, targets)


def finalize_destroy(root: Node) -> None:
    """After commit: drop what a dead subtree still holds (computeds, listeners)."""
    for node in root._iter_subtree():
        if node._alive:
            continue
        extras = node._ext
        if extras is not None:
            for computed in extras.computeds.values():
                computed.dispose()
            disposers, extras.disposers = extras.disposers, []
            for disposer in disposers:
                try:
                    disposer()
                except Exception as error:
                    report_error(error, "a disposer", node._tree.rt)
            if extras.patch_listeners:
                node._tree.patch_listener_count -= len(extras.patch_listeners)
                extras.patch_listeners = []
                node._tree.path_cache.clear()
        tree = node._tree
        if tree.snapshot_listeners:
            tree.snapshot_listeners = [e for e in tree.snapshot_listeners if e[0] is not node]


def _revive(nodes: list[Node]) -> None:
    for node in nodes:
        node._alive = True
