"""Patches on live trees: apply_patch, on_patch and record_patches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mstlite._json_pointer import split_json_path
from mstlite._node import Node
from mstlite._runtime import RT, run_in_transaction
from mstlite._snapshot import freeze
from mstlite._types_base import snapshot_of
from mstlite.errors import MstError, PatchError, TreeError

if TYPE_CHECKING:
    from mstlite.typing import Patch

__all__ = ["PatchRecorder", "apply_patch", "on_patch", "record_patches"]


def on_patch(node: Node, listener: Callable[[Any, Any], None]) -> Callable[[], None]:
    """Call ``listener(patch, inverse_patch)`` for every committed change under ``node``.

    Paths are relative to ``node``. Returns a disposer that removes the listener.
    """
    meta = node._meta
    if meta is None:
        meta = node._meta = {}
    meta.setdefault("patch", []).append(listener)
    node._tree.patch_listener_count += 1

    def dispose() -> None:
        listeners = (node._meta or {}).get("patch")
        if listeners and listener in listeners:
            listeners.remove(listener)
            node._tree.patch_listener_count -= 1

    return dispose


def apply_patch(node: Node, patches: Patch | Iterable[Patch] | Mapping[str, Any]) -> None:
    """Apply one RFC 6902 patch or a list of them to ``node``, as one action.

    Raises ``PatchError`` (or ``ValidationError`` for a bad value); then nothing
    changed, however many patches had been applied already.
    """
    batch = [patches] if isinstance(patches, Mapping) else list(patches)
    run_in_transaction(_apply_all, node, batch)


def _apply_all(node: Node, batch: list[Any]) -> None:
    from mstlite.patch import validate_patch

    for index, patch in enumerate(batch):
        try:
            validate_patch(patch)
            _apply_one(node, patch)
        except PatchError as error:
            raise PatchError(f"patch {index} ({_op_of(patch)}): {error}") from None
        except TreeError as error:  # e.g. a copy that would use an identifier twice
            raise PatchError(
                f"patch {index} ({_op_of(patch)}) cannot be applied at {patch.get('path')!r}: "
                f"{error}; nothing was changed"
            ) from None
        except MstError:
            raise
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise PatchError(
                f"patch {index} ({_op_of(patch)}) cannot be applied at {patch.get('path')!r}: "
                f"{error}; nothing was changed"
            ) from None


def _op_of(patch: Any) -> str:
    return str(patch.get("op")) if isinstance(patch, Mapping) else "?"


def _apply_one(root: Node, patch: Mapping[str, Any]) -> None:
    from mstlite.patch import compare_json

    op = patch["op"]
    path = patch["path"]
    parts = split_json_path(path)
    if op == "test":
        if not compare_json(snapshot_at(root, parts, path), patch["value"]):
            raise PatchError(f"test failed at {path!r}: the value differs")
        return
    if op in ("move", "copy"):
        source = split_json_path(patch["from"])
        value = snapshot_at(root, source, patch["from"])
        if op == "move":
            if parts[: len(source)] == source and len(parts) > len(source):
                raise PatchError(f"cannot move {patch['from']!r} into its own child {path!r}")
            if source == parts:
                return
            _change(root, "remove", source, None, patch["from"])
        _change(root, "add", parts, value, path)
        return
    _change(root, op, parts, patch.get("value"), path)


def _change(root: Node, op: str, parts: list[str], value: Any, path: str) -> None:
    if not parts:
        if op == "remove":
            raise PatchError("cannot remove the root of the tree")
        from mstlite._ops import apply_snapshot

        apply_snapshot(root, value)
        return
    container = resolve_parts(root, parts[:-1], path)
    if not isinstance(container, Node):
        raise PatchError(f"{path!r} does not lead into a model, array or map")
    key = parts[-1]
    container._check_alive()
    tx = RT.tx
    assert tx is not None
    from mstlite._array import ArrayNode
    from mstlite._map import MapNode
    from mstlite._model import Model

    if isinstance(container, ArrayNode):
        length = len(container._items)
        if key == "-":
            if op != "add":
                raise PatchError(f"'-' is only valid with 'add' ({path!r})")
            container.append(value)
            return
        position = _array_index(key, path)
        if op == "add":
            if position > length:
                raise PatchError(f"index {position} is past the end of the array at {path!r}")
            container.insert(position, value)
        elif position >= length:
            raise PatchError(f"index {position} is out of range at {path!r}")
        elif op == "replace":
            container[position] = value
        else:
            del container[position]
    elif isinstance(container, MapNode):
        if op in ("remove", "replace") and key not in container._items:
            raise PatchError(f"no key {key!r} at {path!r}")
        if op == "remove":
            del container[key]
        else:
            container[key] = value
    elif isinstance(container, Model):
        props = type(container)._mst_type.props
        if key not in props:
            raise PatchError(f"{container._type.name} has no property {key!r} ({path!r})")
        prop = type(container).__dict__.get(key) or getattr(type(container), key)
        container._set_prop(prop, None if op == "remove" else value)


def _array_index(key: str, path: str) -> int:
    if not key.isdigit() or (len(key) > 1 and key[0] == "0") or not key.isascii():
        raise PatchError(f"{key!r} is not an array index in {path!r}")
    return int(key)


def resolve_parts(root: Node, parts: list[str], path: str) -> Any:
    """The stored value at ``parts`` under ``root``; raises PatchError if there is none."""
    from mstlite._array import ArrayNode
    from mstlite._map import MapNode
    from mstlite._model import Model

    current: Any = root
    for key in parts:
        if isinstance(current, ArrayNode):
            position = _array_index(key, path)
            if position >= len(current._items):
                raise PatchError(f"index {position} is out of range at {path!r}")
            current = current._items[position]
        elif isinstance(current, MapNode):
            if key not in current._items:
                raise PatchError(f"no key {key!r} at {path!r}")
            current = current._items[key]
        elif isinstance(current, Model):
            if key not in type(current)._mst_type.props:
                raise PatchError(f"{current._type.name} has no property {key!r} ({path!r})")
            current = current._data[key]
        else:
            raise PatchError(f"{path!r} does not exist: {key!r} is inside a plain value")
    return current


def snapshot_at(root: Node, parts: list[str], path: str) -> Any:
    if not parts:
        return root._get_snapshot()
    stored = resolve_parts(root, parts, path)
    return snapshot_of(stored)


class PatchRecorder:
    """Records the patches under a node: ``patches``, ``inverse_patches``.

    ``stop()``/``resume()`` pause recording, ``replay(target)`` applies the
    patches to another tree, ``undo(target)`` applies the inverses in reverse.
    Usable as a context manager that stops on exit.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.patches: list[Patch] = []
        self.inverse_patches: list[Patch] = []
        self._dispose: Callable[[], None] | None = None
        self.resume()

    @property
    def recording(self) -> bool:
        return self._dispose is not None

    def _record(self, patch: Patch, inverse: Patch) -> None:
        self.patches.append(patch)
        self.inverse_patches.append(inverse)

    def stop(self) -> None:
        """Stop recording (keeps what was recorded)."""
        if self._dispose is not None:
            self._dispose()
            self._dispose = None

    def resume(self) -> None:
        """Start recording again."""
        if self._dispose is None:
            self._dispose = on_patch(self.node, self._record)

    def replay(self, target: Node | None = None) -> None:
        """Apply the recorded patches to ``target`` (default: the recorded node)."""
        apply_patch(target if target is not None else self.node, [freeze(p) for p in self.patches])

    def undo(self, target: Node | None = None) -> None:
        """Apply the inverse patches in reverse order to ``target`` (default: the node)."""
        apply_patch(
            target if target is not None else self.node,
            [freeze(p) for p in reversed(self.inverse_patches)],
        )

    def __enter__(self) -> PatchRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def record_patches(node: Node) -> PatchRecorder:
    """Start recording the patches under ``node``; see ``PatchRecorder``."""
    return PatchRecorder(node)
