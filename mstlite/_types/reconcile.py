"""Which removed array items a new snapshot item reconciles with (MST's areSame)."""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pydantic_core

from mstlite._engine.runtime import current_runtime
from mstlite._node.node import Node
from mstlite._types.base import where
from mstlite._util.frozen import FrozenList
from mstlite.errors import TreeError

if TYPE_CHECKING:
    from mstlite._engine.transaction import Transaction
    from mstlite._types.array import ArrayNode

__all__ = [
    "Pool",
    "keep_known_items",
    "keeps_node",
    "reconcile_array",
    "reconcile_items",
    "store_values",
]


def keep_known_items(known: type, value: Any, validate: Callable[[Any], Any]) -> Any:
    """Validate an array of models, keeping items that are snapshots of the model as they are.

    ``known`` is the model's snapshot class: such an item is already valid, and
    keeping the very object lets reconciliation find the node it is the
    snapshot of (MST's areSame compares snapshots by identity). Only the other
    items go through pydantic, so applying a large snapshot with a few changed
    items costs what changed. ``validate`` is pydantic's handler for the list.
    """
    kind = type(value)
    if (kind is not list and kind is not FrozenList) or known not in map(type, value):
        return FrozenList(validate(value))
    fresh = [item for item in value if type(item) is not known]
    if not fresh:
        current_runtime().preserved = True
        return value if kind is FrozenList else FrozenList(value)
    current_runtime().preserved = True
    try:
        checked = iter(validate(fresh))
    except pydantic_core.ValidationError:
        validate(value)  # the same errors, with their positions in the whole array
        raise
    return FrozenList([item if type(item) is known else next(checked) for item in value])


class Pool:
    """The nodes a splice removes, which the values it puts in may reuse (MST's areSame).

    A snapshot reuses the node it is the current snapshot of (the same object:
    the node that was at its position first), else a node with the same type
    and identifier. Each node is reused once, the first one in array order
    when several qualify. The indexes are built only when a snapshot is not
    matched by position.
    """

    __slots__ = ("_attributes", "_by_identifier", "_by_snapshot", "nodes", "removed", "used")

    def __init__(self, removed: list[Any]) -> None:
        self.removed = removed
        self.nodes = [value for value in removed if isinstance(value, Node)]
        self.used: set[int] = set()
        # Values are some node's snapshot only when validation kept them as they were;
        # else (fresh snapshots) the index by snapshot would find nothing.
        self._by_snapshot: dict[int, list[Node]] | None = (
            None if current_runtime().preserved else {}
        )
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
        return self.find(snapshot)

    def find(self, snapshot: Any) -> Node | None:
        """The first unused node whose snapshot is ``snapshot``, else one with its identifier."""
        by_snapshot = self._by_snapshot
        if by_snapshot is None:
            by_snapshot = self._by_snapshot = {}
            for node in self.nodes:
                if node._snap is not None:  # None: changed since, so no snapshot is its own
                    by_snapshot.setdefault(id(node._snap), []).append(node)
        for node in by_snapshot.get(id(snapshot), ()):
            if id(node) not in self.used and node._snap is snapshot:
                self.used.add(id(node))
                return node
        if not isinstance(snapshot, dict):
            return None
        index = self._by_identifier
        if index is None:
            index = self._by_identifier = {}
            for node in self.nodes:
                if node._type.identifier_attribute is None:
                    continue  # unidentified: reused only by its snapshot
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


def reconcile_items(
    items: list[Any],
    snaps: list[Any],
    values: list[Any],
    reuse: Callable[[Node, int, Any], None],
    build: Callable[[int, Any], Any],
) -> tuple[list[Any], list[int], list[Node]] | None:
    """MST's reconcileArrayChildren for a whole array given normalized ``values``.

    ``items`` are the stored items and ``snaps`` their current snapshots. An item
    whose snapshot is the value at its position stays (the common case, found
    at C speed); every other value reuses a node of the pool of the items not
    kept (``reuse(node, position, value)`` brings it up to date), or is built
    (``build(position, value)``). Returns ``(stored, changed positions, nodes
    left over)``, or None when nothing changes, so the cost is one pass of
    identity checks plus what changed. A node is reused by the first place (in
    order) given its snapshot, as MST's scan does.
    """
    values = list(values)  # a FrozenList indexes through Python (its slices are frozen)
    same = list(map(operator.is_, snaps, values))
    if len(items) == len(values) and all(same):
        return None
    same.extend([False] * (len(values) - len(same)))
    changed = list(itertools.compress(range(len(values)), map(operator.not_, same)))
    given = {id(values[i]) for i in changed if values[i] is not None}
    if any(map(given.__contains__, map(id, itertools.compress(values, same)))):
        # A node's own snapshot given again elsewhere: MST's in-order scan decides
        # which place keeps the node, so nothing is kept by position.
        changed = list(range(len(values)))
    spare = [items[i] for i in changed if i < len(items)] + items[len(values) :]
    pool = Pool(spare)
    stored = list(items[: len(values)])
    stored.extend([None] * (len(values) - len(stored)))
    for position in changed:
        value = values[position]
        if value is None:
            stored[position] = None
            continue
        found = pool.find(value)
        if found is None:
            stored[position] = build(position, value)
        else:
            reuse(found, position, value)
            stored[position] = found
    left = [node for node in pool.nodes if id(node) not in pool.used]
    return stored, changed, left


