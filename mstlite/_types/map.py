"""Maps: ``dict[str, X]`` properties, live as MapNode (a MutableMapping)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from mstlite._engine.transaction import Transaction
from mstlite._node.liveliness import dead_read
from mstlite._node.node import REMOVED, Node, snapshot_of
from mstlite._types.base import NodeType, Type
from mstlite._util.frozen import FrozenDict
from mstlite.errors import TreeError

__all__ = ["MapNode", "MapType"]

KEYS = "*keys"  # the atom key standing for "the set of keys"


T = TypeVar("T")


class MapType(NodeType, Generic[T]):
    """``dict[str, X]``: string keys to ``X``; its default snapshot is ``{}``.

    Generic only for type checkers: ``types.map(Todo).create()`` is a
    ``dict[str, Todo]`` to them.
    """

    if TYPE_CHECKING:

        def create(
            self, snapshot: Any = None, *, env: Mapping[str, Any] | None = None
        ) -> dict[str, T]: ...

    is_complex = True

    def __init__(self, item: Type) -> None:
        super().__init__(f"dict[str, {item.name}]")
        self.item = item

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        """A dict of string keys to the item's schema, frozen into a ``FrozenDict``."""
        return cs.no_info_after_validator_function(
            FrozenDict,
            cs.dict_schema(cs.str_schema(strict=True), self.item.build_schema(defs)),
        )

    def default_snapshot(self) -> Any:
        """An empty dict: a map property without a default starts empty."""
        return FrozenDict()

    def contains_safe_references(self) -> bool:
        """Whether the values are (or hold) safe references."""
        return self.item.contains_safe_references()

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Any) -> MapNode:
        """Build the map node of a normalized snapshot at ``parent[key]`` in ``tree``.

        Raises ``TreeError`` when an entry's identifier differs from its key.
        """
        node = MapNode.__new__(MapNode)
        node._init_node(parent, key, tree, snapshot)
        node._type = self
        item = self.item
        if item.is_complex or item.contains_safe_references():
            tree = node._tree
            node._items = {
                k: None if v is None else item.instantiate(v, node, k, tree)
                for k, v in snapshot.items()
            }
            for k in node._items:
                _check_key(node, k, node._items[k])
            node._snaps = dict(snapshot) if item.is_complex else None
        else:
            node._items = dict(snapshot)
            node._snaps = None
        node._dirty = None
        return node


def _check_key(node: MapNode, key: str, value: Any) -> None:
    if isinstance(value, Node):
        identifier = value._identifier()
        if identifier is not None and identifier != key:
            raise TreeError(
                f"{node._describe()}: a {value._type.name} with identifier {identifier!r} "
                f"must be stored under its own identifier, not under {key!r}; use put()"
            )


