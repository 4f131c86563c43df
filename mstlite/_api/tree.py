"""The public tree functions: each a thin call into the node layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from threading import get_ident
from typing import TYPE_CHECKING, Any, TypeVar, overload

from mstlite._api.patching import node_of as _node
from mstlite._api.paths import resolve_parts
from mstlite._engine.runtime import current_runtime
from mstlite._node.node import SNAPSHOT, Node
from mstlite._types.annotations import to_type
from mstlite._types.array import ArrayNode
from mstlite._types.base import Type
from mstlite._types.map import MapNode
from mstlite._util.json_pointer import escape_json_path, split_json_path, unescape_json_path
from mstlite.errors import MstError, PatchError, ThreadError, TreeError, ValidationError

__all__ = [
    "add_disposer",
    "adopt",
    "clone",
    "destroy",
    "detach",
    "escape_json_path",
    "get_env",
    "get_identifier",
    "get_parent",
    "get_parent_of_type",
    "get_path",
    "get_path_parts",
    "get_root",
    "get_snapshot",
    "get_type",
    "has_parent",
    "is_alive",
    "is_protected",
    "is_root",
    "is_state_tree_node",
    "on_snapshot",
    "protect",
    "resolve_identifier",
    "resolve_path",
    "try_resolve",
    "typecheck",
    "unescape_json_path",
    "unprotect",
    "walk",
]

N = TypeVar("N")
S = TypeVar("S")
E = TypeVar("E")

if TYPE_CHECKING:
    from mstlite._types.declare import Model
    from mstlite.typing import Snapshot


@overload
def get_snapshot(node: Model[S, Any]) -> S: ...  # type: ignore[overload-overlap]
@overload
def get_snapshot(node: object) -> Snapshot: ...


def get_snapshot(node: Any) -> Any:
    """The immutable snapshot of ``node``: equal to plain JSON, shared where unchanged.

    Typed as the model's snapshot type (``Model[TodoSnapshot]``), else a
    ``Mapping[str, JSONValue]`` for a model and a ``JSONValue`` for an array or
    map. Raises ``MstError`` when ``node`` is not a tree node.
    """
    node = _node(node, "get_snapshot")
    if node._tree.rt.tracking is not None:
        node._observe(SNAPSHOT)
    return node._get_snapshot()


@overload
def on_snapshot(node: Model[S, Any], listener: Callable[[S], None]) -> Callable[[], None]: ...
@overload
def on_snapshot(node: object, listener: Callable[[Snapshot], None]) -> Callable[[], None]: ...
def on_snapshot(node: Any, listener: Callable[[Any], None]) -> Callable[[], None]:
    """Call ``listener(snapshot)`` once after each commit that changed ``node``.

    Returns a disposer that removes the listener.
    """
    node = _node(node, "on_snapshot")
    entry = [node, listener, node._get_snapshot()]
    node._tree.snapshot_listeners.append(entry)

    def dispose() -> None:
        listeners = node._tree.snapshot_listeners
        if entry in listeners:
            listeners.remove(entry)

    return dispose


def get_parent(node: object, depth: int = 1) -> Any:
    """The node ``depth`` levels up; raises ``TreeError`` if there is none.

    Typed ``Any``: the parent's type is not known from the child's. Use
    ``get_parent_of_type(node, Store)`` for a typed result.
    """
    current = _node(node, "get_parent")
    for _ in range(depth):
        parent = current._parent
        if parent is None:
            raise TreeError(f"{current._describe()} has no parent {depth} level(s) up")
        current = parent
    return current


def has_parent(node: Any, depth: int = 1) -> bool:
    """True when ``node`` has a parent ``depth`` levels up."""
    current: Node | None = _node(node, "has_parent")
    for _ in range(depth):
        current = current._parent if current is not None else None
    return current is not None


@overload
def get_parent_of_type(node: object, kind: type[N]) -> N: ...
@overload
def get_parent_of_type(node: object, kind: Type) -> Any: ...
def get_parent_of_type(node: Any, kind: Any) -> Any:
    """The nearest ancestor of the given type (a Model class or type); raises ``TreeError``.

    Given a Model class, the result is typed as an instance of it.
    """
    target = _as_type(kind)
    current = _node(node, "get_parent_of_type")._parent
    while current is not None:
        if target.accepts_node(current):
            return current
        current = current._parent
    raise TreeError(f"{node._describe()} has no parent of type {target.name}")


def get_root(node: object) -> Any:
    """The root node of the tree ``node`` is in (``node`` itself for a root).

    Typed ``Any``: a node may sit in trees of any root type; annotate the
    result (``store: Store = get_root(todo)``), or check it with ``isinstance``.
    """
    current = _node(node, "get_root")
    while current._parent is not None:
        current = current._parent
    return current


def is_root(node: Any) -> bool:
    """True when ``node`` has no parent."""
    return _node(node, "is_root")._parent is None


def get_path(node: Any) -> str:
    """The JSON pointer from the root to ``node`` ("" for the root)."""
    return _node(node, "get_path")._path()


def get_path_parts(node: Any) -> list[str]:
    """The unescaped path segments from the root to ``node``."""
    return _node(node, "get_path_parts")._path_parts()


def resolve_path(node: Any, path: str) -> Any:
    """The value at ``path``: absolute ("/a/0") from the root, or relative ("../b").

    Raises ``TreeError`` when nothing is there.
    """
    try:
        return _resolve(_node(node, "resolve_path"), path)
    except PatchError as error:
        raise TreeError(str(error)) from None


def try_resolve(node: Any, path: str) -> Any:
    """Like ``resolve_path`` but returns ``None`` when nothing is there."""
    try:
        return _resolve(_node(node, "try_resolve"), path)
    except (PatchError, TreeError):
        return None


def _resolve(node: Node, path: str) -> Any:
    if path.startswith("/"):
        base: Node = get_root(node)
        parts = split_json_path(path)
    else:
        base = node
        parts = []
        for segment in path.split("/"):
            if segment in ("", "."):
                continue
            if segment == "..":
                if base._parent is None:
                    raise TreeError(f"{path!r} goes above the root of the tree")
                base = base._parent
                continue
            parts.append(unescape_json_path(segment))
        if not parts:
            return base
    stored = resolve_parts(base, parts)
    if isinstance(stored, Node):
        return stored
    container = resolve_parts(base, parts[:-1]) if parts else base
    if isinstance(container, ArrayNode | MapNode):
        kind = container._type.item
    else:
        kind = container._type.props[parts[-1]]  # type: ignore[union-attr]
    return kind.read(stored, container) if kind.needs_read else stored


@overload
def resolve_identifier(kind: type[N], node: object, identifier: str) -> N | None: ...
@overload
def resolve_identifier(kind: Type, node: object, identifier: str) -> Any: ...
def resolve_identifier(kind: Any, node: Any, identifier: str) -> Any:
    """The node of type ``kind`` with ``identifier`` in ``node``'s tree, or ``None``.

    Given a Model class, the result is typed ``Model | None``. Raises
    ``MstError`` when ``kind`` is not an mstlite type.
    """
    target = _as_type(kind)
    tree = _node(node, "resolve_identifier")._tree
    return tree.find(str(identifier), target.accepts_node)


def get_identifier(node: Any) -> str | None:
    """The identifier of ``node``, or ``None`` if its type has none."""
    return _node(node, "get_identifier")._identifier()


@overload
def get_env(node: object) -> Any: ...
@overload
def get_env(node: object, kind: type[E]) -> E: ...
def get_env(node: Any, kind: Any = None) -> Any:
    """The ``env`` given to ``create`` for this tree (an empty dict when none was).

    ``get_env(node, MyEnv)`` types the result as ``MyEnv`` and raises
    ``TypeError`` when the env is not an instance of it.
    """
    env = _node(node, "get_env")._tree.env
    if kind is not None and not isinstance(env, kind):
        raise TypeError(
            f"the env of this tree is a {type(env).__name__}, not a {kind.__name__}: "
            "pass the env's own class to get_env, or omit it"
        )
    return env


def get_type(node: Any) -> Type:
    """The type of ``node`` (a ModelType, ArrayType or MapType)."""
    return _node(node, "get_type")._type


def is_alive(node: Any) -> bool:
    """False once ``node`` was destroyed or removed from its tree."""
    return _node(node, "is_alive")._alive


def is_state_tree_node(value: Any) -> bool:
    """True when ``value`` is a live or dead tree node."""
    return isinstance(value, Node)


def destroy(node: Any) -> None:
    """Remove ``node`` from its parent (or end its tree) and kill it; an action."""
    target = _node(node, "destroy")

    def run() -> None:
        tx = target._write_tx()
        assert tx is not None
        parent = target._parent
        if parent is None:
            target._kill(tx)
        else:
            parent._remove_child(target, tx)

    target._check_alive()
    target._transact(run)


def detach(node: Any) -> Any:
    """Remove ``node`` from its parent but keep it alive as the root of a new tree."""
    target = _node(node, "detach")
    target._check_alive()
    if target._parent is None:
        return target

    def run() -> None:
        tx = target._write_tx()
        assert tx is not None
        if target._has_hooks:
            target._call_hook("before_detach")
        target._parent._remove_child(target, tx, detach=True)  # type: ignore[union-attr]

    target._transact(run)
    return target


def clone(node: N, keep_environment: bool = True) -> N:
    """A new tree built from ``node``'s snapshot (same env unless told otherwise)."""
    source = _node(node, "clone")
    env = source._tree.env if keep_environment else None
    return source._type.create_from_normalized(source._get_snapshot(), env)  # type: ignore[no-any-return]