def reconcile_array(
    array: ArrayNode, snapshot: Any, tx: Transaction, undo: Callable[..., None]
) -> None:
    """Apply the normalized ``snapshot`` to a non-empty ``array`` of complex items.

    The items are matched by ``reconcile_items``; a change is one splice of the
    whole array (``undo`` is the array's splice-undoing journal entry), patched
    as one ``replace`` of it, as MST emits it.
    """
    array._get_snapshot()  # brings array._snaps up to date
    item = array._type.item
    snaps = array._snaps
    assert snaps is not None

    def reuse(node: Node, position: int, value: Any) -> None:
        if node._snap is not value:
            node._apply_normalized(value, tx)

    def build(position: int, value: Any) -> Any:
        return item.instantiate_here(value, array, position)

    plan = reconcile_items(array._items, snaps, snapshot, reuse, build)
    if plan is None:
        return  # every item is its node's own snapshot: nothing changes, no patch
    stored, changed, left = plan
    if not left and len(stored) == len(array._items) and all(
        stored[position] is array._items[position] for position in changed
    ):
        return  # each node kept its place (reconciled by identifier): no splice (MST's too)
    # As MST's inverse patch: the items as they are once reused nodes took their values.
    old_snapshot = array._get_snapshot()
    tx.journal.append((undo, array, 0, len(stored), array._items, list(old_snapshot)))
    array._items = stored
    snaps = array._snaps = list(snapshot)
    for position in changed:
        value = stored[position]
        if isinstance(value, Node):
            value._key = position
            snaps[position] = value._get_snapshot()
    array._tree.path_cache.clear()  # reused nodes may have moved: new paths
    for node in left:
        if node._parent is array:
            node._release(tx)
    array._after_change(tx, array._slot_atom)
    if array._tree.patch_listener_count:
        array._emit_self(tx, "replace", array._get_snapshot(), old_snapshot)


def store_values(
    array: ArrayNode,
    tx: Transaction,
    index: int,
    removed: list[Any],
    values: list[Any],
    normalized: bool,
) -> list[Any]:
    """The stored form of ``values`` replacing ``removed`` at ``array[index]``.

    A removed node given again is kept; a snapshot with the identity of a
    removed node (MST's areSame: same type and identifier) updates that node in
    place, so a splice that puts back an identifier it takes out reconciles,
    exactly as assigning the whole array does.
    """
    item = array._type.item
    if normalized and not item.is_complex:  # scalars and references: no node to reuse
        tree = array._tree
        return [
            None if value is None else item.instantiate(value, array, index + offset, tree)
            for offset, value in enumerate(values)
        ]
    reusable = {id(v) for v in removed if isinstance(v, Node)}
    pool = Pool(removed) if reusable and item.is_complex else None
    stored: list[Any] = []
    for offset, value in enumerate(values):
        if isinstance(value, Node):
            if value._parent is array:
                if id(value) not in reusable:
                    raise TreeError(
                        f"cannot add {value._describe()} to {array._describe()} again: it "
                        "is already in this array; a node has one place"
                    )
                reusable.discard(id(value))
                if pool is not None:
                    pool.take(value)
                stored.append(value)
            else:
                stored.append(item.to_stored(value, array, index + offset, tx))
            continue
        if value is None:
            stored.append(
                None if normalized else item.to_stored(None, array, index + offset, tx)
            )
            continue
        if pool is None:
            stored.append(
                item.instantiate_here(value, array, index + offset)
                if normalized
                else item.to_stored(value, array, index + offset, tx)
            )
            continue
        snapshot = value if normalized else item.normalize(value, where(array, index + offset))
        found = pool.match(offset, snapshot)
        if found is not None:
            reusable.discard(id(found))
            found._apply_normalized(snapshot, tx)
            stored.append(found)
        else:
            stored.append(item.instantiate_here(snapshot, array, index + offset))
    return stored


def keeps_node(old: Any, value: Any) -> bool:
    """Whether ``array[i] = value`` keeps the node ``old`` in place (MST's areSame).

    Kept: the node itself, its own snapshot object, or a snapshot of its type
    with its identifier. Any other value builds a new node there, even one equal
    to the node's snapshot, as MST's reconcileArrayChildren does; a model
    property or map value is reconciled in place instead (MST's reconcile).
    """
    if not isinstance(old, Node):
        return True
    if isinstance(value, Node):
        return value is old
    if value is old._get_snapshot():
        return True
    kind: Any = old._type  # a type with an identifier attribute is a model type
    attribute = kind.identifier_attribute
    return (
        attribute is not None
        and isinstance(value, Mapping)
        and attribute in value
        and kind.same_identity(old, value)
    )
