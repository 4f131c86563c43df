"""The identifier index of a tree, moving subtrees between trees, and safe references."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mstlite._node.node import Node
    from mstlite._node.tree import Tree

__all__ = ["invalidate_safe_references", "move_back", "move_nodes", "register", "unregister"]

Journal = list[tuple[Any, ...]]


def register(tree: Tree, identifier: str, node: Node, journal: Journal | None) -> None:
    tree.ids.setdefault(identifier, []).append(node)
    if journal is not None:
        journal.append((unregister, tree, identifier, node, None))


def unregister(tree: Tree, identifier: str, node: Node, journal: Journal | None) -> None:
    nodes = tree.ids.get(identifier)
    if nodes is None or node not in nodes:
        return
    nodes.remove(node)
    if not nodes:
        del tree.ids[identifier]
    if journal is not None:
        journal.append((register, tree, identifier, node, None))


def _patch_listeners(node: Node) -> int:
    extras = node._ext
    return len(extras.patch_listeners) if extras is not None else 0


def move_nodes(nodes: list[Node], old: Tree, new: Tree, journal: Journal) -> None:
    """Repoint a subtree from ``old`` to ``new`` with its identifiers and listeners."""
    member = set(map(id, nodes))
    old.path_cache.clear()  # the moved nodes' paths and listeners change
    new.path_cache.clear()
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
    old.path_cache.clear()
    new.path_cache.clear()
    for node in nodes:
        node._tree = old
        count = _patch_listeners(node)
        old.patch_listener_count += count
        new.patch_listener_count -= count
    moved = [e for e in new.snapshot_listeners if id(e[0]) in member]
    if moved:
        new.snapshot_listeners = [e for e in new.snapshot_listeners if id(e[0]) not in member]
        old.snapshot_listeners.extend(moved)


def invalidate_safe_references(tree: Tree, identifiers: list[str]) -> None:
    """Clear the safe references to nodes that just left ``tree`` (same transaction).

    Holders are cleared in the order they first referenced the identifier.
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
    tree.safe_refs.setdefault(identifier, {})[holder] = None


def _any(node: Node) -> bool:
    return True
