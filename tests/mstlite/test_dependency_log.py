"""A derivation's read log: subscriptions follow what the last run read, however it read it.

A run logs its reads; when they equal the last run's, the subscriptions are
kept without being rebuilt. These tests change the reads between runs in every
way that must still rebind (other props, the same props in another order,
fewer, more, repeated, after a dispose) and check which atoms observe what.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mstlite import Model, action, autorun, computed, reaction
from mstlite._engine.reactivity import Computed
from mstlite._engine.runtime import current_runtime

NAMES = ("a", "b", "c", "d")


class Cells(Model):
    a: int = 0
    b: int = 0
    c: int = 0
    d: int = 0
    plan: list[str] = []

    @action
    def put(self, name: str, value: int) -> None:
        setattr(self, name, value)

    @action
    def replan(self, names: list[str]) -> None:
        self.plan = names

    @computed
    def planned_sum(self) -> int:
        return sum(getattr(self, name) for name in self.plan)


def _observed_names(cells: Cells, derivation: Any) -> set[str]:
    """The props of ``cells`` whose atom has ``derivation`` among its observers."""
    atoms = cells._atoms or {}
    return {key for key, atom in atoms.items() if key in NAMES and derivation in atom.observers}


def _reaction_of(dispose: Any) -> Any:
    """The reaction a disposer disposes (the disposer is its bound ``dispose``)."""
    return dispose.__self__


def test_the_same_reads_in_another_order_keep_one_subscription_each() -> None:
    cells = Cells.create({"plan": ["a", "b"]})
    runs: list[int] = []
    dispose = autorun(lambda: runs.append(sum(getattr(cells, n) for n in cells.plan)))
    reader = _reaction_of(dispose)
    cells.replan(["b", "a"])
    assert _observed_names(cells, reader) == {"a", "b"}
    assert all(len(atom.observers) <= 1 for atom in (cells._atoms or {}).values())
    cells.put("a", 1)
    assert runs == [0, 0, 1]
    dispose()


def test_a_read_dropped_unsubscribes_and_a_new_read_subscribes() -> None:
    cells = Cells.create({"plan": ["a", "b"]})
    seen: list[int] = []
    dispose = reaction(lambda: cells.planned_sum, seen.append)
    cells.replan(["c"])
    cells.put("a", 5)  # no longer read: nothing runs
    cells.put("c", 7)
    assert seen == [7]
    assert cells.planned_sum == 7
    dispose()


def test_repeated_reads_are_not_kept_as_a_log_but_still_tracked() -> None:
    class Loop(Model):
        n: int = 1

        @action
        def bump(self) -> None:
            self.n += 1

        @computed
        def many(self) -> int:
            return sum(self.n for _ in range(1000))

    loop = Loop.create()
    seen: list[int] = []
    dispose = reaction(lambda: loop.many, seen.append)
    view = loop._ext.computeds["many"]  # type: ignore[union-attr]
    assert view.seen_log is None  # 2,000 log entries for one atom: not worth keeping
    loop.bump()
    loop.bump()
    assert seen == [2000, 3000]
    dispose()


def test_a_cleared_derivation_subscribes_again_to_the_same_reads() -> None:
    cells = Cells.create()
    rt = current_runtime()
    view = Computed(lambda owner: owner.a + owner.b, "a_plus_b", cells)
    assert view.get(rt) == 0
    view.clear_observing()  # as when its owner goes: the next run must bind afresh
    assert view.get(rt) == 0
    cells.put("a", 3)
    assert view.get(rt) == 3  # a stale cache here would mean the run did not subscribe
    view.dispose()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("plan"), st.lists(st.sampled_from(NAMES), max_size=6)),
            st.tuples(st.sampled_from(NAMES), st.integers(0, 2)),
        ),
        max_size=25,
    )
)
def test_a_reaction_reruns_exactly_when_something_its_last_run_read_changed(
    steps: list[tuple[str, Any]],
) -> None:
    cells = Cells.create()
    read: list[list[str]] = []

    def expression() -> tuple[int, ...]:
        plan = list(cells.plan)
        read.append(plan)
        return tuple(getattr(cells, name) for name in plan)

    dispose = reaction(expression, lambda _: None)
    reader = _reaction_of(dispose)
    for name, value in steps:
        last = read[-1]
        before = len(read)
        if name == "plan":
            expected = list(cells.plan) != value
            cells.replan(value)
        else:
            expected = name in last and getattr(cells, name) != value
            cells.put(name, value)
        assert len(read) - before == int(expected), (name, value, last)
        assert _observed_names(cells, reader) == set(read[-1])
    dispose()
    assert _observed_names(cells, reader) == set()
