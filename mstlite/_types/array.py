"""Arrays: ``list[X]`` properties, live as ArrayNode (a MutableSequence)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Generic, SupportsIndex, TypeVar, overload

from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from mstlite._engine.transaction import Transaction
from mstlite._node.liveliness import dead_read
from mstlite._node.node import Node, same_stored, snapshot_of
from mstlite._node.patches import emit
from mstlite._types.base import NodeType, Type
from mstlite._types.forms import NEVER, ArrayForm, Form, LateForm
from mstlite._types.reconcile import keep_known_items, keeps_node, reconcile_array, store_values
from mstlite._types.wrappers import LateType, MaybeType
from mstlite._util.frozen import FrozenList

__all__ = ["ArrayNode", "ArrayType", "listed_model"]

ALL = "*"  # the atom key standing for "anything in this array"


T = TypeVar("T")


class ArrayType(NodeType, Generic[T]):
    """``list[X]``: an array of ``X``; its default snapshot is ``[]``.

    Generic only for type checkers: ``types.array(Todo).create()`` is a
    ``list[Todo]`` to them.
    """

    if TYPE_CHECKING:

        def create(
            self, snapshot: Any = None, *, env: Mapping[str, Any] | None = None
        ) -> list[T]: ...

    is_complex = True
    #: The node class of arrays of safe references: ``ReferenceArrayNode``, which puts
    #: itself here (its module is imported by the reference type's).
    reference_node: ClassVar[type[ArrayNode]]

    def __init__(self, item: Type) -> None:
        super().__init__(f"list[{item.name}]")
        self.item = item

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        """A list of the item's schema, frozen into a ``FrozenList``."""
        items = cs.list_schema(self.item.build_schema(defs))
        known = getattr(listed_model(self.item), "snapshot_class", None)
        if known is None:
            return cs.no_info_after_validator_function(FrozenList, items)
        return cs.no_info_wrap_validator_function(partial(keep_known_items, known), items)

    def default_snapshot(self) -> Any:
        """An empty list: an array property without a default starts empty."""
        return FrozenList()

    def form(self) -> Form:
        """Plain lists of items of the item's form; only empty ones for complex items but
        identified models (MST rebuilds an unidentified one given an equal new snapshot)."""
        return LateForm(self._resolve_form)

    def _resolve_form(self) -> Form:
        item = self.item
        if item.is_complex:
            model = listed_model(item)
            if getattr(model, "snapshot_class", None) is None or not model.identifier_attribute:
                return ArrayForm(NEVER)
        return ArrayForm(item.form())

    def contains_safe_references(self) -> bool:
        """Whether the items are (or hold) safe references."""
        return self.item.contains_safe_references()

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Any) -> ArrayNode:
        """Build the array node of a normalized snapshot at ``parent[key]`` in ``tree``.

        Complex items become child nodes; plain items are stored as their snapshots.
        """
        item = self.item
        numbered = not item.is_complex and item.contains_safe_references()
        node = ArrayNode.__new__(ArrayType.reference_node if numbered else ArrayNode)
        node._init_node(parent, key, tree, snapshot)
        node._type = self
        if item.is_complex or numbered:
            tree = node._tree
            build = item.instantiate
            node._items = [
                None if value is None else build(value, node, index, tree)
                for index, value in enumerate(snapshot)
            ]
            node._snaps = list(snapshot) if item.is_complex else None
            if numbered:
                node._number_all()
        else:
            node._items = list(snapshot)
            node._snaps = None
        node._dirty = None
        return node


def listed_model(item: Type) -> Type:
    """The type under the Late and Maybe wrappers of an array's ``item`` type
    (``list[Node | None]``, ``list["Node"]``): a model when the items are models."""
    while isinstance(item, (LateType, MaybeType)):
        item = item.inner
    return item


