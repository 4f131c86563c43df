"""reactivex (RxPY) observables over trees: ``observe``, ``patches``, ``snapshots``, ``actions``.

Each is cold: every subscription sets up its own tracking or listener and
disposing the subscription removes it. Values arrive after the outermost
action commits, in order, never from an aborted action.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable

from mstlite._api.action_log import on_action
from mstlite._api.patching import on_patch
from mstlite._api.tree import get_snapshot, on_snapshot
from mstlite._engine.reactivity import Reaction, same_value
from mstlite._engine.runtime import current_runtime
from mstlite._node.node import Node

__all__ = ["actions", "observe", "patches", "snapshots"]

T = TypeVar("T")
S = TypeVar("S")

if TYPE_CHECKING:
    from mstlite._types.declare import Model
    from mstlite.typing import ActionCall, Patch, Snapshot


def observe(
    expression: Callable[[], T], *, equals: Callable[[T, T], bool] | None = None
) -> Observable[T]:
    """The value of ``expression()``: the current one on subscribe, then each distinct
    value after a commit. An exception in the expression ends the stream with it."""
    same = equals or same_value

    def subscribe(
        observer: abc.ObserverBase[T], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        first = True
        last: Any = None

        def on_invalidate(current: Reaction) -> None:
            nonlocal first, last
            try:
                value = current.track_in_place(expression)
            except Exception as error:
                current.dispose()
                observer.on_error(error)
                return
            if first or not same(last, value):
                first = False
                last = value
                observer.on_next(value)

        current = Reaction(getattr(expression, "__name__", "observe"), on_invalidate)
        rt = current_runtime()
        if rt.tx is not None:
            current.schedule(rt)
        else:
            on_invalidate(current)
        return Disposable(current.dispose)

    return reactivex.create(subscribe)


def _listen(
    register: Callable[[Callable[..., None]], Callable[[], None]],
    initial: Callable[[], Any] | None = None,
) -> Observable[Any]:
    def subscribe(
        observer: abc.ObserverBase[Any], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        if initial is not None:
            observer.on_next(initial())
        return Disposable(register(observer.on_next))

    return reactivex.create(subscribe)


@overload
def patches(node: Node, *, with_inverse: Literal[False] = False) -> Observable[Patch]: ...
@overload
def patches(node: Node, *, with_inverse: Literal[True]) -> Observable[tuple[Patch, Patch]]: ...
def patches(node: Node, *, with_inverse: bool = False) -> Observable[Any]:
    """Each committed patch under ``node`` (relative paths); ``(patch, inverse)`` pairs
    when ``with_inverse`` is true."""

    def register(emit: Callable[[Any], None]) -> Callable[[], None]:
        if with_inverse:
            return on_patch(node, lambda patch, inverse: emit((patch, inverse)))
        return on_patch(node, lambda patch, inverse: emit(patch))

    return _listen(register)


@overload
def snapshots(node: Model[S, Any]) -> Observable[S]: ...  # type: ignore[overload-overlap]
@overload
def snapshots(node: Node) -> Observable[Snapshot]: ...
def snapshots(node: Node) -> Observable[Any]:
    """The snapshot of ``node``: the current one, then one per commit that changed it."""
    return _listen(lambda emit: on_snapshot(node, emit), lambda: get_snapshot(node))


def actions(node: Node) -> Observable[ActionCall]:
    """Each outermost action on ``node``'s subtree as ``{"name", "path", "args"}``."""
    return _listen(lambda emit: on_action(node, emit))
