"""Async actions (flows): the one driver; every stretch between awaits is a transaction.

``drive`` runs the coroutine stretch by stretch. Each stretch and the flow's
end go through ``around`` (the middleware events ``flow_resume``,
``flow_resume_error``, ``flow_return``, ``flow_throw``), which without
middleware simply runs the step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from mstlite._api.action_log import report_action, root_of
from mstlite._api.middleware import (
    ActionContext,
    handlers_of,
    has_watchers,
    new_call,
    owner_runtime,
    run_chain,
)
from mstlite._engine.transaction import run_stretch
from mstlite._node.node import Node

__all__ = ["drive", "make_flow", "run_flow"]

#: ``around(kind, value, step)``: run ``step(value)`` for the flow event ``kind``.
Around = Callable[[str, Any, Callable[[Any], Any]], Any]


class _Await:
    """Hands what the inner coroutine yielded (a future) to the running task."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.value)


class _Done:
    """What a stretch returns when the coroutine finished, with its result."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _step(coro: Coroutine[Any, Any, Any], throw: BaseException | None, send: Any) -> Any:
    try:
        if throw is not None:
            return coro.throw(throw)
        return coro.send(send)
    except StopIteration as stop:
        return _Done(stop.value)


def _direct(kind: str, value: Any, step: Callable[[Any], Any]) -> Any:
    return step(value)


def _ignore(value: Any) -> None:
    return None


def _identity(value: Any) -> Any:
    return value


async def drive(node: Node, coro: Coroutine[Any, Any, Any], around: Around, flow: int) -> Any:
    """Run ``coro`` to completion, each stretch a transaction of ``node``'s tree."""
    send: Any = None
    throw: BaseException | None = None
    try:
        while True:
            kind = "flow_resume_error" if throw is not None else "flow_resume"
            value = throw if throw is not None else send
            resume = functools.partial(around, kind, value, functools.partial(_step, coro, throw))
            try:
                # The owner is looked up at each stretch: the tree may have been adopted.
                yielded = run_stretch(owner_runtime(node), resume, throw, flow)
            except BaseException as error:
                around("flow_throw", error, _ignore)
                raise
            if type(yielded) is _Done:
                return around("flow_return", yielded.value, _identity)
            try:
                send = await _Await(yielded)
                throw = None
            except BaseException as error:  # delivered into the flow, cancellation included
                send = None
                throw = error
    finally:
        coro.close()


async def run_flow(
    node: Node,
    name: str,
    fn: Callable[..., Coroutine[Any, Any, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Start the flow ``name`` on ``node`` (through middleware when watched) and drive it."""
    rt = owner_runtime(node)
    if not has_watchers(node):
        return await drive(node, fn(node, *args, **kwargs), _direct, 0)
    handlers = handlers_of(node)
    spawn = new_call(rt, node, name, "flow_spawn", list(args), dict(kwargs))
    stack = rt.action_stack
    if not stack:
        report_action(rt, node, spawn)
    started: list[Coroutine[Any, Any, Any]] = []

    def start(call: ActionContext) -> Any:
        started.append(fn(call.context, *call.args, **call.kwargs))
        return None

    stack.append(spawn)
    try:
        aborted = run_chain(spawn, handlers, start)
    finally:
        stack.pop()
    if not started:
        return aborted

    def around(kind: str, value: Any, step: Callable[[Any], Any]) -> Any:
        call = ActionContext(
            name, kind, [value], node, root_of(node), spawn.id, spawn.parent_id, spawn.root_id
        )
        stack = node._tree.rt.action_stack
        stack.append(call)
        try:
            return run_chain(call, handlers, lambda current: step(current.args[0]))
        finally:
            stack.pop()

    return await drive(node, started[0], around, spawn.root_id)


def make_flow(
    fn: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Wrap an ``async def`` model method as a flow."""
    name = fn.__name__

    @functools.wraps(fn)
    async def flow(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await run_flow(self, name, fn, args, kwargs)

    flow.__mst_action__ = True  # type: ignore[attr-defined]
    flow.__mst_flow__ = True  # type: ignore[attr-defined]
    return flow
