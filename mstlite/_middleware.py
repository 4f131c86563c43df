"""Middleware, the action log (on_action, record_actions, apply_action) and flow events."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mstlite import _action
from mstlite._flow import _DONE, _Await, _step
from mstlite._json_pointer import split_json_path
from mstlite._node import Node
from mstlite._runtime import RT, report_error, run_in_transaction, run_stretch
from mstlite._snapshot import freeze, thaw
from mstlite.errors import MstError

__all__ = [
    "ActionContext",
    "ActionRecorder",
    "add_middleware",
    "apply_action",
    "on_action",
    "record_actions",
]

_ids = itertools.count(1)


@dataclass(slots=True)
class ActionContext:
    """What a middleware handler sees of one action call or flow event."""

    name: str
    #: ``action``, ``flow_spawn``, ``flow_resume``, ``flow_resume_error``,
    #: ``flow_return`` or ``flow_throw``
    type: str
    args: list[Any]
    #: the node the action runs on
    context: Node
    #: the root of its tree
    tree: Node
    id: int
    parent_id: int
    root_id: int
    kwargs: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[ActionContext, Callable[[ActionContext], Any]], Any]

# The calls running now, innermost last (for parent_id and root_id).
_stack: list[ActionContext] = []


def add_middleware(node: Node, handler: Handler) -> Callable[[], None]:
    """Run ``handler(call, next)`` around every action on ``node``'s subtree.

    The handler may change ``call.args`` before ``next(call)``, replace the
    result, not call ``next`` at all (abort) or raise. Returns a disposer.
    """
    meta = node._meta
    if meta is None:
        meta = node._meta = {}
    meta.setdefault("middleware", []).append(handler)

    def dispose() -> None:
        handlers = (node._meta or {}).get("middleware")
        if handlers and handler in handlers:
            handlers.remove(handler)

    return dispose


def _handlers(node: Node) -> list[Handler]:
    handlers: list[Handler] = []
    current: Node | None = node
    while current is not None:
        meta = current._meta
        if meta is not None and meta.get("middleware"):
            handlers.extend(meta["middleware"])
        current = current._parent
    return handlers


def _chain(
    call: ActionContext, handlers: list[Handler], final: Callable[[ActionContext], Any]
) -> Any:
    def run(index: int, current: ActionContext) -> Any:
        if index == len(handlers):
            return final(current)
        return handlers[index](current, lambda next_call: run(index + 1, next_call))

    return run(0, call)


def _root(node: Node) -> Node:
    while node._parent is not None:
        node = node._parent
    return node


def _new_call(
    node: Node, name: str, kind: str, args: list[Any], kwargs: dict[str, Any]
) -> ActionContext:
    parent = _stack[-1] if _stack else None
    call_id = next(_ids)
    return ActionContext(
        name=name,
        type=kind,
        args=args,
        context=node,
        tree=_root(node),
        id=call_id,
        parent_id=parent.id if parent else 0,
        root_id=parent.root_id if parent else call_id,
        kwargs=kwargs,
    )


def _has_watchers(node: Node) -> bool:
    current: Node | None = node
    while current is not None:
        meta = current._meta
        if meta is not None and (meta.get("middleware") or meta.get("action")):
            return True
        current = current._parent
    return False


def _run_action(
    node: Node, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if not _has_watchers(node):
        return run_in_transaction(fn, node, *args, **kwargs)
    call = _new_call(node, name, "action", list(args), dict(kwargs))
    outermost = not _stack

    def body() -> Any:
        _stack.append(call)
        try:
            if outermost:
                _report_action(node, call)
            return _chain(call, _handlers(node), lambda c: fn(c.context, *c.args, **c.kwargs))
        finally:
            _stack.pop()

    return run_in_transaction(body)


async def _run_flow(
    node: Node, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if not node._alive:
        node._check_alive()
    handlers = _handlers(node)
    spawn = _new_call(node, name, "flow_spawn", list(args), dict(kwargs))
    if not _stack:
        _report_action(node, spawn)
    started: list[Any] = []

    def start(call: ActionContext) -> Any:
        started.append(fn(call.context, *call.args, **call.kwargs))
        return None

    def event(kind: str, value: Any, final: Callable[[ActionContext], Any]) -> Any:
        call = ActionContext(
            name, kind, [value], node, _root(node), spawn.id, spawn.parent_id, spawn.root_id
        )
        _stack.append(call)
        try:
            return _chain(call, handlers, final)
        finally:
            _stack.pop()

    _stack.append(spawn)
    try:
        aborted = _chain(spawn, handlers, start)
    finally:
        _stack.pop()
    if not started:
        return aborted
    coro = started[0]

    def resume(kind: str, value: Any, error: BaseException | None) -> Any:
        def step(call: ActionContext) -> Any:
            return _step(coro, None if error is not None else call.args[0], error)

        return event(kind, error if error is not None else value, step)

    send: Any = None
    throw: BaseException | None = None
    try:
        while True:
            kind = "flow_resume_error" if throw is not None else "flow_resume"
            try:
                yielded = run_stretch(functools.partial(resume, kind, send, throw), throw)
            except BaseException as error:
                event("flow_throw", error, lambda c: None)
                raise
            if type(yielded) is tuple and len(yielded) == 2 and yielded[0] is _DONE:
                return event("flow_return", yielded[1], lambda c: c.args[0])
            try:
                send = await _Await(yielded)
                throw = None
            except BaseException as error:
                send = None
                throw = error
    finally:
        coro.close()


_action.action_runner = _run_action
_action.flow_runner = _run_flow


# ---------------------------------------------------------------- action log
def on_action(node: Node, listener: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
    """Call ``listener({"name", "path", "args"})`` for each outermost action on the subtree.

    Calls are delivered once the action commits (a failed action is not
    reported); flows are reported when they start. Returns a disposer.
    """
    meta = node._meta
    if meta is None:
        meta = node._meta = {}
    meta.setdefault("action", []).append(listener)

    def dispose() -> None:
        listeners = (node._meta or {}).get("action")
        if listeners and listener in listeners:
            listeners.remove(listener)

    return dispose


def _report_action(node: Node, call: ActionContext) -> None:
    current: Node | None = node
    while current is not None:
        meta = current._meta
        if meta is not None and meta.get("action"):
            path = _relative_path(current, node)
            serial: dict[str, Any] = {
                "name": call.name,
                "path": path,
                "args": [_serialize(current, a) for a in call.args],
            }
            if call.kwargs:
                serial["kwargs"] = {k: _serialize(current, v) for k, v in call.kwargs.items()}
            for listener in list(meta["action"]):
                if RT.tx is not None:
                    RT.tx.action_calls.append((listener, serial))
                else:
                    try:
                        listener(serial)
                    except Exception as error:
                        report_error(error, "an on_action listener")
        current = current._parent


def _relative_path(ancestor: Node, node: Node) -> str:
    from mstlite._json_pointer import join_json_path

    parts = node._path_parts()
    return join_json_path(parts[len(ancestor._path_parts()) :])


def _serialize(base: Node, value: Any) -> Any:
    if isinstance(value, Node):
        if value._tree is base._tree and value._alive:
            return {"$ref": _relative_path(_root(base), value)}
        return thaw(value._get_snapshot())
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        return thaw(freeze(value))
    except TypeError:
        return {"$unserializable": repr(value)}


def _deserialize(base: Node, value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) == {"$ref"}:
        from mstlite._patching import resolve_parts

        return resolve_parts(_root(base), split_json_path(value["$ref"]), value["$ref"])
    return value


def apply_action(node: Node, call: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> Any:
    """Replay a recorded call (or a list of them, as one action) on ``node``'s tree.

    Returns the action's result (a coroutine to await, for a flow). Raises
    ``MstError`` when the path or the action does not exist.
    """
    if isinstance(call, Mapping):
        return _apply_one(node, call)
    calls = list(call)
    return run_in_transaction(lambda: [_apply_one(node, c) for c in calls])


def _apply_one(node: Node, call: Mapping[str, Any]) -> Any:
    from mstlite._patching import resolve_parts

    try:
        name = call["name"]
        path = call.get("path", "")
        args = call.get("args", [])
    except (TypeError, KeyError) as error:
        raise MstError(f"not an action call {call!r}: needs name, path and args") from error
    target = resolve_parts(node, split_json_path(path), path) if path else node
    method = getattr(target, name, None)
    if method is None or not getattr(method, "__mst_action__", False):
        raise MstError(
            f"{target._describe() if isinstance(target, Node) else path!r} has no action {name!r}"
        )
    arguments = [_deserialize(node, a) for a in args]
    kwargs = {k: _deserialize(node, v) for k, v in call.get("kwargs", {}).items()}
    return method(*arguments, **kwargs)


class ActionRecorder:
    """Records the serializable calls of outermost actions on a subtree.

    ``actions`` is the list; ``stop()``/``resume()``; ``replay(target)``
    applies them to another tree. Usable as a context manager.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.actions: list[dict[str, Any]] = []
        self._dispose: Callable[[], None] | None = None
        self.resume()

    def stop(self) -> None:
        """Stop recording (keeps what was recorded)."""
        if self._dispose is not None:
            self._dispose()
            self._dispose = None

    def resume(self) -> None:
        """Start recording again."""
        if self._dispose is None:
            self._dispose = on_action(self.node, self.actions.append)

    def replay(self, target: Node) -> None:
        """Apply the recorded (synchronous) actions to ``target`` in order."""
        for call in self.actions:
            apply_action(target, call)

    def __enter__(self) -> ActionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def record_actions(node: Node) -> ActionRecorder:
    """Start recording the actions on ``node``'s subtree; see ``ActionRecorder``."""
    return ActionRecorder(node)
