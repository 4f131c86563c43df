"""Middleware: handlers around every action and flow event on a subtree.

``@action`` calls ``run_action`` here directly; the flow driver (``_api.flows``)
calls ``around`` for each flow event. Both skip the middleware machinery
entirely when no middleware or action listener watches the node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from threading import get_ident
from typing import Any

from mstlite._api.action_log import report_action, root_of
from mstlite._engine.runtime import Runtime, foreign_use
from mstlite._engine.transaction import run_in_transaction
from mstlite._node.extras import subscribe
from mstlite._node.node import Node

__all__ = [
    "ActionContext",
    "Handler",
    "action_body",
    "add_flow_middleware",
    "add_middleware",
    "handlers_of",
    "has_watchers",
    "new_call",
    "owner_runtime",
    "root_of",
    "run_action",
    "run_chain",
]


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


def add_middleware(node: Node, handler: Handler) -> Callable[[], None]:
    """Run ``handler(call, next)`` around every action on ``node``'s subtree.

    The handler may change ``call.args`` before ``next(call)``, replace the
    result, not call ``next`` at all (abort) or raise. Returns a disposer.
    """
    return subscribe(node._extras().middleware, handler)


def add_flow_middleware(node: Node, handler: Handler) -> Callable[[], None]:
    """Run ``handler(call, next)`` around every flow event on ``node``'s subtree, outside
    the node's own middleware; plain actions do not reach it. Returns a disposer.

    For the library's own watchers of flows (``UndoManager``): a handler that
    passes every plain action through would cost each of them a call.
    """
    return subscribe(node._extras().flow_middleware, handler)


def handlers_of(node: Node) -> list[Handler]:
    """The middleware around flow events on ``node``: its own first (the flow-only
    handlers outermost), then its ancestors'."""
    handlers: list[Handler] = []
    current: Node | None = node
    while current is not None:
        extras = current._ext
        if extras is not None:
            handlers.extend(extras.flow_middleware)
            handlers.extend(extras.middleware)
        current = current._parent
    return handlers


def run_chain(
    call: ActionContext, handlers: list[Handler], final: Callable[[ActionContext], Any]
) -> Any:
    """Run ``final(call)`` inside every handler, outermost first."""
    count = len(handlers)
    if count == 1:  # the common case: one middleware, nothing to link
        return handlers[0](call, final)
    if not count:  # only action listeners watch
        return final(call)
    # Linked innermost first, with no closure referring to itself: a recursive inner
    # function is a reference cycle, garbage only the cyclic collector frees, and one
    # per action made full collections of large trees frequent.
    next_ = final
    for index in range(count - 1, 0, -1):
        next_ = _link(handlers[index], next_)
    return handlers[0](call, next_)


def _link(
    handler: Handler, next_: Callable[[ActionContext], Any]
) -> Callable[[ActionContext], Any]:
    """``next`` for the handler before ``handler``: runs ``handler`` with ``next_``."""
    return lambda current: handler(current, next_)


def action_body(fn: Callable[..., Any]) -> Callable[[ActionContext], Any]:
    """The innermost step of the middleware chain of action ``fn``: the call itself,
    with the node, arguments and keyword arguments the middleware handed on.

    Made once per decorated action (``@action``), not once per call.
    """
    return lambda call: fn(call.context, *call.args, **call.kwargs)


def new_call(
    rt: Runtime,
    node: Node,
    name: str,
    kind: str,
    args: list[Any],
    kwargs: dict[str, Any],
    root: Node | None = None,
) -> ActionContext:
    """A call of action ``name``, child of the call running in ``rt``'s thread (if any);
    ``root`` is the root of ``node``'s tree, when the caller found it already."""
    stack = rt.action_stack
    parent = stack[-1] if stack else None
    call_id = next(rt.call_ids)
    # Positional (faster than keywords: one per action under middleware), in field order:
    # name, type, args, context, tree (its root), id, parent_id, root_id, kwargs.
    return ActionContext(
        name,
        kind,
        args,
        node,
        root_of(node) if root is None else root,
        call_id,
        parent.id if parent else 0,
        parent.root_id if parent else call_id,
        kwargs,
    )


def has_watchers(node: Node) -> bool:
    """Whether middleware or an action listener watches flows on ``node``."""
    current: Node | None = node
    while current is not None:
        extras = current._ext
        if extras is not None and (
            extras.middleware or extras.flow_middleware or extras.action_listeners
        ):
            return True
        current = current._parent
    return False


def _watchers(node: Node) -> tuple[list[Handler], bool, Node] | None:
    """``handlers_of(node)``, whether an action listener is above ``node``, and the root,
    in one walk up; ``None`` (no list built) when nothing watches, the common case."""
    handlers: list[Handler] | None = None
    listened = False
    current = node
    while True:
        extras = current._ext
        if extras is not None:
            if extras.middleware:
                if handlers is None:
                    handlers = []
                handlers.extend(extras.middleware)
            if extras.action_listeners:
                listened = True
        parent = current._parent
        if parent is None:
            break
        current = parent
    if handlers is None:
        return ([], True, current) if listened else None
    return handlers, listened, current


def owner_runtime(node: Node) -> Runtime:
    """The runtime of ``node``'s tree; ``ThreadError`` unless this is its owner thread."""
    rt = node._tree.rt
    if rt.ident != get_ident():
        raise foreign_use(rt, node._describe())
    if not node._alive:
        node._check_alive()
    return rt


def run_action(
    node: Node,
    name: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    body: Callable[[ActionContext], Any],
) -> Any:
    """Run ``fn(node, *args, **kwargs)`` as the action ``name``: through the middleware
    around ``node`` (if any; ``body`` is ``action_body(fn)``), as a savepoint of the
    running transaction or a new one. ``kwargs`` must be the caller's own new dict
    (the middleware gets it to change)."""
    rt = node._tree.rt
    if rt.ident != get_ident() or not node._alive:
        owner_runtime(node)  # raises the error that applies
    watchers = _watchers(node)
    if watchers is None:
        return run_in_transaction(rt, fn, node, *args, **kwargs)
    handlers, listened, root = watchers
    # ``kwargs`` is the decorator's own ``**kwargs`` dict, new at each call: the
    # middleware may change it, so it is handed on as it is, not copied again.
    call = new_call(rt, node, name, "action", list(args), kwargs, root)
    return run_in_transaction(rt, _run_watched, rt, call, handlers, body, listened)


def _run_watched(
    rt: Runtime,
    call: ActionContext,
    handlers: list[Handler],
    body: Callable[[ActionContext], Any],
    listened: bool,
) -> Any:
    """The transaction of a watched action: the call on the stack, reported to the
    action listeners when it is outermost, run through the handlers."""
    stack = rt.action_stack
    if listened and not stack:  # on_action hears outermost calls only
        report_action(rt, call.context, call)
    stack.append(call)
    try:
        if len(handlers) == 1:  # run_chain's common case, without the call
            return handlers[0](call, body)
        return run_chain(call, handlers, body)
    finally:
        stack.pop()
