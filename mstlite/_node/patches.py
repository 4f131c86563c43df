"""Patches on live trees: built at commit from what the write path queued, then delivered."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mstlite._engine.runtime import report_error
from mstlite._util.json_pointer import join_json_path

if TYPE_CHECKING:
    from mstlite._engine.transaction import Delivery, Transaction
    from mstlite._node.node import Node

__all__ = ["deliver_patch", "emit", "make_patch_pair"]


def deliver_patch(
    delivery: Delivery,
    listeners: list[tuple[int, Callable[[Any, Any], None]]],
    parts: list[str],
    op: str,
    value: Any,
    old_value: Any,
) -> None:
    """Call each listener with the patch and its inverse, its path relative to the listener.

    ``Delivery.call``'s error handling, inlined: this runs once per listener and patch.
    """
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
    """
    if node._tree.patch_listener_count == 0:
        return
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
    if not listeners:
        return
    parts = [str(n._key) for n in reversed(chain[:-1])]
    parts.append(str(key))
    tx.patches.append((deliver_patch, listeners, parts, op, value, old_value))
