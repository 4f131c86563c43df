"""Reactions: reaction(), autorun() and when(), run after the outermost action commits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from mstlite._engine.reactivity import Reaction, same_value
from mstlite._engine.runtime import report_error

__all__ = ["Disposer", "autorun", "reaction", "when"]

T = TypeVar("T")
Disposer = Callable[[], None]


def reaction(
    expression: Callable[[], T],
    effect: Callable[[T], Any],
    *,
    fire_immediately: bool = False,
    equals: Callable[[T, T], bool] | None = None,
    name: str | None = None,
) -> Disposer:
    """Run ``effect(value)`` after each commit that changed ``expression()``'s value.

    ``expression`` is tracked; ``effect`` is not. Returns a disposer.
    """
    current = _Watch(
        name or str(getattr(expression, "__name__", "reaction")),
        expression,
        effect,
        equals or same_value,
        fire_immediately,
    )
    _start(current)
    return current.dispose


def _nothing(*_: Any) -> None:
    return None


class _Watch(Reaction):
    """The reaction of ``reaction()``: its state in slots, not closure cells, as a
    fan-out of thousands of them runs one per commit (fewer objects to reach)."""

    __slots__ = ("effect", "expression", "fire_immediately", "first", "last", "same")

    def __init__(
        self,
        name: str,
        expression: Callable[[], Any],
        effect: Callable[[Any], Any],
        same: Callable[[Any, Any], bool],
        fire_immediately: bool,
    ) -> None:
        # The class's function, not a bound method: no reference cycle through the slot.
        super().__init__(name, _Watch.react)  # type: ignore[arg-type]
        self.expression = expression
        self.effect = effect
        self.same = same
        self.fire_immediately = fire_immediately
        self.first = True
        self.last: Any = None

    def react(self) -> None:
        value = self.track(self.rt, self.expression)
        if self.first:
            self.first = False
            self.last = value
            if self.fire_immediately:
                self.effect(value)
        elif self.same(self.last, value):  # before ``last`` moves: ``same`` may raise
            self.last = value
        else:
            self.last = value
            self.effect(value)

    def dispose(self) -> None:
        super().dispose()
        # A kept disposer keeps this reaction: drop what it refers to.
        self.expression = self.effect = _nothing
        self.same = same_value
        self.last = None


def autorun(fn: Callable[[], Any], *, name: str | None = None) -> Disposer:
    """Run ``fn`` now and again after each commit that changed what it read."""
    current = Reaction(
        name or str(getattr(fn, "__name__", "autorun")), lambda r: r.track_in_place(fn)
    )
    _start(current)
    return current.dispose


def _start(current: Reaction) -> None:
    rt = current.rt  # the creating thread's runtime
    if rt.tx is not None or rt.committing:
        current.schedule(rt)  # runs once the running action commits
        return
    try:
        current.on_invalidate(current)
    except Exception as error:
        report_error(error, f"reaction {current.name!r}", rt)


class _When:
    """The awaitable returned by ``when(predicate)`` without an effect."""

    def __init__(self, future: asyncio.Future[None], dispose: Disposer) -> None:
        self._future = future
        self.dispose = dispose

    def __await__(self) -> Generator[Any, None, None]:
        try:
            return (yield from self._future.__await__())
        finally:
            self.dispose()

    def __call__(self) -> None:
        self.dispose()


def when(
    predicate: Callable[[], bool],
    effect: Callable[[], Any] | None = None,
    *,
    timeout: float | None = None,
) -> Any:
    """Run ``effect()`` once, as soon as ``predicate()`` is true.

    Without an effect, returns an awaitable (also a disposer) that completes
    then; with ``timeout`` (seconds) it raises ``TimeoutError`` after that.
    With an effect, returns a disposer.
    """
    if effect is not None:
        done = False

        def on_invalidate(current: Reaction) -> None:
            nonlocal done
            if done:
                return
            if current.track_in_place(predicate):
                done = True
                current.dispose()
                effect()

        current = Reaction(getattr(predicate, "__name__", "when"), on_invalidate)
        _start(current)
        return current.dispose

    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    handle: asyncio.TimerHandle | None = None

    def resolve() -> None:
        if handle is not None:
            handle.cancel()
        if not future.done():
            future.set_result(None)

    dispose = when(predicate, resolve)

    def cancel() -> None:
        dispose()
        if handle is not None:
            handle.cancel()
        if not future.done():
            future.cancel()

    if timeout is not None and not future.done():

        def expire() -> None:
            dispose()
            if not future.done():
                future.set_exception(TimeoutError(f"when() predicate still false after {timeout}s"))

        handle = loop.call_later(timeout, expire)
    return _When(future, cancel)
