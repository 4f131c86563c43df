"""Patches on live trees: built at commit from what the write path queued, then delivered."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mstlite._engine.runtime import report_error
from mstlite._util.json_pointer import escape_json_path, join_json_path

if TYPE_CHECKING:
    from mstlite._engine.transaction import Delivery, Transaction
    from mstlite._node.node import Node

__all__ = [
    "PathCache",
    "deliver_grouped",
    "deliver_patch",
    "deliver_sole",
    "emit",
    "make_patch_pair",
    "routes_of",
]

Listeners = tuple[Callable[[Any, Any], None], ...]

#: One group of listeners on one node, for a node at or under it: the node's JSON
#: pointer relative to the listeners' node, and those listeners (a copy: see ``routes_of``).
Group = tuple[str, Listeners]

#: A node's cached route: a ``str`` is its pointer relative to the cache's ``sole``
#: listeners (the common case: one listening node above it), a list its groups
#: (several listening nodes above it; empty when nobody listens above it).
Route = str | list[Group]

#: The route of a node that no listener hears (shared: never mutated).
_UNHEARD: list[Group] = []


class PathCache:
    """Which patch listeners hear the writes to a node, and the node's JSON pointer
    relative to each of them; one per tree (``Tree.path_cache``).

    Every change of a node's parent, key or tree and every listener added or
    removed calls ``clear()``: an action that writes the same nodes again
    builds no path. The common route, one listening node above, is stored as
    the pointer string alone (with the listeners once, in ``sole``): strings
    are not tracked by the cyclic collector, so caching the routes of many
    nodes adds no work to its passes.
    """

    __slots__ = ("routes", "sole")

    def __init__(self) -> None:
        self.routes: dict[Node, Route] = {}
        #: The listeners every ``str`` route stands for (the first single group met).
        self.sole: Listeners = ()

    def clear(self) -> None:
        """Forget every route (a node moved or a listener came or went)."""
        self.routes.clear()
        self.sole = ()


def deliver_patch(delivery: Delivery, entry: tuple[Any, ...]) -> None:
    """Call each listener with the patch and its inverse, its path relative to the listener.

    ``entry`` is ``(deliver_patch, [(prefix, listener)...], parts, op, value, old_value)``.
    """
    _, listeners, parts, op, value, old_value = entry
    for prefix, listener in listeners:
        patch, inverse = make_patch_pair(op, join_json_path(parts[prefix:]), value, old_value)
        _tell(delivery, (listener,), patch, inverse)


def make_patch_pair(
    op: str, path: str, value: Any, old_value: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build a patch and its inverse as plain RFC 6902 dicts."""
    if op == "replace":
        patch = {"op": "replace", "path": path, "value": value}
        inverse = patch.copy()  # a copy and one store: cheaper than building it
        inverse["value"] = old_value
        return patch, inverse
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
    Nothing is built here but the patch's path: the listeners and the node's
    pointer come from the tree's cache, the patch dicts are built at delivery,
    once per group of listeners on the same node.
    """
    tree = node._tree
    if tree.patch_listener_count == 0:
        return
    if own:
        _emit_with_own(node, tx, op, key, value, old_value, own)
        return
    # Keys are property names, map keys (str) or array indexes (int); "~" or "/" in
    # a key (rare) needs escaping: skip the call otherwise.
    if type(key) is not int and ("~" in key or "/" in key):
        key = escape_json_path(key)
    cache = tree.path_cache
    routes = cache.routes
    parent = node._parent
    index = node._key
    if (
        type(index) is int
        and parent is not None
        and (node._ext is None or not node._ext.patch_listeners)
    ):
        # An array item with no listeners of its own (the common case): its route is
        # its parent's and its index, so it is built here and never cached (writing
        # to many items of a large array fills no cache entry per item).
        above = routes.get(parent)
        if type(above) is str:
            path = f"{above}/{index}/{key}"
            tx.patches.append((deliver_sole, cache.sole, path, op, value, old_value))
            return
    route = routes.get(node)
    if route is None:
        route = routes_of(node, cache)
    if type(route) is str:
        tx.patches.append((deliver_sole, cache.sole, f"{route}/{key}", op, value, old_value))
    elif route:  # (the key is escaped already: not _segment)
        tx.patches.append((deliver_grouped, route, f"/{key}", op, value, old_value))


def _segment(key: Any) -> str:
    """``key`` as one JSON pointer segment with its leading "/"."""
    text = key if type(key) is str else str(key)
    # Escaping is needed only for "~" or "/" in the key (rare): skip the call otherwise.
    return "/" + (escape_json_path(text) if "~" in text or "/" in text else text)


def routes_of(node: Node, cache: PathCache) -> Route:
    """The route of ``node``'s writes to the patch listeners on it and its ancestors
    (nearest first), cached in ``cache``; see ``PathCache``.

    A node's route is its parent's with its own segment appended (plus its own
    listeners), so a first write under an already cached parent costs one string
    concatenation per group. The listener lists are copied: a patch is heard by
    the listeners there were when it was queued, as before the cache.
    """
    routes = cache.routes
    parent = node._parent
    extras = node._ext
    if parent is not None and (extras is None or not extras.patch_listeners):
        inherited = routes.get(parent)  # the common case: a sibling was written before
        if inherited is not None:
            key = node._key
            if type(inherited) is str and type(key) is int:  # an array item: inlined
                route: Route = f"{inherited}/{key}"
            else:
                route = _child_route(inherited, key)
            routes[node] = route
            return route
    # Iterative, not recursive: trees may be deeper than Python's recursion limit.
    chain: list[Node] = []
    current: Node | None = node
    route = _UNHEARD
    while current is not None:
        cached = routes.get(current)
        if cached is not None:
            route = cached
            break
        chain.append(current)
        current = current._parent
    for member in reversed(chain):
        if member._parent is not None:
            route = _child_route(route, member._key)
        extras = member._ext
        if extras is not None and extras.patch_listeners:
            own = tuple(extras.patch_listeners)
            if route is _UNHEARD and not cache.sole:
                cache.sole = own
                route = ""
            else:
                route = [("", own), *_groups(route, cache)]
        routes[member] = route
    return route


def _child_route(route: Route, key: Any) -> Route:
    """The route of the child ``key`` of a node whose route is ``route``."""
    if isinstance(route, str):
        return route + _segment(key)
    if not route:
        return _UNHEARD
    segment = _segment(key)
    return [(prefix + segment, listeners) for prefix, listeners in route]


def _groups(route: Route, cache: PathCache) -> list[Group]:
    """``route`` as its list of groups."""
    return [(route, cache.sole)] if isinstance(route, str) else route


def deliver_sole(delivery: Delivery, entry: tuple[Any, ...]) -> None:
    """Deliver one queued patch heard by one group of listeners (the common case).

    ``entry`` is ``(deliver_sole, listeners, path, op, value, old_value)``.
    """
    _, listeners, path, op, value, old_value = entry
    if op == "replace":  # make_patch_pair's common case, inlined (2% of a heard action)
        patch = {"op": "replace", "path": path, "value": value}
        inverse = patch.copy()
        inverse["value"] = old_value
    else:
        patch, inverse = make_patch_pair(op, path, value, old_value)
    _tell(delivery, listeners, patch, inverse)


def deliver_grouped(delivery: Delivery, entry: tuple[Any, ...]) -> None:
    """Deliver one queued patch: the listeners on one node share its patch dicts (as in
    MST, where a node's listeners get the same localized patch objects).

    ``entry`` is ``(deliver_grouped, groups, key segment, op, value, old_value)``.
    """
    _, groups, segment, op, value, old_value = entry
    for prefix, listeners in groups:
        patch, inverse = make_patch_pair(op, prefix + segment, value, old_value)
        _tell(delivery, listeners, patch, inverse)


def _tell(delivery: Delivery, listeners: Listeners, patch: Any, inverse: Any) -> None:
    """Call each of ``listeners`` with the patch and its inverse.

    ``Delivery.call``'s error handling, inlined: this runs once per patch.
    """
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
