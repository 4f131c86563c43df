"""The depth limit (issue 16 item 14): whatever a tree can hold can be saved and restored.

Trees nest at most ``MAX_DEPTH`` levels; deeper, pydantic (255 levels of a
recursive type), the standard json module and node building would fail. An
action that would go deeper raises ``TreeError`` and is rolled back; a deeper
snapshot is one ``ValidationError``; at the limit every operation works, even
called from deep in the caller's own stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mstlite import (
    Frozen,
    Identifier,
    Model,
    TreeError,
    ValidationError,
    action,
    apply_snapshot,
    clone,
    destroy,
    detach,
    get_snapshot,
    walk,
)
from mstlite._types.depth import MAX_DEPTH, static_height
from mstlite.undo import UndoManager


class Deep(Model):
    kids: list[Deep] = []
    note: str = ""

    @action
    def grow(self, levels: int) -> None:
        node = self
        for _ in range(levels):
            node.kids.append({})  # type: ignore[arg-type]  # a snapshot
            node = node.kids[0]

    @action
    def adopt(self, node: Deep) -> None:
        self.kids.append(node)


class Leaf(Model):
    id: Identifier
    tags: list[str] = []
    payload: dict[str, int] = {}


class Flat(Model):
    leaves: list[Leaf] = []


class Loose(Model):
    data: Frozen[Any] = None


#: Deep's levels: the root, then an array and a model per level grown, and the
#: deepest model's own (empty) array: a node too.
MOST = (MAX_DEPTH - 2) // 2


def _nested(levels: int) -> dict[str, Any]:
    snapshot: dict[str, Any] = {}
    for _ in range(levels):
        snapshot = {"kids": [snapshot]}
    return snapshot


def _deepest(node: Deep) -> Deep:
    while node.kids:
        node = node.kids[0]
    return node


def _from_deep_in_the_stack(fn: Callable[[], Any], frames: int = 250) -> Any:
    """``fn()`` called with ``frames`` frames of the caller's own below it."""
    if frames == 0:
        return fn()
    return _from_deep_in_the_stack(fn, frames - 1)


def test_an_action_that_would_nest_too_deep_is_refused_and_rolled_back() -> None:
    root = Deep.create({})
    limit = rf"{MAX_DEPTH + 2} levels deep.*depth limit of trees is {MAX_DEPTH}"
    with pytest.raises(TreeError, match=limit):
        root.grow(5000)
    assert get_snapshot(root) == {"kids": [], "note": ""}
    root.grow(MOST)  # up to the limit is fine
    with pytest.raises(TreeError, match="levels deep"):
        _deepest(root).grow(1)


def test_a_tree_at_the_limit_is_snapshotted_cloned_walked_saved_and_restored() -> None:
    root = Deep.create({})
    root.grow(MOST)

    def everything() -> None:
        snapshot = get_snapshot(root)
        text = json.dumps(snapshot)
        assert json.loads(text) == snapshot
        copy = clone(root)
        assert get_snapshot(copy) == snapshot
        seen: list[Any] = []
        walk(root, seen.append)
        assert len(seen) == 2 * MOST + 2  # every model and array
        restored = Deep.create(json.loads(text))
        assert get_snapshot(restored) == snapshot
        target = Deep.create({})
        apply_snapshot(target, json.loads(text))
        assert json.dumps(get_snapshot(target)) == text
        apply_snapshot(target, {})  # and back: the deep subtree is destroyed
        assert get_snapshot(target) == {"kids": [], "note": ""}

    _from_deep_in_the_stack(everything)


def test_changes_and_undo_at_the_limit() -> None:
    root = Deep.create({})
    undo = UndoManager(root)
    root.grow(MOST)
    deepest = _deepest(root)
    deepest.kids  # noqa: B018  # read: an array at the deepest level
    undo.undo()
    assert get_snapshot(root) == {"kids": [], "note": ""}
    undo.redo()
    assert len(json.dumps(get_snapshot(root))) > MOST
    destroy(root.kids[0])
    assert get_snapshot(root)["kids"] == []


def test_a_snapshot_nested_too_deep_is_one_clear_validation_error() -> None:
    for levels in (MOST + 1, 300, 5000):
        with pytest.raises(ValidationError) as caught:
            Deep.create(_nested(levels))
        [problem] = caught.value.errors
        assert problem["type"] == "too_deep"
        assert problem["path"].startswith("/kids/0/kids/0")
        assert f"depth limit of trees is {MAX_DEPTH} levels" in str(caught.value)
    assert [e["type"] for e in Deep.validate(_nested(5000))] == ["too_deep"]
    store = Deep.create(_nested(3))
    before = get_snapshot(store)
    with pytest.raises(ValidationError, match="levels deep"):
        apply_snapshot(store, _nested(5000))
    assert get_snapshot(store) is before


def test_a_deep_value_in_the_wrong_place_is_shown_without_recursing() -> None:
    value: list[Any] = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(ValidationError, match="nested too deep to show"):
        Leaf.create({"id": "a", "tags": value})


def test_attaching_a_deep_detached_subtree_under_a_deep_node_is_refused() -> None:
    root = Deep.create({})
    root.grow(MOST - 10)
    other = Deep.create({})
    other.grow(20)
    branch = detach(other.kids[0])
    with pytest.raises(TreeError, match="levels deep"):
        _deepest(root).adopt(branch)
    assert branch.kids  # still the detached root it was
    root.adopt(branch)  # near the top there is room


def test_frozen_values_count_their_nesting_where_they_can_be_deep() -> None:
    with pytest.raises(ValidationError, match="levels deep"):
        Loose.create({"data": _nested(MAX_DEPTH)})
    assert get_snapshot(Loose.create({"data": _nested(10)}))["data"] == _nested(10)


def test_types_that_cannot_nest_deeply_are_not_walked() -> None:
    assert static_height(Flat._mst_type) == 4  # Flat, the array, a Leaf, its tags or map
    assert static_height(Deep._mst_type) is None
    assert static_height(Loose._mst_type) is None