class ArrayNode(Node, MutableSequence[Any]):
    """A live array: a ``MutableSequence`` whose changes are patches.

    Compares equal to a plain list with the same items.
    """

    __slots__ = ("_dirty", "_items", "_snaps", "_type")
    _slot_atom = ALL

    _type: ArrayType[Any]
    _items: list[Any]
    # Snapshots of the items, kept in step with _items (complex items only).
    _snaps: list[Any] | None
    # Children whose snapshot changed since _snaps was last brought up to date.
    _dirty: set[Node] | None

    def _number_all(self) -> None:
        """Number the items in MST's clearing order (only arrays of safe references)."""

    def _children(self) -> Iterator[Node]:
        for value in self._items:
            if isinstance(value, Node):
                yield value

    def _child_dirty(self, child: Node) -> None:
        dirty = self._dirty
        if dirty is None:
            self._dirty = {child}
        else:
            dirty.add(child)

    def _build_snapshot(self) -> Any:
        snaps = self._snaps
        if snaps is None:
            return FrozenList(self._items)
        dirty = self._dirty
        if dirty:
            tx = self._tree.rt.tx
            if tx is not None:  # a rollback must find _snaps as it was
                tx.journal.append((_restore_snaps, self, snaps, dirty))
                snaps = self._snaps = list(snaps)
            self._dirty = None
            for child in dirty:
                # A mark can outlive the child's place here: a rolled-back splice, or
                # the child moved elsewhere (then its key may be a map's str key).
                key = child._key
                if (
                    child._parent is self
                    and child._alive
                    and key < len(self._items)
                    and self._items[key] is child
                ):
                    snaps[key] = child._get_snapshot()
        return FrozenList(snaps)

    # -------------------------------------------------------------- reading
    def __len__(self) -> int:
        if self._tree.rt.tracking is not None:
            self._observe(ALL)
        return len(self._items)

    @overload
    def __getitem__(self, index: SupportsIndex) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if self._tree.rt.tracking is not None:
            self._observe(ALL)
        if not self._alive:
            dead_read(self, "an item")
        item = self._type.item
        if isinstance(index, slice):
            values = self._items[index]
            return [item.read(v, self) for v in values] if item.needs_read else values
        value = self._items[index]
        return item.read(value, self) if item.needs_read else value

    def __iter__(self) -> Iterator[Any]:
        if self._tree.rt.tracking is not None:
            self._observe(ALL)
        if not self._alive:
            dead_read(self, "the items")
        item = self._type.item
        if item.needs_read:
            return (item.read(v, self) for v in list(self._items))
        return iter(list(self._items))

    def __contains__(self, value: object) -> bool:
        return any(v is value or v == value for v in self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, ArrayNode)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = Node.__hash__  # nodes are hashed by identity

    def __repr__(self) -> str:
        return f"<ArrayNode {self._path() or '/'} {list(self)!r}>"

    # -------------------------------------------------------------- writing
    def __setitem__(self, index: Any, value: Any) -> None:
        tx = self._write_tx()
        if tx is None:
            self._outside_action(self.__setitem__, index, value)
            return
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self._items))
            values = list(value)
            if step != 1:
                positions = range(start, stop, step)
                if len(values) != len(positions):
                    raise ValueError(
                        f"attempt to assign sequence of size {len(values)} to extended slice "
                        f"of size {len(positions)}"
                    )
                for position, item in zip(positions, values, strict=True):
                    self[position] = item
                return
            self._splice(start, max(0, stop - start), values)
            return
        position = self._position(index)
        old = self._items[position]
        item = self._type.item
        if item.is_complex and old is not None and keeps_node(old, value):
            new = item.reconcile(old, value, self, position, tx)
        else:
            new = item.to_stored(value, self, position, tx)
        self._put_slot(tx, position, old, new, True)

    def _store_slot(
        self, key: Any, new: Any, existed: bool, old: Any, old_snapshot: Any
    ) -> tuple[Any, ...]:
        self._items[key] = new
        if self._snaps is not None:
            self._snaps[key] = snapshot_of(new)
        return (_undo_splice, self, key, 1, [old], [old_snapshot])

    def __delitem__(self, index: Any) -> None:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self._items))
            if step == 1:
                self._splice(start, max(0, stop - start), [])
                return
            for position in sorted(range(start, stop, step), reverse=True):
                self._splice(position, 1, [])
            return
        self._splice(self._position(index), 1, [])

    def insert(self, index: SupportsIndex, value: Any) -> None:
        """Insert ``value`` (a snapshot or a detached node) before ``index``."""
        position = index.__index__()
        length = len(self._items)
        if position < 0:
            position = max(0, length + position)
        self._splice(min(position, length), 0, [value])

    def append(self, value: Any) -> None:
        """Add ``value`` (a snapshot or a detached node) at the end."""
        self._splice(len(self._items), 0, [value])

    def extend(self, values: Iterable[Any]) -> None:
        """Add every value at the end, in one change."""
        self._splice(len(self._items), 0, list(values))

    def pop(self, index: int = -1) -> Any:
        """Remove and return the item at ``index``; a removed node is destroyed
        unless it was detached first."""
        position = self._position(index)
        value = self[position]
        self._splice(position, 1, [])
        return value

    def clear(self) -> None:
        """Remove every item (one ``replace`` patch of the whole array)."""
        self._splice(0, len(self._items), [])

    def replace(self, values: Iterable[Any]) -> None:
        """Replace all items, reusing nodes given again (``arr[:] = values``)."""
        self._splice(0, len(self._items), list(values))

    def reverse(self) -> None:
        """Reverse in place; nodes are kept, not re-created."""
        self._splice(0, len(self._items), self._items[::-1])

    def sort(self, *, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> None:
        """Sort in place like ``list.sort``; nodes are kept, not re-created."""
        item = self._type.item
        pairs = [(item.read(v, self) if item.needs_read else v, v) for v in self._items]
        sort_key = key or (lambda value: value)
        pairs.sort(key=lambda pair: sort_key(pair[0]), reverse=reverse)
        self._splice(0, len(self._items), [stored for _, stored in pairs])

    def __iadd__(self, values: Iterable[Any]) -> ArrayNode:
        self.extend(values)
        return self

    def _position(self, index: Any) -> int:
        position: int = index.__index__()
        length = len(self._items)
        if position < 0:
            position += length
        if not 0 <= position < length:
            raise IndexError(f"index {index} out of range for {self._describe()} of {length}")
        return position

    def _splice(
        self,
        index: int,
        remove: int,
        values: list[Any],
        normalized: bool = False,
        detach: bool = False,
    ) -> None:
        tx = self._write_tx()
        if tx is None:
            self._outside_action(self._splice, index, remove, values, normalized, detach)
            return
        items = self._items
        length = len(items)
        remove = min(remove, length - index)
        if remove == 0 and not values:
            return
        removed = items[index : index + remove]
        stored = store_values(self, tx, index, removed, values, normalized)
        if (
            len(removed) == len(stored)
            and all(map(same_stored, removed, stored))
            and not (self._type.item.needs_read and any(isinstance(v, Node) for v in values))
        ):
            # The same items again (e.g. sorting a sorted array). But a live node given
            # to an array of references is a new reference to it (MST re-creates it and
            # emits the splice), even to the node the slot already refers to.
            return
        listening = self._tree.patch_listener_count
        whole = remove == length and remove > 0
        old_snapshot = self._get_snapshot() if listening and whole else None
        removed_snaps = [snapshot_of(v) for v in removed]
        items[index : index + remove] = stored
        snaps = self._snaps
        if snaps is not None:
            snaps[index : index + remove] = [snapshot_of(v) for v in stored]
        tx.journal.append((_undo_splice, self, index, len(stored), removed, removed_snaps))
        for position in range(index, len(items)):
            value = items[position]
            if isinstance(value, Node):
                value._key = position
        self._tree.path_cache.clear()  # the items after ``index`` have new paths
        kept = {id(v) for v in stored}
        for value in removed:
            if isinstance(value, Node) and id(value) not in kept and value._parent is self:
                value._release(tx, detach)
        self._after_change(tx, ALL)
        if listening:
            if whole:
                self._emit_self(tx, "replace", self._get_snapshot(), old_snapshot)
            else:
                for offset in range(remove - 1, -1, -1):
                    emit(self, tx, "remove", index + offset, None, removed_snaps[offset])
                for offset, value in enumerate(stored):
                    emit(self, tx, "add", index + offset, snapshot_of(value), None)

    def _apply_normalized(self, snapshot: Any, tx: Transaction) -> None:
        """Reconcile with a normalized snapshot as MST does: an item given its own
        snapshot object, or a snapshot with its type and identifier, keeps its node."""
        if snapshot is self._snap:
            return
        if self._snaps is None or not self._items:
            self._splice(0, len(self._items), list(snapshot), normalized=True)
            return
        reconcile_array(self, snapshot, tx, _undo_splice)

    def _remove_child(self, child: Node, tx: Transaction, detach: bool = False) -> None:
        self._splice(child._key, 1, [], detach=detach)

def _undo_splice(
    node: ArrayNode, index: int, added: int, removed: list[Any], removed_snaps: list[Any]
) -> None:
    node._items[index : index + added] = removed
    if node._snaps is not None:
        node._snaps[index : index + added] = removed_snaps
    for position in range(index, len(node._items)):
        value = node._items[position]
        if isinstance(value, Node):
            value._key = position
    node._tree.path_cache.clear()
    node._changed(ALL)


def _restore_snaps(node: ArrayNode, snaps: list[Any], dirty: set[Node]) -> None:
    node._snaps = snaps
    node._dirty = dirty

