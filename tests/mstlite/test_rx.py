"""reactivex observables over trees: observe, patches, snapshots, actions."""

from __future__ import annotations

import asyncio
import gc
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex import operators as ops
from reactivex.scheduler.eventloop import AsyncIOScheduler

from mstlite import Model, action, computed, get_snapshot, rx
from mstlite._engine.reactivity import Computed


class Cell(Model):
    x: int = 0
    y: int = 0

    @computed
    def total(self) -> int:
        return self.x + self.y

    @action
    def set(self, x: int, y: int) -> None:
        self.x = x
        self.y = y

    @action
    def bump(self) -> None:
        self.x += 1


def test_observe_emits_current_then_each_distinct_committed_value() -> None:
    cell = Cell.create()
    seen: list[int] = []
    subscription = rx.observe(lambda: cell.total).subscribe(seen.append)
    cell.set(1, 1)
    cell.set(2, 0)  # same total: nothing
    cell.set(5, 0)
    subscription.dispose()
    cell.set(9, 9)
    assert seen == [0, 2, 5]


def test_observe_works_with_operators() -> None:
    cell = Cell.create()
    seen: list[int] = []
    subscription = (
        rx.observe(lambda: cell.x)
        .pipe(ops.filter(lambda v: v % 2 == 0), ops.map(lambda v: v * 10))
        .subscribe(seen.append)
    )
    for _ in range(4):
        cell.bump()
    subscription.dispose()
    assert seen == [0, 20, 40]


def test_observe_error_in_expression_ends_stream() -> None:
    cell = Cell.create()
    errors: list[BaseException] = []
    rx.observe(lambda: 1 // cell.x if cell.y else 0).subscribe(
        on_next=lambda v: None, on_error=errors.append
    )
    cell.set(0, 1)
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)


def test_patches_snapshots_and_actions_streams() -> None:
    cell = Cell.create()
    patches: list[object] = []
    pairs: list[object] = []
    snapshots: list[object] = []
    calls: list[object] = []
    subs = [
        rx.patches(cell).subscribe(patches.append),
        rx.patches(cell, with_inverse=True).subscribe(pairs.append),
        rx.snapshots(cell).subscribe(snapshots.append),
        rx.actions(cell).subscribe(calls.append),
    ]
    cell.set(1, 2)
    for sub in subs:
        sub.dispose()
    cell.set(3, 4)
    assert patches == [
        {"op": "replace", "path": "/x", "value": 1},
        {"op": "replace", "path": "/y", "value": 2},
    ]
    assert pairs[0] == (
        {"op": "replace", "path": "/x", "value": 1},
        {"op": "replace", "path": "/x", "value": 0},
    )
    assert snapshots == [{"x": 0, "y": 0}, {"x": 1, "y": 2}]
    assert calls == [{"name": "set", "path": "", "args": [1, 2]}]


def test_unsubscribing_releases_everything() -> None:
    cell = Cell.create()

    class Sink:
        def __call__(self, value: object) -> None:
            pass

    sink = Sink()
    ref = weakref.ref(sink)
    subscription = rx.observe(lambda: cell.total).subscribe(sink)
    del sink
    subscription.dispose()
    del subscription  # reactivex's own subscription object holds the observer
    gc.collect()
    assert ref() is None
    # Only the node's own cached computed still observes x and y; nothing observes it.
    observers = [d for atom in (cell._atoms or {}).values() for d in atom.observers]
    assert observers and all(isinstance(d, Computed) and not d.observers for d in observers)


def test_observe_with_asyncio_scheduler_and_throttle() -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        scheduler = AsyncIOScheduler(loop)
        cell = Cell.create()
        seen: list[int] = []
        done = asyncio.Event()
        rx.observe(lambda: cell.x).pipe(
            ops.debounce(0.02, scheduler=scheduler)
        ).subscribe(lambda v: (seen.append(v), done.set()))
        for _ in range(5):
            cell.bump()
        await asyncio.wait_for(done.wait(), 1)
        return seen

    assert asyncio.run(main()) == [5]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), max_size=20))
def test_observe_stream_equals_distinct_values_after_each_commit(
    steps: list[tuple[int, int]],
) -> None:
    cell = Cell.create()
    seen: list[int] = []
    subscription = rx.observe(lambda: cell.total).subscribe(seen.append)
    expected = [0]
    for x, y in steps:
        cell.set(x, y)
        value = get_snapshot(cell)["x"] + get_snapshot(cell)["y"]
        if value != expected[-1]:
            expected.append(value)
    subscription.dispose()
    assert seen == expected
