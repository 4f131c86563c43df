"""Trees are freed once unreferenced, whatever views, undo managers or reactions touched them."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable
from typing import Any

from mstlite import Model, action, autorun, computed, on_patch, on_snapshot, reaction
from mstlite.undo import UndoManager


class Shared(Model):
    """A long-lived tree that shorter-lived trees read."""

    factor: int = 2


SHARED = Shared.create()


class Counter(Model):
    value: int = 1

    @action
    def inc(self) -> None:
        self.value += 1

    @computed
    def scaled(self) -> int:
        return self.value * SHARED.factor

    @computed
    def own(self) -> int:
        return self.value + 1

    @action
    async def twice(self) -> None:
        self.value += 1
        await asyncio.sleep(0)
        self.value += 1
        raise RuntimeError("last stretch fails")


def _freed(make: Callable[[], Any]) -> bool:
    ref = weakref.ref(make())
    gc.collect()
    return ref() is None


def test_a_tree_whose_views_were_read_is_freed() -> None:
    def make() -> Counter:
        counter = Counter.create()
        assert counter.own == 2
        counter.inc()
        assert counter.own == 3
        return counter

    assert _freed(make)


def test_a_view_reading_a_long_lived_tree_does_not_pin_its_own_tree() -> None:
    refs = []
    for _ in range(50):
        counter = Counter.create()
        assert counter.scaled == 2
        refs.append(weakref.ref(counter))
    del counter
    gc.collect()
    assert [ref for ref in refs if ref() is not None] == []
    atoms = SHARED._atoms or {}
    assert all(not atom.observers for atom in atoms.values())


def test_a_tree_with_an_undisposed_undo_manager_is_freed() -> None:
    def make() -> Counter:
        counter = Counter.create()
        UndoManager(counter)
        counter.inc()
        return counter

    assert _freed(make)


def test_a_tree_with_disposed_reactions_and_listeners_is_freed() -> None:
    def make() -> Counter:
        counter = Counter.create()
        disposers = [
            reaction(lambda: counter.scaled, lambda value: None),
            autorun(lambda: counter.own),
            on_patch(counter, lambda patch, inverse: None),
            on_snapshot(counter, lambda snapshot: None),
        ]
        counter.inc()
        for dispose in disposers:
            dispose()
        return counter

    assert _freed(make)


def test_a_live_reaction_keeps_both_trees_it_reads_alive() -> None:
    kept = Counter.create()
    other = Counter.create()
    seen: list[int] = []
    # Default arguments: the expression holds the trees, not the test's variables.
    dispose = reaction(lambda a=kept, b=other: a.value + b.value, seen.append)
    ref = weakref.ref(other)
    del other
    gc.collect()
    assert ref() is not None
    kept.inc()
    assert seen == [3]
    dispose()
    gc.collect()
    assert ref() is None


def test_undo_managers_of_other_trees_are_not_called_on_a_commit() -> None:
    calls: list[int] = []

    class Counting(UndoManager):
        def _on_commit(self, tx: Any) -> None:
            calls.append(1)
            super()._on_commit(tx)

    others = [Counter.create() for _ in range(20)]
    managers = [Counting(tree) for tree in others]
    mine = Counter.create()
    mine_manager = Counting(mine)
    mine.inc()
    assert calls == [1]
    assert mine_manager.can_undo and not any(m.can_undo for m in managers)


def test_undo_files_a_plain_action_after_a_failed_flow_as_its_own_entry() -> None:
    counter = Counter.create()
    undo = UndoManager(counter)

    async def run() -> None:
        try:
            await counter.twice()
        except RuntimeError:
            pass
        assert len(undo.history) == 1  # the flow's stretches, one entry
        for _ in range(5):  # a new transaction may reuse the failed stretch's address
            counter.inc()

    asyncio.run(run())
    assert len(undo.history) == 6