def protect(node: Any) -> None:
    """Allow changes to ``node``'s tree only inside actions (the default)."""
    _node(node, "protect")._tree.protected = True


def unprotect(node: Any) -> None:
    """Allow changes outside actions (each is then its own transaction); root only."""
    target = _node(node, "unprotect")
    if target._parent is not None:
        raise TreeError(f"unprotect() takes the root of a tree, not {target._describe()}")
    target._tree.protected = False


def is_protected(node: Any) -> bool:
    """True when changes need an action."""
    return _node(node, "is_protected")._tree.protected


def add_disposer(node: Any, disposer: Callable[[], None]) -> Callable[[], None]:
    """Call ``disposer`` when ``node`` is destroyed; returns it."""
    _node(node, "add_disposer")._extras().disposers.append(disposer)
    return disposer


def walk(node: Any, visit: Callable[[Any], None]) -> None:
    """Call ``visit`` on every node under ``node``, children before parents."""
    start = _node(node, "walk")

    def visit_all(current: Node) -> Iterator[Node]:
        for child in list(current._children()):
            yield from visit_all(child)
        yield current

    for each in list(visit_all(start)):
        visit(each)


def typecheck(kind: Any, value: Any) -> None:
    """Raise ``ValidationError`` unless ``value`` is a valid snapshot (or node) of ``kind``."""
    target = _as_type(kind)
    if isinstance(value, Node):
        if not target.accepts_node(value):
            raise ValidationError(f"{value._describe()} is not a {target.name}")
        return
    target.normalize(value)


