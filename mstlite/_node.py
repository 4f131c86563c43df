"""The node layer's base class: what every live model, array and map node shares.

A node knows its parent, its key in the parent, its tree, and caches its
snapshot. Every write goes through ``_write_tx`` (protection, liveness,
thread) and ``_invalidate`` (journal the old snapshot so a rollback restores
the very same object), so transactions, patches and undo hook in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from mstlite._reactivity import Atom
from mstlite._runtime import RT, Transaction, run_in_transaction
from mstlite._tree import Tree
from mstlite.errors import DeadNodeError, MstError, ProtectionError, TreeError

if TYPE_CHECKING:
    from mstlite._types_base import Type

__all__ = ["Node"]

SNAPSHOT = "*snapshot"  # the atom key standing for "this node's snapshot"

# Nodes being detached (not destroyed) by the running detach() call.
DETACHING: set[int] = set()


class Node:
    """Base of live nodes. Internal: users see Model, ArrayNode and MapNode."""

    __slots__ = ("__weakref__", "_alive", "_atoms", "_key", "_meta", "_parent", "_snap", "_tree")

    _parent: Node | None
    _key: Any
    _tree: Tree
    _snap: Any
    _atoms: dict[Any, Atom] | None
    _meta: dict[str, Any] | None
    _alive: bool

    # Overridden by subclasses: whether the hook methods are defined.
    _has_hooks: ClassVar[bool] = False

    def _init_node(self, parent: Node | None, key: Any, tree: Tree | None, snapshot: Any) -> None:
        self._parent = parent
        self._key = key
        self._snap = snapshot
        self._atoms = None
        self._meta = None
        self._alive = True
        if tree is None:
            tree = Tree(self, None)
        self._tree = tree

    # ----------------------------------------------------------------- identity
    @property
    def _type(self) -> Type:
        raise NotImplementedError

    def _identifier(self) -> str | None:
        return None

    def _children(self) -> Iterator[Node]:
        raise NotImplementedError

    def _iter_subtree(self) -> Iterator[Node]:
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node._children())

    # ------------------------------------------------------------------ reading
    def _get_snapshot(self) -> Any:
        snap = self._snap
        if snap is None:
            snap = self._snap = self._build_snapshot()
        return snap

    def _build_snapshot(self) -> Any:
        raise NotImplementedError

    def _path_parts(self) -> list[str]:
        parts: list[str] = []
        node: Node | None = self
        while node is not None and node._parent is not None:
            parts.append(str(node._key))
            node = node._parent
        parts.reverse()
        return parts

    def _path(self) -> str:
        from mstlite._json_pointer import join_json_path

        return join_json_path(self._path_parts())

    def _describe(self) -> str:
        return f"{self._type.name} at {self._path() or '/'!r}"

    def _observe(self, key: Any) -> None:
        """Record that the running derivation read ``key`` of this node."""
        tracking = RT.tracking
        if tracking is None:
            return
        atoms = self._atoms
        if atoms is None:
            atoms = self._atoms = {}
        atom = atoms.get(key)
        if atom is None:
            atom = atoms[key] = Atom()
        tracking.new_observing.append(atom)

    def _changed(self, key: Any) -> None:
        atoms = self._atoms
        if atoms is not None:
            atom = atoms.get(key)
            if atom is not None and atom.observers:
                atom.report_changed()

    # ------------------------------------------------------------------ writing
    def _outside_action(self, method: Callable[..., Any], *args: Any) -> Any:
        """A write with no action running: refuse it, or run it as its own action."""
        self._check_alive()
        if self._tree.protected:
            raise ProtectionError(
                f"cannot change {self._describe()} outside of an action: the tree is "
                "protected; do it in a method decorated with @action (or call "
                "unprotect(root) first)"
            )
        return run_in_transaction(method, *args)

    def _write_tx(self) -> Transaction:
        tx = RT.tx
        assert tx is not None
        if not self._alive:
            self._check_alive()
        if self._tree.thread != tx.thread:
            raise MstError(
                f"{self._describe()} belongs to another thread's tree; a tree is used from "
                "one thread (the asyncio loop's): use loop.call_soon_threadsafe()"
            )
        return tx

    def _check_alive(self) -> None:
        if not self._alive:
            raise DeadNodeError(
                f"{self._type.name} (last at {self._path() or '/'!r}) is dead: it was removed "
                "from its tree or destroyed, so it cannot change; read get_snapshot() of the "
                "live tree instead, or detach() a node before removing it to keep it alive"
            )

    def _invalidate(self, journal: list[tuple[Any, ...]]) -> None:
        """Drop the cached snapshot of this node and its ancestors (journaled)."""
        node: Node | None = self
        while node is not None:
            snap = node._snap
            if snap is None:
                break
            journal.append((_restore_snapshot, node, snap))
            node._snap = None
            if node._atoms is not None:
                node._changed(SNAPSHOT)
            parent = node._parent
            if parent is not None:
                parent._child_dirty(node)
            node = parent

    def _child_dirty(self, child: Node) -> None:
        """A child's snapshot changed (collections track which, to rebuild cheaply)."""

    def _emit(
        self,
        tx: Transaction,
        op: str,
        key: Any,
        value: Any,
        old_value: Any,
        own: Iterable[Callable[[Any, Any], None]] = (),
    ) -> None:
        """Queue a patch about ``key`` of this node for the listeners above it.

        ``own`` are the listeners of a child replaced as a whole: they see it at path "".
        """
        if self._tree.patch_listener_count == 0:
            return
        chain: list[Node] = []
        node: Node | None = self
        while node is not None:
            chain.append(node)
            node = node._parent
        depth = len(chain)  # number of path parts of the patch, counting the key
        listeners = [(depth, listener) for listener in own]
        for level, node in enumerate(chain):
            meta = node._meta
            if meta is not None:
                for listener in meta.get("patch", ()):
                    listeners.append((depth - 1 - level, listener))
        if not listeners:
            return
        parts = [str(n._key) for n in reversed(chain[:-1])]
        parts.append(str(key))
        tx.patches.append((listeners, parts, op, value, old_value))

    def _emit_self(self, tx: Transaction, op: str, value: Any, old_value: Any) -> None:
        """Queue a patch replacing this whole node (its path is the parent's slot)."""
        own = self._meta.get("patch", ()) if self._meta is not None else ()
        parent = self._parent
        if parent is None:
            if self._tree.patch_listener_count and own:
                tx.patches.append(([(0, listener) for listener in own], [], op, value, old_value))
            return
        parent._emit(tx, op, self._key, value, old_value, own)

    def _mark_tree_changed(self, tx: Transaction) -> None:
        tree = self._tree
        if tree.snapshot_listeners:
            tx.trees.add(tree)

    # -------------------------------------------------------- tree membership
    def _attach_check(self, parent: Node) -> None:
        """Raise unless this (root) node may be added under ``parent``."""
        self._check_alive()
        if self._parent is not None:
            raise TreeError(
                f"cannot add {self._describe()} at {parent._path() or '/'!r}: a node has one "
                "parent; detach() it first, or pass get_snapshot(node) to add a copy"
            )
        if self._tree is parent._tree:
            raise TreeError(
                f"cannot add {self._type.name} under {parent._path() or '/'!r}: that is "
                "inside it, and a tree cannot contain itself"
            )
        target = parent._tree
        for node in self._iter_subtree():
            identifier = node._identifier()
            if identifier is not None and target.find(identifier, _same_type(node)) is not None:
                raise TreeError(
                    f"identifier {identifier!r} of type {node._type.name} is already used in "
                    f"the tree at {parent._path() or '/'!r}; identifiers are unique per type"
                )

    def _attach(self, parent: Node, key: Any, journal: list[tuple[Any, ...]]) -> None:
        """Make this (checked) root node the child ``key`` of ``parent``."""
        old_tree = self._tree
        new_tree = parent._tree
        nodes = list(self._iter_subtree())
        _move_nodes(nodes, old_tree, new_tree, journal)
        journal.append((_restore_parent, self, None, self._key))
        self._parent = parent
        self._key = key
        if self._has_hooks:
            self._call_hook("after_attach")

    def _release(self, tx: Transaction) -> None:
        """This node left its slot: detach it as a new root, or destroy it."""
        if id(self) in DETACHING:
            DETACHING.discard(id(self))
            old_tree = self._tree
            new_tree = Tree(self, old_tree.env)
            new_tree.protected = old_tree.protected
            nodes = list(self._iter_subtree())
            _move_nodes(nodes, old_tree, new_tree, tx.journal)
            tx.journal.append((_restore_parent, self, self._parent, self._key))
            self._parent = None
            return
        self._kill(tx)

    def _kill(self, tx: Transaction) -> None:
        nodes = list(self._iter_subtree())
        for node in reversed(nodes):  # children before parents, as MST does
            if node._has_hooks:
                node._call_hook("before_destroy")
        tree = self._tree
        journal = tx.journal
        removed_ids: list[str] = []
        for node in nodes:
            identifier = node._identifier()
            if identifier is not None:
                _unregister(tree, identifier, node, journal)
                removed_ids.append(identifier)
            node._alive = False
        journal.append((_revive, nodes))
        tx.killed.append(self)
        if removed_ids and tree.safe_refs:
            from mstlite._types_ref import invalidate_safe_references

            invalidate_safe_references(tree, removed_ids)

    def _finalize_destroy(self) -> None:
        """After commit: drop what a dead subtree still holds (computeds, listeners)."""
        for node in self._iter_subtree():
            if node._alive:
                continue
            meta = node._meta
            if meta is not None:
                for computed in meta.get("computed", {}).values():
                    computed.dispose()
                for disposer in meta.get("disposers", ()):
                    try:
                        disposer()
                    except Exception as error:
                        from mstlite._runtime import report_error

                        report_error(error, "a disposer")
                if meta.get("patch"):
                    node._tree.patch_listener_count -= len(meta["patch"])
                meta.pop("patch", None)
                meta.pop("disposers", None)
            tree = node._tree
            if tree.snapshot_listeners:
                tree.snapshot_listeners = [e for e in tree.snapshot_listeners if e[0] is not node]

    def _apply_normalized(self, snapshot: Any, tx: Transaction) -> None:
        """Reconcile this node with a normalized snapshot of its own type."""
        raise NotImplementedError

    def _remove_child(self, child: Node, tx: Transaction) -> None:
        """Take ``child`` out of its slot (it is then detached or destroyed)."""
        raise NotImplementedError

    def _drop_safe_reference(self, identifier: str) -> None:
        """Clear the safe references to ``identifier`` held by this node."""
        raise NotImplementedError

    def _call_hook(self, name: str) -> None:
        hook = getattr(self, name, None)
        if hook is not None:
            hook()