class MapNode(Node, MutableMapping[str, Any]):
    """A live map: a ``MutableMapping`` with string keys whose changes are patches.

    Compares equal to a plain dict with the same items.
    """

    __slots__ = ("_dirty", "_items", "_snaps", "_type")
    _keys_atom = KEYS

    _type: MapType[Any]
    _items: dict[str, Any]
    _snaps: dict[str, Any] | None
    _dirty: set[Node] | None

    def _children(self) -> Iterator[Node]:
        for value in self._items.values():
            if isinstance(value, Node):
                yield value

    def _child_dirty(self, child: Node) -> None:
        if self._dirty is None:
            self._dirty = {child}
        else:
            self._dirty.add(child)

    def _build_snapshot(self) -> Any:
        snaps = self._snaps
        if snaps is None:
            return FrozenDict(self._items)
        dirty = self._dirty
        if dirty:
            tx = self._tree.rt.tx
            if tx is not None:
                tx.journal.append((_restore_snaps, self, snaps, dirty))
                snaps = self._snaps = dict(snaps)
            self._dirty = None
            for child in dirty:
                # a rolled-back change can leave a mark for a child no longer here
                if child._alive and self._items.get(child._key) is child:
                    snaps[child._key] = child._get_snapshot()
        return FrozenDict(snaps)

    # -------------------------------------------------------------- reading
    def __getitem__(self, key: str) -> Any:
        if self._tree.rt.tracking is not None:
            self._observe(key)
            if key not in self._items:
                self._observe(KEYS)
        if not self._alive:
            dead_read(self, f"entry {key!r}")
        value = self._items[key]
        item = self._type.item
        return item.read(value, self) if item.needs_read else value

    def __iter__(self) -> Iterator[str]:
        if self._tree.rt.tracking is not None:
            self._observe(KEYS)
        if not self._alive:
            dead_read(self, "the keys")
        return iter(list(self._items))

    def __len__(self) -> int:
        if self._tree.rt.tracking is not None:
            self._observe(KEYS)
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        if self._tree.rt.tracking is not None:
            self._observe(KEYS)
        return key in self._items

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (dict, MapNode)):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = Node.__hash__  # nodes are hashed by identity

    def __repr__(self) -> str:
        return f"<MapNode {self._path() or '/'} {dict(self.items())!r}>"

    # -------------------------------------------------------------- writing
    def __setitem__(self, key: str, value: Any) -> None:
        tx = self._write_tx()
        if tx is None:
            self._outside_action(self.__setitem__, key, value)
            return
        if type(key) is not str:
            raise TypeError(f"{self._describe()}: map keys must be str, got {key!r}")
        self._put(tx, key, value, normalized=False)

    def _put(self, tx: Transaction, key: str, value: Any, normalized: bool) -> None:
        items = self._items
        item = self._type.item
        exists = key in items
        old = items.get(key)
        if normalized:
            if exists and isinstance(old, Node) and value is not None:
                new = item.reconcile_normalized(old, value, self, key, tx)
            elif value is None:
                new = None
            else:
                new = item.instantiate_here(value, self, key)
        elif exists and item.is_complex and old is not None:
            new = item.reconcile(old, value, self, key, tx)
        else:
            new = item.to_stored(value, self, key, tx)
        self._put_slot(tx, key, old, new, exists)

    def _store_slot(
        self, key: Any, new: Any, existed: bool, old: Any, old_snapshot: Any
    ) -> tuple[Any, ...]:
        snaps = self._snaps
        if new is REMOVED:
            del self._items[key]
            if snaps is not None:
                snaps.pop(key, None)
        else:
            _check_key(self, key, new)
            self._items[key] = new
            if snaps is not None:
                snaps[key] = snapshot_of(new)
        return (_undo_put, self, key, existed, old, old_snapshot)

    def __delitem__(self, key: str) -> None:
        self._delete(key, False)

    def _delete(self, key: str, detach: bool) -> None:
        tx = self._write_tx()
        if tx is None:
            self._outside_action(self._delete, key, detach)
            return
        items = self._items
        if key not in items:
            raise KeyError(key)
        self._put_slot(tx, key, items[key], REMOVED, True, detach)

    def clear(self) -> None:
        """Remove every entry (one ``remove`` patch per key, as MST does)."""
        for key in list(self._items):
            del self[key]

    def put(self, value: Any) -> Any:
        """Store a model node or snapshot under its own identifier; returns the stored value."""
        attribute = _identifier_attribute(self._type.item)
        if attribute is None:
            raise TreeError(f"{self._describe()}: put() needs items with an identifier property")
        key = getattr(value, attribute) if isinstance(value, Node) else value[attribute]
        self[key] = value
        return self[key]

    def _apply_normalized(self, snapshot: Any, tx: Transaction) -> None:
        if snapshot is self._snap:
            return
        # MST's order, for the same patch stream: the current keys in order (each
        # removed or reconciled), then the new keys in the snapshot's order.
        items = self._items
        for key in list(items):
            if key not in snapshot:
                del self[key]
            else:
                self._put(tx, key, snapshot[key], normalized=True)
        for key, value in snapshot.items():
            if key not in items:
                self._put(tx, key, value, normalized=True)

    def _remove_child(self, child: Node, tx: Transaction, detach: bool = False) -> None:
        self._delete(child._key, detach)

    def _slot_value(self, key: Any) -> Any:
        return self._items.get(key)

    def _clear_reference(self, identifier: str, where: Any) -> None:
        del self[where]

    def _drop_safe_reference(self, identifier: str) -> None:
        for key in [k for k, v in self._items.items() if v == identifier]:
            del self[key]


def _identifier_attribute(kind: Type | None) -> str | None:
    if isinstance(kind, NodeType) and kind.identifier_attribute is not None:
        return kind.identifier_attribute
    for member in getattr(kind, "members", ()):
        attribute = _identifier_attribute(member)
        if attribute is not None:
            return attribute
    inner = getattr(kind, "inner", None)
    return _identifier_attribute(inner) if isinstance(inner, Type) else None


def _undo_put(node: MapNode, key: str, existed: bool, old: Any, old_snapshot: Any) -> None:
    if existed:
        node._items[key] = old
        if node._snaps is not None:
            node._snaps[key] = old_snapshot
    else:
        node._items.pop(key, None)
        if node._snaps is not None:
            node._snaps.pop(key, None)
    node._changed(key)
    node._changed(KEYS)


def _restore_snaps(node: MapNode, snaps: dict[str, Any], dirty: set[Node]) -> None:
    node._snaps = snaps
    node._dirty = dirty
