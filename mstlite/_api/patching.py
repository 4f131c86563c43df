"""Patches and snapshots on live trees: apply_patch, apply_snapshot, on_patch, record_patches.

``apply_patch`` runs the RFC 6902 core (``_util.rfc6902``, shared with
``mstlite.patch.apply``) over ``TreeDocument``; both it and ``apply_snapshot``
are actions, so at any depth they apply entirely or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mstlite._api.action_log import Recorder
from mstlite._api.paths import child, no_property, resolve_parts
from mstlite._node.extras import subscribe
from mstlite._node.node import Node, snapshot_of
from mstlite._types.array import ArrayNode
from mstlite._types.base import IdentifierClashError
from mstlite._types.map import MapNode
from mstlite._types.model import ModelNode, identifiers_unique_at_end
from mstlite._types.unchanged import share_unchanged
from mstlite._util import rfc6902
from mstlite._util.frozen import freeze
from mstlite._util.json_pointer import join_json_path
from mstlite.errors import MstError, PatchError, TreeError

if TYPE_CHECKING:
    from mstlite.typing import Patch

_MISSING: Any = object()

__all__ = [
    "PatchRecorder",
    "TreeDocument",
    "apply_patch",
    "apply_snapshot",
    "node_of",
    "on_patch",
    "record_patches",
]


def node_of(value: Any, function: str) -> Node:
    """``value`` if it is a tree node, else a ``TypeError`` naming ``function``."""
    if not isinstance(value, Node):
        raise TypeError(
            f"{function}() expects a tree node (a Model instance, or an array or map in one), "
            f"got {type(value).__name__}"
        )
    return value


def apply_snapshot(node: Any, snapshot: Any) -> None:
    """Make ``node`` equal to ``snapshot``, reusing nodes with the same identifier.

    An action: an invalid snapshot raises ``ValidationError`` and changes nothing.
    Array items that are exactly their nodes' current snapshots are not validated
    or reconciled again, so the cost follows what changed.
    """
    target = node_of(node, "apply_snapshot")
    # Items the tree already holds become their nodes' own snapshots: validation and
    # reconciliation then skip them (MST's result for an equal item: nothing changes).
    normalized = target._type.normalize(share_unchanged(target, snapshot), target._path())

    def apply() -> None:
        target._check_alive()
        tx = target._write_tx()
        assert tx is not None
        # Valid as a whole, not property by property: an identifier may move to a
        # property applied before the one it leaves, so uniqueness is checked at the end.
        with identifiers_unique_at_end(target._tree):
            target._apply_normalized(normalized, tx)

    try:
        target._transact(apply)
    except TreeError as error:  # identifiers that clash: the snapshot is invalid here
        path = target._path()
        raise IdentifierClashError(str(error), [{"path": path, "message": str(error)}]) from None


def on_patch(node: Any, listener: Callable[[Patch, Patch], None]) -> Callable[[], None]:
    """Call ``listener(patch, inverse_patch)`` for every committed change under ``node``.

    Paths are relative to ``node``. Returns a disposer that removes the listener.
    """
    target = node_of(node, "on_patch")
    listeners = target._extras().patch_listeners
    remove = subscribe(listeners, listener)
    target._tree.patch_listener_count += 1
    target._tree.path_cache.clear()  # the cached listener groups lack this one

    def dispose() -> None:
        if listener in listeners:
            remove()
            target._tree.patch_listener_count -= 1
            target._tree.path_cache.clear()

    return dispose


def apply_patch(node: Any, patches: Patch | Iterable[Patch] | Mapping[str, Any]) -> None:
    """Apply one RFC 6902 patch or a list of them to ``node``, as one action.

    Raises ``PatchError`` (or ``ValidationError`` for a bad value); then nothing
    changed, however many patches had been applied already, even inside an
    action that catches the error.
    """
    target = node_of(node, "apply_patch")
    batch = list(rfc6902.as_batch(patches))

    def apply() -> None:
        # Valid as a whole, as apply_snapshot: an MST peer's stream may add an
        # identifier before it removes it elsewhere (a move to an earlier property).
        tree = target._tree
        outer, tree.cleared_refs = tree.cleared_refs, {}
        try:
            with identifiers_unique_at_end(tree):
                rfc6902.apply_all(TreeDocument(target), batch)
        except PatchError:
            raise
        except TreeError as error:
            raise PatchError(
                f"the patches cannot be applied: once they all are, {error}; nothing was changed"
            ) from None
        finally:
            tree.cleared_refs = outer

    target._transact(apply)


class TreeDocument(rfc6902.Document):
    """A live tree as an RFC 6902 document: each operation is a write on its nodes."""

    def __init__(self, root: Node) -> None:
        self.root = root

    def apply(self, op: str, parts: list[str], source: list[str] | None, value: Any) -> None:
        try:
            if op == "replace" or op == "add":  # most patches: no generic dispatch
                self.put(op, parts, value)
            else:
                super().apply(op, parts, source, value)
        except PatchError:
            raise
        except TreeError as error:  # e.g. a copy that would use an identifier twice
            raise PatchError(f"cannot be applied: {error}; nothing was changed") from None
        except MstError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise PatchError(f"cannot be applied: {error}; nothing was changed") from None

    def _past_clearing(self, container: ArrayNode, key: str, op: str) -> bool:
        """Whether ``key`` names a place past the end of ``container`` that MST's own
        undo stream may name there: the safe references this patch list cleared from
        the array left it shorter than the stream's patches count on (MST's undo of a
        step that set safe references before their targets arrived removes the
        targets first, which clears the references).

        The array is then as many items short as references were cleared and not yet
        accounted for: a ``remove`` up to that far past the end is done already (one
        fewer missing), an ``add`` up to that far appends (still as many missing:
        MST splices past the end, which appends), and a ``replace`` at the end
        appends (one fewer missing), as MST does. Anything else past the end is
        refused, as RFC 6902 says.
        """
        cleared = self.root._tree.cleared_refs
        missing = cleared.get(container, 0) if cleared else 0
        if not missing or not (key.isdigit() and key.isascii()):
            return False
        length, position = len(container._items), int(key)
        if op == "add":
            return length < position <= length + missing
        if not (position == length if op == "replace" else length <= position < length + missing):
            return False
        assert cleared is not None
        cleared[container] = missing - 1
        return True

    def get(self, parts: list[str], op: str) -> Any:
        if not parts:
            return self.root._get_snapshot()
        return snapshot_of(resolve_parts(self.root, parts, op))

    def _container(self, parts: list[str], op: str) -> Node:
        container: Any = self.root
        for depth in range(len(parts) - 1):
            token = parts[depth]
            # child()'s common steps inlined: a model's property (its data holds
            # exactly its properties, as its snapshot shows), an array's item.
            if isinstance(container, ModelNode):
                found = container._data.get(token, _MISSING)
                if found is not _MISSING:
                    container = found
                    continue
            elif isinstance(container, ArrayNode):
                items = container._items
                # index()'s first case: a plain decimal index in range.
                if token.isdigit() and token.isascii() and (token[0] != "0" or len(token) == 1):
                    position = int(token)
                    if position < len(items):
                        container = items[position]
                        continue
                container = items[rfc6902.index(len(items), token, parts, depth, op)]
                continue
            container = child(container, parts, depth, op)
        if not isinstance(container, Node):
            raise PatchError(
                f"there is nothing to {op} inside {rfc6902.kind_of(container)} at "
                f"{join_json_path(parts[:-1])!r}: only the models, arrays and maps of a tree "
                "can be changed by patches"
            )
        if not container._alive:
            container._check_alive()
        return container

    def put(self, op: str, parts: list[str], value: Any) -> None:
        if not parts:
            apply_snapshot(self.root, value)
            return
        container = self._container(parts, op)
        key = parts[-1]
        if isinstance(container, ModelNode):  # first: see child() in _api.paths
            if key not in container._data:
                raise no_property(container, parts, len(parts) - 1)
            container._set_prop(getattr(type(container), key), value)
            return
        last = len(parts) - 1
        if isinstance(container, ArrayNode):
            if self._past_clearing(container, key, op):
                container.append(value)
                return
            position = rfc6902.index(len(container._items), key, parts, last, op)
            if op == "add":
                container.insert(position, value)
            else:
                container[position] = value
        elif isinstance(container, MapNode):
            if op == "replace" and key not in container._items:
                raise rfc6902.missing_member(parts, last, op)
            container[key] = value

    def remove(self, parts: list[str], op: str) -> Any:
        if not parts:
            raise PatchError(
                f"cannot {op} the root of the tree; use 'replace' with path '' to swap it"
            )
        container = self._container(parts, op)
        if isinstance(container, ModelNode):
            _prop(container, parts)  # an undeclared property has its own error
            # A model always has all its properties: MST refuses this too.
            raise PatchError(
                f"cannot {op} property {parts[-1]!r} of the {container._type.name} at "
                f"{join_json_path(parts[:-1]) or '/'!r}: a model's properties cannot be "
                "removed; use 'replace' with null (for an X | None property) instead"
            )
        if isinstance(container, ArrayNode) and self._past_clearing(container, parts[-1], op):
            return None
        stored = child(container, parts, len(parts) - 1, op)
        value = snapshot_of(stored)
        if isinstance(container, ArrayNode):
            del container[int(parts[-1])]
        elif isinstance(container, MapNode):
            del container[parts[-1]]
        return value


def _prop(container: Node, parts: list[str]) -> Any:
    assert isinstance(container, ModelNode)
    key = parts[-1]
    if key not in type(container)._mst_type.props:
        raise no_property(container, parts, len(parts) - 1)
    return getattr(type(container), key)


class PatchRecorder(Recorder):
    """Records the patches under a node: ``patches``, ``inverse_patches``.

    ``stop()``/``resume()`` pause recording, ``replay(target)`` applies the
    patches to another tree, ``undo(target)`` applies the inverses in reverse.
    Usable as a context manager that stops on exit.
    """

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.patches: list[Patch] = []
        self.inverse_patches: list[Patch] = []
        self.resume()

    def _listen(self) -> Callable[[], None]:
        return on_patch(self.node, self._record)

    def _record(self, patch: Patch, inverse: Patch) -> None:
        self.patches.append(patch)
        self.inverse_patches.append(inverse)

    def replay(self, target: Node | None = None) -> None:
        """Apply the recorded patches to ``target`` (default: the recorded node)."""
        apply_patch(target if target is not None else self.node, [freeze(p) for p in self.patches])

    def undo(self, target: Node | None = None) -> None:
        """Apply the inverse patches in reverse order to ``target`` (default: the node)."""
        apply_patch(
            target if target is not None else self.node,
            [freeze(p) for p in reversed(self.inverse_patches)],
        )


def record_patches(node: Node) -> PatchRecorder:
    """Start recording the patches under ``node``; see ``PatchRecorder``."""
    return PatchRecorder(node)