def _same_type(node: Node) -> Callable[[Node], bool]:
    kind = node._type
    return lambda other: other._type is kind


def _register(
    tree: Tree, identifier: str, node: Node, journal: list[tuple[Any, ...]] | None
) -> None:
    tree.ids.setdefault(identifier, []).append(node)
    if journal is not None:
        journal.append((_unregister, tree, identifier, node, None))


def _unregister(
    tree: Tree, identifier: str, node: Node, journal: list[tuple[Any, ...]] | None
) -> None:
    nodes = tree.ids.get(identifier)
    if nodes is None or node not in nodes:
        return
    nodes.remove(node)
    if not nodes:
        del tree.ids[identifier]
    if journal is not None:
        journal.append((_register, tree, identifier, node, None))


def _move_nodes(nodes: list[Node], old: Tree, new: Tree, journal: list[tuple[Any, ...]]) -> None:
    """Repoint a subtree from ``old`` to ``new`` with its identifiers and listeners."""
    member = set(map(id, nodes))
    for node in nodes:
        identifier = node._identifier()
        if identifier is not None:
            _unregister(old, identifier, node, journal)
            _register(new, identifier, node, journal)
        node._tree = new
        meta = node._meta
        if meta is not None and meta.get("patch"):
            count = len(meta["patch"])
            old.patch_listener_count -= count
            new.patch_listener_count += count
    moved = [e for e in old.snapshot_listeners if id(e[0]) in member]
    if moved:
        old.snapshot_listeners = [e for e in old.snapshot_listeners if id(e[0]) not in member]
        new.snapshot_listeners.extend(moved)
    for identifier, holders in list(old.safe_refs.items()):
        inside = {h for h in holders if id(h) in member}
        if inside:
            new.safe_refs.setdefault(identifier, set()).update(inside)
    journal.append((_move_back, nodes, old, new))


def _move_back(nodes: list[Node], old: Tree, new: Tree) -> None:
    member = set(map(id, nodes))
    for node in nodes:
        node._tree = old
        meta = node._meta
        if meta is not None and meta.get("patch"):
            count = len(meta["patch"])
            old.patch_listener_count += count
            new.patch_listener_count -= count
    moved = [e for e in new.snapshot_listeners if id(e[0]) in member]
    if moved:
        new.snapshot_listeners = [e for e in new.snapshot_listeners if id(e[0]) not in member]
        old.snapshot_listeners.extend(moved)


def _restore_snapshot(node: Node, snap: Any) -> None:
    node._snap = snap
    if node._atoms is not None:
        node._changed(SNAPSHOT)


def _restore_parent(node: Node, parent: Node | None, key: Any) -> None:
    node._parent = parent
    node._key = key


def _revive(nodes: list[Node]) -> None:
    for node in nodes:
        node._alive = True
