"""Computed views, reactions, autorun and when: tracking, batching, glitch freedom, leaks."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from mstlite import (
    Model,
    MstError,
    action,
    autorun,
    computed,
    destroy,
    reaction,
    unprotect,
    when,
)
from mstlite._engine.runtime import current_runtime


class Item(Model):
    value: int = 0
    flag: bool = False

    @action
    def set(self, value: int) -> None:
        self.value = value


class Box(Model):
    a: int = 1
    b: int = 10
    use_b: bool = True
    items: list[Item] = []
    names: dict[str, str] = {}

    @computed
    def double(self) -> int:
        return self.a * 2

    @computed
    def left(self) -> int:
        return self.a + 1

    @computed
    def right(self) -> int:
        return self.a + 2

    @computed
    def diamond(self) -> tuple[int, int]:
        return (self.left, self.right)

    @computed
    def total(self) -> int:
        return sum(item.value for item in self.items)

    @action
    def set(self, **values: object) -> None:
        for name, value in values.items():
            setattr(self, name, value)

    @action
    def add_items(self, count: int) -> None:
        for _ in range(count):
            self.items.append({"value": 1})

    @action
    def fail(self) -> None:
        self.a = 999
        raise RuntimeError("boom")


class Counter:
    """A computed body that counts its runs."""

    def __init__(self) -> None:
        self.runs = 0


def test_computed_is_cached_until_a_dependency_changes() -> None:
    runs = []

    class Cached(Model):
        a: int = 1
        b: int = 1

        @computed
        def twice(self) -> int:
            runs.append(1)
            return self.a * 2

        @action
        def set(self, a: int, b: int) -> None:
            self.a, self.b = a, b

    box = Cached.create()
    assert box.twice == 2 and box.twice == 2
    assert len(runs) == 1
    box.set(1, 5)  # b is not a dependency
    assert box.twice == 2 and len(runs) == 1
    box.set(3, 5)
    assert box.twice == 6 and len(runs) == 2


def test_reaction_runs_once_per_commit_however_many_changes() -> None:
    box = Box.create()
    seen: list[int] = []
    dispose = reaction(lambda: box.total, seen.append)
    box.add_items(100)
    assert seen == [100]
    dispose()


def test_autorun_runs_now_and_after_each_commit() -> None:
    box = Box.create()
    seen: list[int] = []
    dispose = autorun(lambda: seen.append(box.a))
    box.set(a=2)
    box.set(a=2)  # equal value: nothing changed, no run
    box.set(a=3)
    assert seen == [1, 2, 3]
    dispose()
    box.set(a=4)
    assert seen == [1, 2, 3]


def test_diamond_dependency_has_no_glitch() -> None:
    box = Box.create()
    seen: list[tuple[int, int]] = []
    dispose = autorun(lambda: seen.append(box.diamond))
    box.set(a=5)
    assert seen == [(2, 3), (6, 7)]  # never a mix such as (6, 3)
    dispose()


def test_conditional_dependency_is_not_tracked_when_branch_not_taken() -> None:
    box = Box.create({"use_b": False})
    seen: list[int] = []
    dispose = autorun(lambda: seen.append(box.b if box.use_b else box.a))
    box.set(b=11)  # not read: no run
    assert seen == [1]
    box.set(use_b=True)
    box.set(b=12)
    assert seen == [1, 11, 12]
    dispose()


def test_reaction_fires_only_on_changed_value_and_fire_immediately() -> None:
    box = Box.create()
    seen: list[bool] = []
    dispose = reaction(lambda: box.a > 5, seen.append, fire_immediately=True)
    box.set(a=2)
    box.set(a=7)
    box.set(a=8)
    assert seen == [False, True]
    dispose()


def test_reaction_equals_hook() -> None:
    box = Box.create()
    seen: list[int] = []
    dispose = reaction(lambda: box.a, seen.append, equals=lambda x, y: x % 2 == y % 2)
    box.set(a=3)  # same parity as 1
    box.set(a=4)
    assert seen == [4]
    dispose()


def test_aborted_action_is_never_seen() -> None:
    box = Box.create()
    seen: list[int] = []
    dispose = reaction(lambda: box.a, seen.append)
    with pytest.raises(RuntimeError):
        box.fail()
    assert seen == []
    assert box.double == 2
    dispose()


def test_computed_error_reraises_and_does_not_poison_cache() -> None:
    class Risky(Model):
        divisor: int = 0

        @computed
        def ratio(self) -> float:
            return 10 / self.divisor

        @action
        def set(self, divisor: int) -> None:
            self.divisor = divisor

    risky = Risky.create()
    with pytest.raises(ZeroDivisionError):
        _ = risky.ratio
    risky.set(2)
    assert risky.ratio == 5


def test_computed_cycle_raises_clear_error() -> None:
    class Loop(Model):
        x: int = 0

        @computed
        def first(self) -> int:
            return self.second + 1

        @computed
        def second(self) -> int:
            return self.first + 1

    with pytest.raises(MstError, match="cycle"):
        _ = Loop.create().first


def test_reaction_error_is_reported_and_others_still_run() -> None:
    box = Box.create()
    errors: list[BaseException] = []
    current_runtime().on_error = errors.append
    seen: list[int] = []
    try:
        dispose_bad = reaction(lambda: box.a, lambda v: 1 / 0)
        dispose_good = reaction(lambda: box.a, seen.append)
        box.set(a=2)
    finally:
        current_runtime().on_error = None
    assert seen == [2]
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    dispose_bad()
    dispose_good()


def test_dispose_during_run_stops_further_runs() -> None:
    box = Box.create()
    seen: list[int] = []
    holder: list[object] = []

    def effect(value: int) -> None:
        seen.append(value)
        holder[0]()  # type: ignore[operator]

    holder.append(reaction(lambda: box.a, effect))
    box.set(a=2)
    box.set(a=3)
    assert seen == [2]


def test_effect_changing_state_through_action_triggers_another_round() -> None:
    box = Box.create()
    dispose = reaction(lambda: box.a, lambda v: box.set(b=v * 10))
    box.set(a=4)
    assert box.b == 40
    dispose()


def test_reading_views_needs_no_action_and_tracks_maps_and_arrays() -> None:
    box = Box.create()
    unprotect(box)
    seen: list[object] = []
    dispose = autorun(lambda: seen.append((len(box.items), dict(box.names))))
    box.names["x"] = "1"
    box.items.append({"value": 3})
    assert seen == [(0, {}), (0, {"x": "1"}), (1, {"x": "1"})]
    dispose()


def test_when_runs_effect_once_predicate_holds() -> None:
    box = Box.create()
    seen: list[str] = []
    when(lambda: box.a > 2, lambda: seen.append("yes"))
    box.set(a=2)
    assert seen == []
    box.set(a=3)
    box.set(a=4)
    assert seen == ["yes"]


def test_when_is_awaitable_and_times_out() -> None:
    async def main() -> None:
        box = Box.create()

        async def later() -> None:
            await asyncio.sleep(0.01)
            box.set(a=10)

        task = asyncio.ensure_future(later())
        await when(lambda: box.a == 10)
        await task
        with pytest.raises(TimeoutError):
            await when(lambda: box.a == 11, timeout=0.02)

    asyncio.run(main())


def test_disposed_reaction_leaves_no_reference_behind() -> None:
    box = Box.create()

    class Sink:
        def __call__(self, value: int) -> None:
            pass

    sink = Sink()
    ref = weakref.ref(sink)
    dispose = reaction(lambda: box.a, sink)
    del sink
    dispose()
    gc.collect()
    assert ref() is None
    atoms = box._atoms or {}
    assert all(not atom.observers for atom in atoms.values())


def test_destroyed_node_disposes_its_computeds() -> None:
    box = Box.create({"items": [{"value": 1}]})
    item = box.items[0]

    class Doubled(Model):
        pass

    seen: list[int] = []
    dispose = autorun(lambda: seen.append(box.total))
    destroy(item)
    assert seen == [1, 0]
    dispose()
