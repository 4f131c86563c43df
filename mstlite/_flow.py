"""Async actions (flows): every synchronous stretch between awaits is its own transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from mstlite._runtime import run_stretch

__all__ = ["make_flow", "run_flow"]


class _Await:
    """Hands what the inner coroutine yielded (a future) to the running task."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.value)


_DONE = object()


def _step(coro: Coroutine[Any, Any, Any], send: Any, throw: BaseException | None) -> Any:
    try:
        if throw is not None:
            return coro.throw(throw)
        return coro.send(send)
    except StopIteration as stop:
        return (_DONE, stop.value)


async def drive(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to completion, each stretch in a transaction."""
    send: Any = None
    throw: BaseException | None = None
    try:
        while True:
            yielded = run_stretch(functools.partial(_step, coro, send, throw), throw)
            if type(yielded) is tuple and len(yielded) == 2 and yielded[0] is _DONE:
                return yielded[1]
            try:
                send = await _Await(yielded)
                throw = None
            except BaseException as error:  # delivered into the flow, cancellation included
                send = None
                throw = error
    finally:
        coro.close()


async def run_flow(
    node: Any,
    name: str,
    fn: Callable[..., Coroutine[Any, Any, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    if not node._alive:
        node._check_alive()
    return await drive(fn(node, *args, **kwargs))


def make_flow(
    fn: Callable[..., Coroutine[Any, Any, Any]],
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """Wrap an ``async def`` model method as a flow."""
    name = fn.__name__

    @functools.wraps(fn)
    async def flow(self: Any, *args: Any, **kwargs: Any) -> Any:
        from mstlite import _action

        runner = _action.flow_runner
        if runner is not None:
            return await runner(self, name, fn, args, kwargs)
        return await run_flow(self, name, fn, args, kwargs)

    flow.__mst_action__ = True  # type: ignore[attr-defined]
    flow.__mst_flow__ = True  # type: ignore[attr-defined]
    return flow
