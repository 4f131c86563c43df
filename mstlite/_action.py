"""The ``@action`` decorator: the only way to change a protected tree."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from mstlite._node import Node
from mstlite._runtime import run_in_transaction

__all__ = ["action", "run_action"]

P = ParamSpec("P")
R = TypeVar("R")

# Set by the middleware module once imported: runs an action through middleware,
# action listeners and flows. Kept as a hook so plain actions stay cheap.
action_runner: (
    Callable[[Node, str, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any] | None
) = None


def run_action(
    node: Node, name: str, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Run ``fn(node, *args, **kwargs)`` as the action ``name`` on ``node``."""
    if not node._alive:
        node._check_alive()
    runner = action_runner
    if runner is not None:
        return runner(node, name, fn, args, kwargs)
    return run_in_transaction(fn, node, *args, **kwargs)


def action(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a model method as an action: it may change the tree, as one transaction.

    If an exception leaves the outermost action, every change it made is undone
    and the exception is re-raised; listeners hear only of committed changes.
    An ``async def`` action is a flow: each stretch between awaits is its own
    transaction.
    """
    name = fn.__name__
    if inspect.iscoroutinefunction(fn):
        from mstlite._flow import make_flow

        return make_flow(fn)  # type: ignore[return-value]

    @functools.wraps(fn)
    def wrapper(self: Node, *args: Any, **kwargs: Any) -> Any:
        return run_action(self, name, fn, args, kwargs)

    wrapper.__mst_action__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


# Set by the middleware module: runs a flow through middleware and action listeners.
flow_runner: (
    Callable[[Node, str, Callable[..., Any], tuple[Any, ...], dict[str, Any]], Any] | None
) = None
