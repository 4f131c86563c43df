"""The ``@action`` decorator: the only way to change a protected tree."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from mstlite._api.flows import make_flow
from mstlite._api.middleware import action_body, run_action
from mstlite._node.node import Node

__all__ = ["action"]

P = ParamSpec("P")
R = TypeVar("R")


def action(fn: Callable[P, R]) -> Callable[P, R]:
    """Mark a model method as an action: it may change the tree, as one transaction.

    If an exception leaves the outermost action, every change it made is undone
    and the exception is re-raised; listeners hear only of committed changes.
    A nested action is a savepoint: when it raises, its own changes are undone
    before the exception reaches its caller, which may catch it and go on.
    An ``async def`` action is a flow: each stretch between awaits is its own
    transaction.
    """
    name = fn.__name__
    if inspect.iscoroutinefunction(fn):
        return make_flow(fn)  # type: ignore[return-value]

    body = action_body(fn)

    @functools.wraps(fn)
    def wrapper(self: Node, *args: Any, **kwargs: Any) -> Any:
        return run_action(self, name, fn, args, kwargs, body)

    wrapper.__mst_action__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