def _as_type(kind: Any) -> Type:
    if isinstance(kind, Type):
        return kind
    try:
        return to_type(kind)
    except TypeError as error:
        raise MstError(f"{kind!r} is not an mstlite type: {error}") from None


def adopt(node: Any) -> Any:
    """Make the calling thread the owner of ``node``'s tree; returns ``node``.

    A tree belongs to the thread that created it. To hand an idle tree over
    (built on the main thread, then used by a worker that runs ``asyncio.run``),
    call ``adopt(root)`` in the new thread once the old owner is done with it:
    no action, flow or commit of the old owner may be running, and the old owner
    must not use the tree afterwards (its writes then raise ``ThreadError``).
    Raises ``ThreadError`` when the owner thread is inside an action right now.
    Reactions that read only this tree follow it: they run where it is changed.
    """
    target = _node(node, "adopt")
    tree = target._tree
    owner = tree.rt
    if owner.ident == get_ident():
        return target
    if owner.tx is not None or owner.committing or owner.commit_queue is not None:
        raise ThreadError(
            f"cannot adopt {target._describe()}: its owner thread {owner.thread_name!r} is "
            "running an action or a commit; hand the tree over once the owner is idle "
            "(for example after its event loop stopped)"
        )
    runtime = current_runtime()
    # The tree's safe references keep their clearing order among the new thread's.
    runtime.reference_seq = max(runtime.reference_seq, owner.reference_seq)
    tree.rt = runtime
    return target
