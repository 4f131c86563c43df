"""Arrays of safe references: each item keeps its place in MST's clearing order.

MST clears the safe references to a target in the order they started watching
it: each reference registers its own hook on the target when it is made (or at
the end of the action that made it, if the target was missing then), and a
reference MST's array reconciliation keeps (the same identifier put back by a
splice) keeps its hook. So an array numbers its items (``_seqs``, in step
with ``_items``; ``identifiers.watch`` hands out the numbers) and the tree's
index clears by number, across holders. Plain arrays pay nothing for it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mstlite._node.identifiers import watch
from mstlite._node.node import Node
from mstlite._types.array import ArrayNode, ArrayType

__all__ = ["ReferenceArrayNode", "kept_references"]


def kept_references(removed: list[Any], values: list[Any]) -> list[int]:
    """For each of ``values`` replacing ``removed``, the offset in ``removed`` of the
    reference it keeps, or -1 for a new one: MST's reconcileArrayChildren for scalar
    items, in linear time.

    MST keeps the old item at a value's place when it is equal, else moves there
    the first equal old item further on, else puts a new item in before the rest.
    At each place the old items further on are exactly those not taken yet, in
    their first order, so a value keeps the first untaken old item equal to it. A
    live node given is always a new reference (MST compares it with the item's
    node, never equal).
    """
    untaken: dict[Any, deque[int]] = {}
    for offset, item in enumerate(removed):
        untaken.setdefault(item, deque()).append(offset)
    plan: list[int] = []
    for value in values:
        offsets = None if isinstance(value, Node) else untaken.get(value)
        plan.append(offsets.popleft() if offsets else -1)
    return plan


class ReferenceArrayNode(ArrayNode):
    """An array of safe references (``list[SafeRef[T]]``): numbers its items."""

    __slots__ = ("_seqs",)
    _numbers_items = True
    # Each item's number in the clearing order (0 for a None item), in step with _items.
    _seqs: list[int]

    def _number_all(self) -> None:
        """Number the items of a new array, first to last (MST makes them in order)."""
        tree = self._tree
        self._seqs = [0 if item is None else watch(tree, item, self) for item in self._items]

    def _references_to(self, identifier: str, keys: dict[Any, int] | None) -> list[tuple[int, Any]]:
        return [(seq, seq) for item, seq in zip(self._items, self._seqs, strict=True)
                if item == identifier]

    def _clear_reference(self, identifier: str, where: Any) -> None:
        self._splice(self._seqs.index(where), 1, [])
        cleared = self._tree.cleared_refs
        if cleared is not None:  # a later patch of the list may name the item removed
            cleared[self] = cleared.get(self, 0) + 1

    def _renumber_reference(
        self, keys: dict[Any, int] | None, where: Any, seq: int
    ) -> tuple[Any, ...]:
        self._seqs[self._seqs.index(where)] = seq
        return (self._renumber_reference, keys, seq, where)

    def _drop_safe_reference(self, identifier: str) -> None:
        while identifier in self._items:
            self._splice(self._items.index(identifier), 1, [])

    def _splice(
        self,
        index: int,
        remove: int,
        values: list[Any],
        normalized: bool = False,
        detach: bool = False,
    ) -> None:
        tx = self._write_tx()
        if tx is None:  # it runs itself again, in an action
            super()._splice(index, remove, values, normalized, detach)
            return
        removed = self._items[index : index + remove]
        super()._splice(index, remove, values, normalized, detach)
        plan = kept_references(removed, values) if removed else [-1] * len(values)
        if len(plan) == len(removed) and all(map(int.__eq__, plan, range(len(plan)))):
            return  # every item kept in its place (nothing changed, or equal values)
        seqs = self._seqs
        old = seqs[index : index + len(removed)]
        tree = self._tree
        items = self._items
        seqs[index : index + len(removed)] = [
            old[offset] if offset >= 0
            else (0 if items[index + n] is None else watch(tree, items[index + n], self))
            for n, offset in enumerate(plan)
        ]
        tx.journal.append((_restore_numbers, self, index, len(plan), old))

    def _store_slot(
        self, key: Any, new: Any, existed: bool, old: Any, old_snapshot: Any
    ) -> tuple[Any, ...]:
        entry = super()._store_slot(key, new, existed, old, old_snapshot)
        seqs = self._seqs
        tx = self._tree.rt.tx
        if tx is not None:
            tx.journal.append((_restore_numbers, self, key, 1, [seqs[key]]))
        seqs[key] = 0 if new is None else watch(self._tree, new, self)
        return entry


def _restore_numbers(node: ReferenceArrayNode, index: int, added: int, old: list[int]) -> None:
    node._seqs[index : index + added] = old


ArrayType.reference_node = ReferenceArrayNode
