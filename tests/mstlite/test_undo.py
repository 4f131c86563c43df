"""UndoManager: entries per outermost action, flows grouped, group(), without_undo()."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstlite import (
    ActionContext,
    Model,
    action,
    add_middleware,
    apply_action,
    autorun,
    get_snapshot,
    record_actions,
)
from mstlite.undo import HistoryEntry, UndoManager


class Doc(Model):
    text: str = ""
    words: list[str] = []

    @action
    def write(self, text: str) -> None:
        self.text = text
        self.words.append(text)

    @action
    def drop(self) -> None:
        if self.words:
            self.words.pop()

    @action
    async def slow_write(self, first: str, second: str) -> None:
        self.write(first)
        await asyncio.sleep(0)
        self.write(second)


def test_undo_redo_one_entry_per_action() -> None:
    doc = Doc.create()
    manager = UndoManager(doc)
    doc.write("a")
    doc.write("b")
    assert len(manager.history) == 2 and manager.can_undo and not manager.can_redo
    manager.undo()
    assert get_snapshot(doc) == {"text": "a", "words": ["a"]}
    manager.redo()
    assert get_snapshot(doc) == {"text": "b", "words": ["a", "b"]}
    manager.undo()
    manager.undo()
    assert get_snapshot(doc) == {"text": "", "words": []}
    with pytest.raises(IndexError):
        manager.undo()
    doc.write("c")  # a new action drops the redo branch
    assert not manager.can_redo and len(manager.history) == 1
    manager.dispose()


def test_flow_is_one_entry() -> None:
    doc = Doc.create()
    manager = UndoManager(doc)
    asyncio.run(doc.slow_write("x", "y"))
    assert len(manager.history) == 1
    manager.undo()
    assert get_snapshot(doc) == {"text": "", "words": []}
    manager.dispose()


def test_group_and_without_undo() -> None:
    doc = Doc.create()
    manager = UndoManager(doc)
    with manager.group():
        doc.write("a")
        doc.write("b")
    with manager.without_undo():
        doc.write("hidden")
    assert len(manager.history) == 1
    manager.undo()
    assert doc.words == ["hidden"]
    manager.clear()
    assert not manager.can_undo and not manager.can_redo
    manager.dispose()


def test_history_limit_and_observable_flags() -> None:
    doc = Doc.create()
    manager = UndoManager(doc, max_history=3)
    seen: list[bool] = []
    dispose = autorun(lambda: seen.append(manager.can_undo))
    for letter in "abcde":
        doc.write(letter)
    assert len(manager.history) == 3
    manager.undo()
    manager.undo()
    manager.undo()
    assert not manager.can_undo
    assert seen[0] is False and seen[1] is True and seen[-1] is False
    dispose()
    manager.dispose()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=3), st.none()), max_size=15))
def test_undo_all_then_redo_all_round_trips(steps: list[str | None]) -> None:
    doc = Doc.create()
    manager = UndoManager(doc, max_history=100)
    recorder = record_actions(doc)
    first = get_snapshot(doc)
    for step in steps:
        if step is None:
            doc.drop()
        else:
            doc.write(step)
    last = get_snapshot(doc)
    recorder.stop()
    replica = Doc.create(first)
    apply_action(replica, recorder.actions)
    assert get_snapshot(replica) == last
    while manager.can_undo:
        manager.undo()
    assert get_snapshot(doc) == first
    while manager.can_redo:
        manager.redo()
    assert get_snapshot(doc) == last
    manager.dispose()


def test_flow_is_one_entry_even_when_a_middleware_swallows_its_end() -> None:
    doc = Doc.create()
    events: list[str] = []

    def swallow_end(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        events.append(call.type)
        if call.type == "flow_return":
            return "swallowed"  # never calls next: the flow's end goes no further
        return next_(call)

    add_middleware(doc, swallow_end)  # before the manager's: its own handler is outermost
    manager = UndoManager(doc)
    assert asyncio.run(doc.slow_write("x", "y")) == "swallowed"
    doc.write("z")
    assert [len(entry.patches) for entry in manager.history] == [4, 2]
    assert events[-2:] == ["flow_return", "action"]
    manager.undo()
    manager.undo()
    assert get_snapshot(doc) == {"text": "", "words": []}
    manager.dispose()


def test_history_entries_are_copies_and_the_redo_branch_and_limit_hold() -> None:
    doc = Doc.create()
    manager = UndoManager(doc, max_history=2)
    for text in "abc":
        doc.write(text)
    entries = manager.history
    assert [entry.patches[0]["value"] for entry in entries] == ["b", "c"]
    entries[0].patches.clear()  # a copy: the manager's history is unchanged
    assert manager.history[0] == HistoryEntry(
        [
            {"op": "replace", "path": "/text", "value": "b"},
            {"op": "add", "path": "/words/1", "value": "b"},
        ],
        [{"op": "replace", "path": "/text", "value": "a"}, {"op": "remove", "path": "/words/1"}],
    )
    manager.undo()
    with manager.group():
        doc.write("d")
        doc.write("e")
    assert manager.undo_index == 2 and not manager.can_redo
    assert [len(entry.patches) for entry in manager.history] == [2, 4]
    manager.undo()
    manager.undo()
    assert get_snapshot(doc) == {"text": "a", "words": ["a"]}
    manager.dispose()


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 4),
    # Not without_undo: a redo over a change kept out of the history overwrites it.
    st.lists(st.sampled_from(["write", "drop", "undo", "redo", "group", "clear"])),
)
def test_any_mix_of_steps_keeps_history_and_position_consistent(
    max_history: int, steps: list[str]
) -> None:
    doc = Doc.create()
    manager = UndoManager(doc, max_history=max_history)
    for number, step in enumerate(steps):
        if step == "write":
            doc.write(str(number))
        elif step == "drop":
            doc.drop()
        elif step == "undo" and manager.can_undo:
            manager.undo()
        elif step == "redo" and manager.can_redo:
            manager.redo()
        elif step == "group":
            with manager.group():
                doc.write(f"g{number}")
                doc.drop()
                doc.write(f"h{number}")
        elif step == "clear":
            manager.clear()
        assert 0 <= manager.undo_index <= len(manager.history) <= max_history
    here = get_snapshot(doc)
    applied = manager.undo_index
    while manager.can_undo:
        manager.undo()
    while manager.can_redo:
        manager.redo()
    for _ in range(len(manager.history) - applied):
        manager.undo()
    assert get_snapshot(doc) == here and manager.undo_index == applied
    manager.dispose()
