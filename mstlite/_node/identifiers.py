"""The identifier index of a tree, moving subtrees between trees, and safe references."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mstlite._engine.transaction import Transaction

if TYPE_CHECKING:
    from mstlite._node.node import Node
    from mstlite._node.tree import Tree

__all__ = [
    "IDENTIFIER",
    "add_safe_reference",
    "drop_dangling_at_creation",
    "invalidate_safe_references",
    "move_back",
    "move_nodes",
    "register",
    "unregister",
]

Journal = list[tuple[Any, ...]]


def register(tree: Tree, identifier: str, node: Node, journal: Journal | None) -> None:
    tree.ids.setdefault(identifier, []).append(node)
    _resolution_changed(tree, identifier)
    if journal is not None:
        journal.append((unregister, tree, identifier, node, None))


def unregister(tree: Tree, identifier: str, node: Node, journal: Journal | None) -> None:
    nodes = tree.ids.get(identifier)
    if nodes is None or node not in nodes:
        return
    nodes.remove(node)
    if not nodes:
        del tree.ids[identifier]
    _resolution_changed(tree, identifier)
    if journal is not None:
        journal.append((register, tree, identifier, node, None))


def _patch_listeners(node: Node) -> int:
    extras = node._ext
    return len(extras.patch_listeners) if extras is not None else 0


def move_nodes(nodes: list[Node], old: Tree, new: Tree, journal: Journal) -> None:
    """Repoint a subtree from ``old`` to ``new`` with its identifiers and listeners."""
    member = set(map(id, nodes))
    for node in nodes:
        identifier = node._identifier()
        if identifier is not None:
            unregister(old, identifier, node, journal)
            register(new, identifier, node, journal)
        node._tree = new
        count = _patch_listeners(node)
        old.patch_listener_count -= count
        new.patch_listener_count += count
    moved = [e for e in old.snapshot_listeners if id(e[0]) in member]
    if moved:
        old.snapshot_listeners = [e for e in old.snapshot_listeners if id(e[0]) not in member]
        new.snapshot_listeners.extend(moved)
    for identifier, holders in list(old.safe_refs.items()):
        inside = [h for h in holders if id(h) in member]
        if inside:
            new.safe_refs.setdefault(identifier, {}).update(dict.fromkeys(inside))
    journal.append((move_back, nodes, old, new))


def move_back(nodes: list[Node], old: Tree, new: Tree) -> None:
    member = set(map(id, nodes))
    for node in nodes:
        node._tree = old
        count = _patch_listeners(node)
        old.patch_listener_count += count
        new.patch_listener_count -= count
    moved = [e for e in new.snapshot_listeners if id(e[0]) in member]
    if moved:
        new.snapshot_listeners = [e for e in new.snapshot_listeners if id(e[0]) not in member]
        old.snapshot_listeners.extend(moved)


def _resolution_changed(tree: Tree, identifier: str) -> None:
    """What ``identifier`` resolves to in ``tree`` may have changed: tell the derivations
    that resolved a reference to it (they observe ``(IDENTIFIER, identifier)`` of the root)."""
    root = tree.root
    if root._atoms is not None:
        root._changed((IDENTIFIER, identifier))


#: The first part of the root's atom key standing for "the node an identifier resolves to".
IDENTIFIER = "*identifier"


def invalidate_safe_references(tree: Tree, identifiers: list[str]) -> None:
    """Clear the safe references to nodes that just left ``tree`` (same transaction).

    Holders are cleared in the order they first referenced the identifier (MST's:
    each reference watches its target from when it is set, and the target's
    hooks call the watchers in that order).
    """
    for identifier in identifiers:
        holders = tree.safe_refs.get(identifier)
        if not holders:
            continue
        for holder in list(holders):
            if not holder._alive or holder._tree is not tree:
                holders.pop(holder, None)
                continue
            if tree.find(identifier, _any) is None:
                holder._drop_safe_reference(identifier)


def add_safe_reference(tree: Tree, identifier: str, holder: Node) -> None:
    """Index that ``holder`` keeps a safe reference to ``identifier``.

    When no such node is in the tree the reference is dropped, as MST does:
    at the end of the tree's creation (``drop_dangling_at_creation``), or at
    the end of the running action, since its target may still arrive in it.
    """
    holders = tree.safe_refs.setdefault(identifier, {})
    holders.pop(holder, None)  # a holder set anew watches from now on (MST's order)
    holders[holder] = None
    if tree.fresh or identifier in tree.ids:
        return
    tx = tree.rt.tx
    if tx is not None:
        tx.at_end.append((_drop_if_dangling, tree, identifier, holder))


def _drop_if_dangling(tree: Tree, identifier: str, holder: Node) -> None:
    """End of the action that wrote one dangling safe reference: drop it if its target
    did not arrive (one reference per write, in the order written, as MST)."""
    if identifier not in tree.ids and holder._alive and holder._tree is tree:
        holder._drop_safe_reference(identifier, once=True)


def drop_dangling_at_creation(tree: Tree) -> None:
    """The tree just built: drop its safe references to identifiers it does not hold.

    Nothing listens to a new tree, so this emits no patch; it runs in a
    transaction of its own (one built inside an action is not part of it).
    """
    missing = [i for i in tree.safe_refs if i not in tree.ids]
    if not missing:
        return
    rt = tree.rt
    running, rt.tx = rt.tx, Transaction()
    try:
        invalidate_safe_references(tree, missing)
    finally:
        rt.tx = running


def _any(node: Node) -> bool:
    return True
