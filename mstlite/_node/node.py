"""The node layer's base class: what every live model, array and map node shares.

A node knows its parent, its key in the parent, its tree, and caches its
snapshot. Every single-slot write (a model property, an array item, a map
entry) goes through ``_put_slot``: the no-change test, the journal entry, the
release of the old child, the patch, the change marks. The owner-thread check
is one comparison in ``_write_tx``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from threading import get_ident
from typing import TYPE_CHECKING, Any, ClassVar

from mstlite._engine.reactivity import Atom, Derivation
from mstlite._engine.runtime import IDLE, Runtime, current_runtime, foreign_use
from mstlite._engine.transaction import Transaction, run_in_transaction
from mstlite._node.extras import NodeExtras
from mstlite._node.holders import ReferenceHolder
from mstlite._node.identifiers import (
    invalidate_safe_references,
    move_nodes,
    reference_targets,
    register,
)
from mstlite._node.lifecycle import finalize_destroy, kill
from mstlite._node.patches import deliver_patch, emit
from mstlite._node.tree import Tree
from mstlite._util.frozen import FrozenDict, FrozenList
from mstlite._util.json_pointer import join_json_path
from mstlite.errors import DeadNodeError, ProtectionError, TreeError

if TYPE_CHECKING:
    from mstlite._types.base import Type

__all__ = ["BY_IDENTITY", "REMOVED", "SNAPSHOT", "Node", "same_stored", "snapshot_of"]

SNAPSHOT = "*snapshot"  # the atom key standing for "this node's snapshot"


class _Removed:
    def __repr__(self) -> str:
        return "REMOVED"


#: The ``new`` value of ``_put_slot`` that deletes the slot (map entries).
REMOVED: Any = _Removed()


class Node(ReferenceHolder):
    """Base of live nodes. Internal: users see Model, ArrayNode and MapNode."""

    __slots__ = ("__weakref__", "_alive", "_atoms", "_ext", "_key", "_parent", "_snap", "_tree")

    _parent: Node | None
    _key: Any
    _tree: Tree
    _snap: Any
    _atoms: dict[Any, Atom] | None
    _ext: NodeExtras | None
    _alive: bool

    # Overridden by subclasses: whether the hook methods are defined.
    _has_hooks: ClassVar[bool] = False

    def _init_node(self, parent: Node | None, key: Any, tree: Tree | None, snapshot: Any) -> None:
        self._parent = parent
        self._key = key
        self._snap = snapshot
        self._atoms = None
        self._ext = None
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

    def _extras(self) -> NodeExtras:
        extras = self._ext
        if extras is None:
            extras = self._ext = NodeExtras()
        return extras

    # ------------------------------------------------------------------ reading
    def _get_snapshot(self) -> Any:
        snap = self._snap
        if snap is None:
            snap = self._snap = self._build_snapshot()
            tx = self._tree.rt.tx
            if tx is not None:
                # Filled inside an action: a rollback to an earlier savepoint must not
                # leave this snapshot of what it undid cached.
                tx.journal.append((_restore_snapshot, self, None))
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
        return join_json_path(self._path_parts())

    def _describe(self) -> str:
        return f"{self._type.name} at {self._path() or '/'!r}"

    def _observe(self, key: Any) -> None:
        """Record that the running derivation read ``key`` of this node."""
        rt = self._tree.rt
        if rt.tracking is not None:
            self._observe_in(rt, key)

    def _observe_in(self, rt: Runtime, key: Any) -> None:
        """``_observe`` when the owner runtime ``rt`` has a ``tracking`` (not None):
        a derivation records, or several threads use mstlite and reads are checked."""
        tracking: Derivation = rt.tracking  # type: ignore[assignment]  # not None: see above
        if rt.idle is not None:  # several threads use mstlite: reads are checked
            if rt.ident != get_ident():
                self._foreign_read(rt)
                return
            if tracking is IDLE:
                return
        atoms = self._atoms
        if atoms is None:
            atoms = self._atoms = {}
        if key not in atoms:  # made now, so the end of the run finds every atom it read
            atoms[key] = Atom()
        log = tracking.log
        log.append(atoms)
        log.append(key)

    def _foreign_read(self, owner: Runtime) -> None:
        """A read from a thread that does not own the tree: refused inside its
        actions, views and reactions (it could not be tracked or undone)."""
        if current_runtime().active():
            raise foreign_use(owner, self._describe())

    def _changed(self, key: Any) -> None:
        atoms = self._atoms
        if atoms is not None:
            atom = atoms.get(key)
            if atom is not None and atom.observers:
                atom.report_changed(self._tree.rt)

    # ------------------------------------------------------------------ writing
    def _write_tx(self) -> Transaction | None:
        """The transaction a write joins (None outside actions); checks thread and life."""
        rt = self._tree.rt
        if rt.ident != get_ident():
            raise foreign_use(rt, self._describe())
        tx = rt.tx
        if tx is not None and not self._alive:
            self._check_alive()
        return tx

    def _transact(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` as an action of this node's tree, in its owner thread."""
        rt = self._tree.rt
        if rt.ident != get_ident():
            raise foreign_use(rt, self._describe())
        return run_in_transaction(rt, fn, *args)

    def _outside_action(self, method: Callable[..., Any], *args: Any) -> Any:
        """A write with no action running: refuse it, or run it as its own action."""
        self._check_alive()
        if self._tree.protected:
            raise ProtectionError(
                f"cannot change {self._describe()} outside of an action: the tree is "
                "protected; do it in a method decorated with @action (or call "
                "unprotect(root) first)"
            )
        return run_in_transaction(self._tree.rt, method, *args)

    def _check_alive(self) -> None:
        if not self._alive:
            raise DeadNodeError(
                f"{self._type.name} (last at {self._path() or '/'!r}) is dead: it was removed "
                "from its tree or destroyed, so it cannot change; read get_snapshot() of the "
                "live tree instead, or detach() a node before removing it to keep it alive"
            )

    #: The atom key a slot write changes (None: the slot's own key; arrays: one atom).
    _slot_atom: ClassVar[Any] = None
    #: The atom key of the set of keys, changed when a slot is added or removed (maps).
    _keys_atom: ClassVar[Any] = None

    def _put_slot(
        self, tx: Transaction, key: Any, old: Any, new: Any, existed: bool, detach: bool = False
    ) -> None:
        """The one write path of a single slot: store ``new`` (``REMOVED`` deletes).

        Nothing happens when the slot already holds ``new``. Otherwise the node
        kind checks and stores it (``_store_slot``, which returns the journal
        entry undoing it), the old child is released (destroyed, or made a new root when
        ``detach``; before the patch: safe references it
        clears emit their patches first, so a replica replaying them in order
        ends in the same state), the patch is queued and the change marked.
        """
        if existed and (
            new is old
            or (
                type(new) is type(old)
                and not isinstance(new, Node)
                and type(new) not in BY_IDENTITY
                and new == old
            )
        ):
            return  # the no-change test (same_stored, inlined: the hottest write path)
        old_is_node = isinstance(old, Node)
        old_snapshot = old._get_snapshot() if old_is_node else old
        journal = tx.journal
        journal.append(self._store_slot(key, new, existed, old, old_snapshot))
        if old_is_node and old._parent is self:
            old._release(tx, detach)
        tree = self._tree
        if tree.patch_listener_count:
            if new is REMOVED:
                emit(self, tx, "remove", key, None, old_snapshot)
            else:
                value = new._get_snapshot() if isinstance(new, Node) else new
                if existed:
                    emit(self, tx, "replace", key, value, old_snapshot)
                else:
                    emit(self, tx, "add", key, value, None)
        if self._snap is not None:  # else _invalidate has nothing to do
            self._invalidate(journal)
        atoms = self._atoms
        if atoms is not None:
            atom_key = self._slot_atom
            atom = atoms.get(key if atom_key is None else atom_key)  # _changed, inlined
            if atom is not None and atom.observers:
                atom.report_changed(tree.rt)
            if self._keys_atom is not None and (not existed or new is REMOVED):
                self._changed(self._keys_atom)
        if tree.snapshot_listeners or tree.commit_hooks:
            tx.trees[tree] = None

    def _store_slot(
        self, key: Any, new: Any, existed: bool, old: Any, old_snapshot: Any
    ) -> tuple[Any, ...]:
        """Check and store ``new`` in slot ``key`` (raise if it may not go there, e.g. a
        changed identifier); return the journal entry that restores ``old``."""
        raise NotImplementedError

    def _after_change(self, tx: Transaction, key: Any) -> None:
        """The change marks of a write that did not go through ``_put_slot`` (a splice)."""
        self._invalidate(tx.journal)
        self._changed(key)
        tree = self._tree
        if tree.snapshot_listeners or tree.commit_hooks:
            tx.trees[tree] = None

    def _invalidate(self, journal: list[tuple[Any, ...]]) -> None:
        """Drop the cached snapshot of this node and its ancestors (journaled)."""
        node: Node | None = self
        while node is not None:
            snap = node._snap
            if snap is None:
                break
            journal.append((_restore_snapshot, node, snap))
            node._snap = None
            atoms = node._atoms
            if atoms is not None and SNAPSHOT in atoms:
                node._changed(SNAPSHOT)
            parent = node._parent
            if parent is not None:
                parent._child_dirty(node)
            node = parent

    def _child_dirty(self, child: Node) -> None:
        """A child's snapshot changed (collections track which, to rebuild cheaply)."""

    def _emit_self(self, tx: Transaction, op: str, value: Any, old_value: Any) -> None:
        """Queue a patch replacing this whole node (its path is the parent's slot)."""
        own = self._ext.patch_listeners if self._ext is not None else []
        parent = self._parent
        if parent is None:
            if self._tree.patch_listener_count and own:
                listeners = [(0, listener) for listener in own]
                tx.patches.append((deliver_patch, listeners, [], op, value, old_value))
            return
        emit(parent, tx, op, self._key, value, old_value, own)

    # -------------------------------------------------------- tree membership
    def _attach_check(self, parent: Node) -> None:
        """Raise unless this (root) node may be added under ``parent``."""
        self._check_alive()
        if self._parent is not None:
            raise TreeError(
                f"cannot add {self._describe()} under {parent._path() or '/'!r}: it already has "
                "a parent, and a node has one parent; detach() it first, or pass "
                "get_snapshot(node) to add a copy"
            )
        if self._tree is parent._tree:
            raise TreeError(
                f"cannot add {self._type.name} under {parent._path() or '/'!r}: that is "
                "inside it, and a tree cannot contain itself"
            )
        if self._tree.rt is not parent._tree.rt:
            raise foreign_use(self._tree.rt, self._describe())
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
        move_nodes(nodes, old_tree, new_tree, journal)
        journal.append((_restore_parent, self, None, self._key))
        self._parent = parent
        self._key = key
        if self._has_hooks:
            self._call_hook("after_attach")

    def _release(self, tx: Transaction, detach: bool = False) -> None:
        """This node left its slot: destroy it, or (``detach``) make it a new root."""
        if not detach:
            self._kill(tx)
            return
        old_tree = self._tree
        new_tree = Tree(self, old_tree.env)
        new_tree.fresh = False
        new_tree.protected = old_tree.protected
        nodes = list(self._iter_subtree())
        targets = reference_targets(old_tree, nodes) if old_tree.safe_refs else None
        move_nodes(nodes, old_tree, new_tree, tx.journal)
        tx.journal.append((_restore_parent, self, self._parent, self._key))
        self._parent = None
        if targets:  # as MST: the tree's safe references to them are cleared
            invalidate_safe_references(old_tree, targets)

    def _kill(self, tx: Transaction) -> None:
        """Destroy this subtree in ``tx`` (undone on rollback, finished at commit)."""
        kill(self, tx)

    def _finalize_destroy(self) -> None:
        """After commit: drop what a dead subtree still holds (computeds, listeners)."""
        finalize_destroy(self)

    def _apply_normalized(self, snapshot: Any, tx: Transaction) -> None:
        """Reconcile this node with a normalized snapshot of its own type."""
        raise NotImplementedError

    def _remove_child(self, child: Node, tx: Transaction, detach: bool = False) -> None:
        """Take ``child`` out of its slot (it is then destroyed, or detached)."""
        raise NotImplementedError

    def _call_hook(self, name: str) -> None:
        hook = getattr(self, name, None)
        if hook is not None:
            hook()

    def _register_identifier(self, identifier: str) -> None:
        """Index this new node's identifier; journaled unless its tree is being built."""
        tree = self._tree
        tx = tree.rt.tx
        register(tree, identifier, self, None if tx is None or tree.fresh else tx.journal)


#: Stored values compared by identity, not equality: frozen containers. MST compares
#: a frozen value with ``===``, so writing an equal but new one is a change that emits
#: a ``replace`` (the patch streams of both must match; DESIGN.md says so).
BY_IDENTITY: frozenset[type] = frozenset((FrozenDict, FrozenList))


def same_stored(a: Any, b: Any) -> bool:
    """Whether storing ``b`` where ``a`` is changes nothing (the no-change test)."""
    return a is b or (
        type(a) is type(b) and not isinstance(a, Node) and type(a) not in BY_IDENTITY and a == b
    )


def snapshot_of(stored: Any) -> Any:
    """The snapshot of a stored value (a node's snapshot, or the value itself)."""
    return stored._get_snapshot() if isinstance(stored, Node) else stored


def _same_type(node: Node) -> Callable[[Node], bool]:
    kind = node._type
    return lambda other: other._type is kind


def _restore_snapshot(node: Node, snap: Any) -> None:
    node._snap = snap
    if node._atoms is not None:
        node._changed(SNAPSHOT)


def _restore_parent(node: Node, parent: Node | None, key: Any) -> None:
    node._parent = parent
    node._key = key
    node._tree.path_cache.clear()
