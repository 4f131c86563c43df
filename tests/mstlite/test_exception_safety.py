"""A KeyboardInterrupt anywhere leaves the engine consistent, and still propagates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mstlite import (
    Model,
    MstError,
    action,
    autorun,
    computed,
    get_snapshot,
    on_patch,
    on_snapshot,
    reaction,
)
from mstlite._engine.runtime import current_runtime
from mstlite.undo import UndoManager


class Box(Model):
    a: int = 0
    b: int = 0
    loop: bool = False

    @action
    def set(self, a: int | None = None, b: int | None = None) -> None:
        if a is not None:
            self.a = a
        if b is not None:
            self.b = b

    @action
    def interrupted(self) -> None:
        self.a = 99
        raise KeyboardInterrupt

    @action
    def set_loop(self, loop: bool) -> None:
        self.loop = loop

    @computed
    def first(self) -> int:
        return self.second if self.loop else 1

    @computed
    def second(self) -> int:
        return self.first + 1


class Interrupter:
    """A callable that raises KeyboardInterrupt while ``armed``, else records its calls."""

    def __init__(self, fn: Callable[..., Any] = lambda *args: None) -> None:
        self.armed = False
        self.calls: list[Any] = []
        self.fn = fn

    def __call__(self, *args: Any) -> Any:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        self.calls.append(args)
        return self.fn(*args)


def test_keyboard_interrupt_in_an_action_rolls_back() -> None:
    box = Box.create()
    before = get_snapshot(box)
    with pytest.raises(KeyboardInterrupt):
        box.interrupted()
    assert get_snapshot(box) is before
    assert current_runtime().tx is None
    box.set(a=1)
    assert box.a == 1


@pytest.mark.parametrize("first_read", [True, False])
def test_keyboard_interrupt_in_a_computed_recomputes_next_time(first_read: bool) -> None:
    armed = Interrupter()

    class View(Model):
        n: int = 1

        @action
        def set(self, n: int) -> None:
            self.n = n

        @computed
        def double(self) -> int:
            armed()
            return self.n * 2

    view = View.create()
    if not first_read:
        assert view.double == 2
        view.set(5)
    armed.armed = True
    with pytest.raises(KeyboardInterrupt):
        view.double  # noqa: B018
    assert view.double == view.n * 2  # not the old value, not a sentinel
    seen: list[int] = []
    dispose = reaction(lambda: view.double, seen.append)
    view.set(7)
    assert seen == [14]
    dispose()


def test_keyboard_interrupt_in_a_reaction_leaves_the_others_scheduled() -> None:
    box = Box.create()
    first = Interrupter()
    seen: list[int] = []
    dispose_first = autorun(lambda: first(box.a))
    dispose_second = autorun(lambda: seen.append(box.a))
    first.armed = True
    with pytest.raises(KeyboardInterrupt):
        box.set(a=1)
    assert box.a == 1  # the change was committed before the reactions ran
    box.set(b=1)  # the next commit runs what the interrupt left pending
    assert seen == [0, 1]
    box.set(a=2)
    assert seen == [0, 1, 2] and first.calls[-1] == (2,)
    dispose_first()
    dispose_second()


def test_keyboard_interrupt_in_on_patch_still_tells_later_listeners_and_undo() -> None:
    box = Box.create()
    undo = UndoManager(box)
    bad = Interrupter()
    later: list[Any] = []
    on_patch(box, bad)
    on_patch(box, lambda patch, inverse: later.append(patch))
    bad.armed = True
    with pytest.raises(KeyboardInterrupt):
        box.set(a=1)
    assert box.a == 1
    assert later == [{"op": "replace", "path": "/a", "value": 1}]
    assert undo.can_undo
    undo.undo()
    assert box.a == 0
    box.set(b=2)
    assert len(later) == 3


def test_keyboard_interrupt_in_on_patch_survives_a_reaction_that_commits() -> None:
    # The commit's reactions run after its delivery, and a commit of theirs is
    # delivered in turn: the first commit's interrupt is still raised, once.
    box = Box.create()
    other = Box.create()
    bad = Interrupter()
    heard: list[Any] = []
    on_patch(box, bad)
    on_patch(other, lambda patch, inverse: heard.append(patch))
    dispose = reaction(lambda: box.a, lambda a: other.set(a=a))
    bad.armed = True
    with pytest.raises(KeyboardInterrupt):
        box.set(a=1)
    assert other.a == 1 and heard == [{"op": "replace", "path": "/a", "value": 1}]
    box.set(a=2)  # nothing left over: no interrupt, both trees told
    assert other.a == 2 and len(heard) == 2 and len(bad.calls) == 1
    dispose()


def test_keyboard_interrupt_in_on_snapshot_still_tells_later_listeners() -> None:
    box = Box.create()
    bad = Interrupter()
    later: list[Any] = []
    on_snapshot(box, bad)
    on_snapshot(box, later.append)
    bad.armed = True
    with pytest.raises(KeyboardInterrupt):
        box.set(a=1)
    assert [s["a"] for s in later] == [1]
    box.set(a=2)
    assert [s["a"] for s in later] == [1, 2]
    assert [s[0]["a"] for s in bad.calls] == [2]


def test_keyboard_interrupt_inside_undo_keeps_the_history_consistent() -> None:
    box = Box.create()
    undo = UndoManager(box)
    box.set(a=1)
    box.set(a=2)
    bad = Interrupter()
    on_patch(box, bad)
    bad.armed = True
    with pytest.raises(KeyboardInterrupt):
        undo.undo()  # committed, then a listener was interrupted
    assert box.a == 1 and undo.undo_index == 1
    undo.redo()
    assert box.a == 2 and undo.undo_index == 2
    undo.undo()
    undo.undo()
    assert box.a == 0 and not undo.can_undo
    with pytest.raises(KeyboardInterrupt):
        box.interrupted()  # an interrupted action is not recorded
    assert undo.history and len(undo.history) == 2 and box.a == 0


def test_a_computed_cycle_error_is_not_cached_once_the_cycle_is_gone() -> None:
    box = Box.create({"loop": True})
    with pytest.raises(MstError, match="cycle"):
        box.first  # noqa: B018
    with pytest.raises(MstError, match="cycle"):
        box.second  # noqa: B018
    box.set_loop(False)
    assert box.first == 1
    assert box.second == 2


def test_an_on_snapshot_listener_that_always_changes_state_is_stopped() -> None:
    box = Box.create()
    errors: list[BaseException] = []
    current_runtime().on_error = errors.append
    try:
        dispose = on_snapshot(box, lambda snapshot: box.set(a=snapshot["a"] + 1))
        box.set(a=1)
    finally:
        current_runtime().on_error = None
    dispose()
    assert len(errors) == 1 and isinstance(errors[0], MstError)
    assert "100" in str(errors[0])
    assert box.a == 101
    box.set(b=1)  # the engine is usable afterwards
    assert box.b == 1


def test_keyboard_interrupt_in_an_undo_managers_commit_hook() -> None:
    class Fragile(UndoManager):
        armed = False

        def _on_commit(self, tx: Any) -> None:
            if self.armed:
                self.armed = False
                raise KeyboardInterrupt
            super()._on_commit(tx)

    box = Box.create()
    fragile = Fragile(box)
    steady = UndoManager(box)
    fragile.armed = True
    with pytest.raises(KeyboardInterrupt):
        box.set(a=1)
    assert box.a == 1 and len(steady.history) == 1  # the other manager still heard
    box.set(a=2)
    # The interrupted hook filed nothing; its patches join the next entry, so undo
    # still lands on a state the tree really had.
    assert len(fragile.history) == 1 and len(steady.history) == 2
    fragile.undo()
    assert box.a == 0
    fragile.redo()
    assert box.a == 2
