"""The identifier index of a tree, moving subtrees between trees, and safe references."""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from mstlite._engine.transaction import Transaction

if TYPE_CHECKING:
    from mstlite._node.node import Node
    from mstlite._node.tree import Tree

__all__ = [
    "IDENTIFIER",
    "add_safe_reference",
    "drop_dangling_at_creation",
    "forget_holder",
    "invalidate_safe_references",
    "move_back",
    "move_nodes",
    "reference_targets",
    "register",
    "restore_number",
    "unregister",
    "watch",
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
            # The same per-slot registrations: they belong to the holder's slots.
            new.safe_refs.setdefault(identifier, {}).update({h: holders[h] for h in inside})
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


def _resolution_changed(tree: Tree, identifier: str) -> None:
    """What ``identifier`` resolves to in ``tree`` may have changed: tell the derivations
    that resolved a reference to it (they observe ``(IDENTIFIER, identifier)`` of the root)."""
    root = tree.root
    if root._atoms is not None:
        root._changed((IDENTIFIER, identifier))


#: The first part of the root's atom key standing for "the node an identifier resolves to".
IDENTIFIER = "*identifier"


def reference_targets(tree: Tree, nodes: list[Node]) -> list[Node]:
    """Those of ``nodes`` (about to leave ``tree``) that references to their identifier
    resolve to: the first of their type with it (a second exists only while a snapshot
    or a patch list is applied)."""
    targets = []
    for node in nodes:
        identifier = node._identifier()
        if identifier is None or identifier not in tree.safe_refs:
            continue
        kind = node._type
        first = next((o for o in tree.ids.get(identifier, ()) if o._type is kind), None)
        if first is node:
            targets.append(node)
    return targets


def invalidate_safe_references(tree: Tree, nodes: list[Node]) -> None:
    """Clear the safe references to ``nodes``, which just left ``tree`` (same transaction).

    ``nodes`` are ``reference_targets``. As MST, a reference follows its target
    node: it is cleared even when a new node with the same identifier already
    took the target's place (an ``apply_snapshot`` moving an identifier to an
    earlier property), but not when a node of another type keeps the
    identifier, nor when it was set in this action while its target was missing
    or ambiguous (MST watches such a reference only once the action ends:
    ``_watch_at_end``).
    References are cleared one by one in the order they started watching their
    target, whichever holder and position each is in: in MST each reference
    registers its own hook on the target when it is made (or at the end of the
    action that made it, when the target was missing then), and the target's
    hooks run in that order. ``watch`` numbers them in that order.
    """
    tx = tree.rt.tx
    waiting = tx.waiting if tx is not None else ()
    journal = tx.journal if tx is not None else None
    for node in nodes:
        identifier = node._identifier()
        holders = tree.safe_refs.get(identifier) if identifier is not None else None
        if not holders:
            continue
        assert identifier is not None
        kind = node._type
        if any(other._type is not kind for other in tree.ids.get(identifier, ())):
            continue
        found: list[tuple[int, Node, Any]] = []
        for holder, keys in list(holders.items()):
            if not holder._alive or holder._tree is not tree:
                forget_holder(holders, holder, journal)
            else:
                found.extend(
                    (seq, holder, where) for seq, where in holder._references_to(identifier, keys)
                )
        found.sort(key=itemgetter(0))  # numbers are unique: holders are never compared
        for seq, holder, where in found:
            if seq not in waiting:
                holder._clear_reference(identifier, where)


def forget_holder(holders: dict[Node, Any], holder: Node, journal: Journal | None) -> None:
    """Take a holder that left the tree out of its index (back again on rollback: the
    transaction may yet bring it back)."""
    keys = holders.pop(holder, None)
    if journal is not None:
        journal.append((holders.__setitem__, holder, keys))


def _next_seq(tree: Tree) -> int:
    """The next number of the tree's thread's reference order (trees of one thread share it,
    so a reference moving with its holder to another tree keeps its place there)."""
    rt = tree.rt
    rt.reference_seq += 1
    return rt.reference_seq


def watch(tree: Tree, identifier: str, holder: Node) -> int:
    """A new safe reference to ``identifier`` held by ``holder`` starts watching its
    target: its number in the clearing order.

    When no such node is in the tree the reference is dropped, as MST does:
    at the end of the tree's creation (``drop_dangling_at_creation``), or at
    the end of the running action, since its target may still arrive in it
    (then it watches from that moment on, as MST's retry does).
    """
    seq = _next_seq(tree)
    if tree.fresh:
        return seq
    targets = tree.ids.get(identifier)
    if targets is not None and len(targets) == 1:
        return seq
    tx = tree.rt.tx
    if tx is None:
        return seq
    # Missing, or two nodes with it (while a snapshot or patches apply): MST's reference
    # watches no node until the action ends (its retry), so a target that arrives and
    # leaves again in the action does not clear it; the end of the action decides.
    tx.waiting.add(seq)
    tx.at_end.append((_watch_at_end, tree, identifier, holder, seq))
    return seq


def add_safe_reference(tree: Tree, identifier: str, holder: Node, key: Any) -> None:
    """Index that ``holder`` keeps a safe reference to ``identifier`` in slot ``key``.

    A model property or a map entry is one slot: its registration number is
    kept in the index (``{key: number}``). Writing the identifier its slot
    already refers to keeps the reference, and its place in the clearing order
    (MST reconciles the reference node). An array numbers its own items
    (``ReferenceArrayNode``): only the holder is indexed here.
    """
    holders = tree.safe_refs.setdefault(identifier, {})
    if holder._numbers_items:
        holders.setdefault(holder, None)
        return
    keys = holders.get(holder)
    if keys is None:
        keys = holders[holder] = {}
    elif key in keys and holder._slot_value(key) == identifier:
        return
    old = keys.get(key)
    keys[key] = watch(tree, identifier, holder)
    tx = tree.rt.tx
    if tx is not None and not tree.fresh:
        tx.journal.append((restore_number, keys, key, old))


def restore_number(keys: dict[Any, int], key: Any, old: int | None) -> None:
    """Undo a slot's new registration number (``old``: ``None`` when it had none)."""
    if old is None:
        keys.pop(key, None)
    else:
        keys[key] = old


def _watch_at_end(tree: Tree, identifier: str, holder: Node, seq: int) -> None:
    """End of the action that wrote a dangling (or ambiguous) safe reference: drop it
    if its target did not arrive (each reference, in the order written, as MST); else
    it watches its target from now on (a new number). A reference no longer there
    (removed, rolled back, or written over) is left alone."""
    tx = tree.rt.tx
    if tx is not None:
        tx.waiting.discard(seq)
    if not holder._alive or holder._tree is not tree:
        return
    keys = tree.safe_refs.get(identifier, {}).get(holder)
    where = next((w for s, w in holder._references_to(identifier, keys) if s == seq), None)
    if where is None:
        return
    if identifier not in tree.ids:
        holder._clear_reference(identifier, where)
        return
    entry = holder._renumber_reference(keys, where, _next_seq(tree))
    if tx is not None:
        tx.journal.append(entry)


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
        for identifier in missing:
            for holder in list(tree.safe_refs[identifier]):
                holder._drop_safe_reference(identifier)
    finally:
        rt.tx = running
