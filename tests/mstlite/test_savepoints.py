"""Every nested action is a savepoint: a nested failure is undone before its caller sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mstlite import (
    Identifier,
    Model,
    PatchError,
    ValidationError,
    action,
    apply_patch,
    apply_snapshot,
    get_snapshot,
    on_patch,
    resolve_identifier,
)


class Item(Model):
    id: Identifier
    n: int = 0


class Box(Model):
    value: int = 0
    items: list[Item] = []

    @action
    def run(self, fn: Callable[[], Any]) -> Any:
        return fn()

    @action
    def set(self, value: int) -> None:
        self.value = value


def _nest(box: Box, depth: int, inner: Callable[[], Any]) -> Callable[[], Any]:
    """``inner`` run ``depth`` actions deep, each level writing ``value`` first."""
    if depth == 0:
        return inner

    def level() -> Any:
        box.value += 1
        return box.run(_nest(box, depth - 1, inner))

    return level


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_caught_nested_failure_is_undone_at_any_depth(depth: int) -> None:
    box = Box.create({"items": [{"id": "a"}]})
    patches: list[Any] = []
    on_patch(box, lambda patch, inverse: patches.append(patch))

    def failing() -> None:
        box.value = 100
        box.items.append({"id": "b"})
        raise ValueError("inner")

    def outer() -> None:
        before = get_snapshot(box)
        with pytest.raises(ValueError):
            box.run(_nest(box, depth, failing))
        assert get_snapshot(box) is before  # the very snapshot from before the call
        box.items.append({"id": "c"})

    box.run(outer)
    assert get_snapshot(box) == {"value": 0, "items": [{"id": "a", "n": 0}, {"id": "c", "n": 0}]}
    assert patches == [{"op": "add", "path": "/items/1", "value": {"id": "c", "n": 0}}]
    assert resolve_identifier(Item, box, "b") is None


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_apply_patch_is_atomic_inside_an_action_that_catches_its_error(depth: int) -> None:
    box = Box.create()
    batch = [
        {"op": "replace", "path": "/value", "value": 7},
        {"op": "add", "path": "/items/-", "value": {"id": "x"}},
        {"op": "remove", "path": "/nothing"},
    ]

    def patch() -> None:
        with pytest.raises(PatchError):
            apply_patch(box, batch)

    box.run(_nest(box, depth - 1, patch))
    assert box.value == depth - 1
    assert len(box.items) == 0
    assert resolve_identifier(Item, box, "x") is None


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_apply_snapshot_is_atomic_inside_an_action_that_catches_its_error(depth: int) -> None:
    box = Box.create({"items": [{"id": "a"}]})

    def apply() -> None:
        with pytest.raises(ValidationError):  # "a" twice: only the built tree sees it
            apply_snapshot(box, {"value": 9, "items": [{"id": "a"}, {"id": "a"}]})

    box.run(_nest(box, depth - 1, apply))
    assert get_snapshot(box) == {"value": depth - 1, "items": [{"id": "a", "n": 0}]}


def test_the_outermost_failure_still_undoes_everything() -> None:
    box = Box.create()
    before = get_snapshot(box)

    def outer() -> None:
        box.value = 1
        box.run(lambda: box.items.append({"id": "q"}))
        raise RuntimeError("outer")

    with pytest.raises(RuntimeError):
        box.run(outer)
    assert get_snapshot(box) is before


def test_a_tree_created_inside_a_failing_action_keeps_its_identifiers() -> None:
    box = Box.create()
    made: list[Box] = []

    def build_then_fail() -> None:
        made.append(Box.create({"items": [{"id": "kept"}]}))
        box.value = 3
        raise RuntimeError("fail")

    with pytest.raises(RuntimeError):
        box.run(build_then_fail)
    assert box.value == 0
    other = made[0]
    assert resolve_identifier(Item, other, "kept") is other.items[0]


def test_a_splice_that_puts_back_a_removed_identifier_reconciles() -> None:
    box = Box.create({"items": [{"id": "a", "n": 1}, {"id": "b"}]})
    first = box.items[0]
    box.run(lambda: box.items.__setitem__(slice(0, 1), [{"id": "a", "n": 2}]))
    assert box.items[0] is first and first.n == 2
    box.run(lambda: box.items.__setitem__(slice(0, 2), [{"id": "b"}, {"id": "a", "n": 3}]))
    assert box.items[1] is first and first.n == 3
    assert [item.id for item in box.items] == ["b", "a"]
