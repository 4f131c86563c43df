"""Patches on live trees: built at commit from what the write path queued, then delivered."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mstlite._engine.runtime import report_error
from mstlite._util.json_pointer import escape_json_path, join_json_path

if TYPE_CHECKING:
    from mstlite._engine.transaction import Delivery, Transaction
    from mstlite._node.node import Node

__all__ = ["deliver_grouped", "deliver_patch", "emit", "listener_groups", "make_patch_pair"]

#: One entry of a node's cached listener groups: the node's JSON pointer relative to
#: the node the listeners are on, and those listeners (a copy: see ``listener_groups``).
Group = tuple[str, tuple[Callable[[Any, Any], None], ...]]


def deliver_patch(delivery: Delivery, entry: tuple[Any, ...]) -> None:
    """Call each listener with the patch and its inverse, its path relative to the listener.

    ``entry`` is ``(deliver_patch, [(prefix, listener)...], parts, op, value, old_value)``.
    ``Delivery.call``'s error handling, inlined: this runs once per listener and patch.
    """
    _, listeners, parts, op, value, old_value = entry
    for prefix, listener in listeners:
        patch, inverse = make_patch_pair(op, join_json_path(parts[prefix:]), value, old_value)
        try:
            listener(patch, inverse)
        except Exception as error:
            report_error(error, "an on_patch listener", delivery.rt)
        except BaseException as error:
            if delivery.interrupt is None:
                delivery.interrupt = error


def make_patch_pair(
    op: str, path: str, value: Any, old_value: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build a patch and its inverse as plain RFC 6902 dicts."""
    if op == "replace":
        return {"op": "replace", "path": path, "value": value}, {
            "op": "replace",
            "path": path,
            "value": old_value,
        }
    if op == "add":
        return {"op": "add", "path": path, "value": value}, {"op": "remove", "path": path}
    return {"op": "remove", "path": path}, {"op": "add", "path": path, "value": old_value}


def emit(
    node: Node,
    tx: Transaction,
    op: str,
    key: Any,
    value: Any,
    old_value: Any,
    own: Iterable[Callable[[Any, Any], None]] = (),
) -> None:
    """Queue a patch about ``key`` of ``node`` for the listeners on it and above it.

    ``own`` are the listeners of a child replaced as a whole: they see it at path "".
    Nothing is built here but the key's path segment: the listeners and the
    node's pointer come from the tree's cache, the patch dicts are built at
    delivery, once per group of listeners on the same node.
    """
    tree = node._tree
    if tree.patch_listener_count == 0:
        return
    if own:
        _emit_with_own(node, tx, op, key, value, old_value, own)
        return
    cache = tree.path_cache
    groups = cache.get(node)
    if groups is None:
        groups = listener_groups(node, cache)
    if not groups:
        return
    tx.patches.append((deliver_grouped, groups, _segment(key), op, value, old_value))


def _segment(key: Any) -> str:
    """``key`` as one JSON pointer segment with its leading "/"."""
    text = key if type(key) is str else str(key)
    # Escaping is needed only for "~" or "/" in the key (rare): skip the call otherwise.
    return "/" + (escape_json_path(text) if "~" in text or "/" in text else text)


def listener_groups(node: Node, cache: dict[Node, list[Group]]) -> list[Group]:
    """The patch listeners on ``node`` and its ancestors, nearest first, each group with
    ``node``'s JSON pointer relative to the listeners' node; cached in ``cache``.

    ``cache`` is the tree's ``path_cache``, which every change of a node's parent,
    key or tree and every listener added or removed clears. A node's groups are
    its parent's with its own segment appended (plus its own listeners), so a
    first write under an already cached parent costs one string concatenation
    per group. The listener lists are copied: a patch is heard by the listeners
    there were when it was queued, as before the cache.
    """
    parent = node._parent
    extras = node._ext
    if parent is not None and (extras is None or not extras.patch_listeners):
        inherited = cache.get(parent)  # the common case: a sibling was written before
        if inherited is not None:
            if inherited:
                segment = _segment(node._key)
                inherited = [(prefix + segment, listeners) for prefix, listeners in inherited]
            cache[node] = inherited
            return inherited
    # Iterative, not recursive: trees may be deeper than Python's recursion limit.
    chain: list[Node] = []
    current: Node | None = node
    inherited = []
    while current is not None:
        cached = cache.get(current)
        if cached is not None:
            inherited = cached
            break
        chain.append(current)
        current = current._parent
    for member in reversed(chain):
        if member._parent is not None and inherited:
            segment = _segment(member._key)
            inherited = [(prefix + segment, listeners) for prefix, listeners in inherited]
        extras = member._ext
        if extras is not None and extras.patch_listeners:
            inherited = [("", tuple(extras.patch_listeners)), *inherited]
        cache[member] = inherited
    return inherited


def deliver_grouped(delivery: Delivery, entry: tuple[Any, ...]) -> None:
    """Deliver one queued patch: the listeners on one node share its patch dicts (as in
    MST, where a node's listeners get the same localized patch objects).

    ``entry`` is ``(deliver_grouped, groups, key segment, op, value, old_value)``.
    """
    _, groups, segment, op, value, old_value = entry
    for prefix, listeners in groups:
        patch, inverse = make_patch_pair(op, prefix + segment, value, old_value)
        for listener in listeners:
            try:
                listener(patch, inverse)
            except Exception as error:
                report_error(error, "an on_patch listener", delivery.rt)
            except BaseException as error:
                if delivery.interrupt is None:
                    delivery.interrupt = error


def _emit_with_own(
    node: Node,
    tx: Transaction,
    op: str,
    key: Any,
    value: Any,
    old_value: Any,
    own: Iterable[Callable[[Any, Any], None]],
) -> None:
    """``emit`` for a replaced child with listeners of its own (rare: not cached)."""
    chain: list[Node] = []
    current: Node | None = node
    while current is not None:
        chain.append(current)
        current = current._parent
    depth = len(chain)  # number of path parts of the patch, counting the key
    listeners = [(depth, listener) for listener in own]
    for level, member in enumerate(chain):
        extras = member._ext
        if extras is not None:
            for listener in extras.patch_listeners:
                listeners.append((depth - 1 - level, listener))
    parts = [str(n._key) for n in reversed(chain[:-1])]
    parts.append(str(key))
    tx.patches.append((deliver_patch, listeners, parts, op, value, old_value))
