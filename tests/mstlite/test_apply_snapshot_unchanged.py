"""apply_snapshot skips the array items a snapshot gives back as the tree holds them.

An item of an array of identified models equal, in exact form, to its node's
current snapshot is neither validated nor reconciled again; everything else
goes the general way. Each test checks that the result (patches, snapshot,
kept nodes, errors) is the general way's: the ``Opaque`` dict subclass turns
the shortcut off (only plain dicts are compared), so the two can be run side
by side on the same data.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstlite import (
    Frozen,
    Identifier,
    Model,
    ValidationError,
    apply_snapshot,
    get_snapshot,
    is_alive,
    on_patch,
    refine,
)

CHECKED: Counter[str] = Counter()  # how often each refinement predicate ran


def _counted(kind: str) -> Any:
    def predicate(value: str) -> bool:
        CHECKED[kind] += 1
        return not value.startswith("!")

    return refine(predicate, "must not start with '!'")


class Meta(Model):
    priority: int = 0
    weight: float = 0.0
    note: str | None = None


class Step(Model):
    id: Identifier
    text: Annotated[str, _counted("step")] = ""


class Pair(Model):
    a: str = ""


class Item(Model):
    id: Identifier
    title: Annotated[str, _counted("item")] = ""
    done: bool = False
    tags: list[str] = []
    meta: Meta = {}  # type: ignore[assignment]  # a snapshot default
    steps: list[Step] = []
    pairs: list[Pair] = []
    extra: Frozen[Any] = None


class Lane(Model):
    items: list[Item] = []


class Board(Model):
    items: list[Item] = []
    lanes: dict[str, Lane] = {}


class Opaque(dict[str, Any]):
    """A dict the shortcut does not compare (it takes plain dicts only)."""


def _opaque(value: Any) -> Any:
    if isinstance(value, dict):
        return Opaque({key: _opaque(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_opaque(item) for item in value]
    return value


def _item(index: int, **fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"i{index}",
        "title": f"title {index}",
        "done": index % 2 == 0,
        "tags": ["a", "b"][: index % 3],
        "meta": {"priority": index % 4, "weight": float(index), "note": None},
        "steps": [{"id": f"s{index}-{n}", "text": f"step {n}"} for n in range(index % 3)],
        "pairs": [],
        "extra": None,
    }
    item.update(fields)
    return item


def _initial(count: int = 20) -> dict[str, Any]:
    return {
        "items": [_item(n) for n in range(count)],
        "lanes": {"left": {"items": [_item(100 + n) for n in range(3)]}},
    }


def _plain(snapshot: Any) -> Any:
    return json.loads(json.dumps(snapshot))


def _apply(initial: dict[str, Any], snapshot: Any) -> dict[str, Any]:
    """Apply ``snapshot`` to a new board made from ``initial``; what an observer sees."""
    board = Board.create(initial)
    nodes = {item.id: item for item in board.items}
    before = get_snapshot(board)
    patches: list[Any] = []
    on_patch(board, lambda patch, inverse: patches.append((patch, inverse)))
    error = None
    try:
        apply_snapshot(board, snapshot)
    except ValidationError as caught:
        error = str(caught)
    after = get_snapshot(board)
    return {
        "error": error,
        "patches": _plain(patches),
        "snapshot": _plain(after),
        "unchanged": after == before,
        "kept": sorted(i for i, node in nodes.items() if is_alive(node) and node in board.items),
        "types": [[type(v).__name__ for v in item["meta"].values()] for item in after["items"]],
    }


def _both(initial: dict[str, Any], snapshot: Any) -> dict[str, Any]:
    """The result with the shortcut, checked against the general way's."""
    shared = _apply(initial, snapshot)
    assert shared == _apply(initial, _opaque(snapshot))
    return shared


def test_equal_items_keep_nodes_and_snapshot_objects_and_emit_nothing() -> None:
    initial = _initial()
    board = Board.create(initial)
    before = get_snapshot(board)
    nodes = list(board.items)
    patches: list[Any] = []
    on_patch(board, lambda patch, inverse: patches.append(patch))
    edited = _plain(initial)
    edited["items"][3]["title"] = "changed"
    apply_snapshot(board, edited)
    assert patches == [{"op": "replace", "path": "/items/3/title", "value": "changed"}]
    assert list(board.items) == nodes and all(
        a is b for a, b in zip(board.items, nodes, strict=True)
    )
    after = get_snapshot(board)
    assert after == edited
    assert all(after["items"][n] is before["items"][n] for n in range(20) if n != 3)


def test_only_changed_items_are_validated_again() -> None:
    initial = _initial()
    board = Board.create(initial)
    edited = _plain(initial)
    edited["items"][4]["title"] = "changed"
    edited["items"][7]["steps"][0]["text"] = "changed step"
    CHECKED.clear()
    apply_snapshot(board, edited)
    # Items 4 and 7 are validated, and of their steps only the changed one: the
    # unchanged step of item 4 is shared inside it.
    assert len(edited["items"][4]["steps"]) == 1
    assert Counter(item=2, step=1) == CHECKED
    assert get_snapshot(board) == edited


def test_a_changed_item_inside_a_map_shares_its_equal_neighbours() -> None:
    initial = _initial()
    board = Board.create(initial)
    lane_items = list(board.lanes["left"].items)
    edited = _plain(initial)
    edited["lanes"]["left"]["items"][1]["done"] = not edited["lanes"]["left"]["items"][1]["done"]
    CHECKED.clear()
    apply_snapshot(board, edited)
    assert CHECKED["item"] == 1  # the changed one only, of the 23 items
    assert all(a is b for a, b in zip(board.lanes["left"].items, lane_items, strict=True))
    assert get_snapshot(board) == edited


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("done", 1, "valid boolean"),  # 1 == True, but a bool property rejects ints
        ("title", "!" + "x", "must not start"),
    ],
)
def test_a_bad_value_is_rejected_whole_even_beside_equal_items(
    field: str, value: Any, message: str
) -> None:
    initial = _initial()
    edited = _plain(initial)
    if field == "done":  # equal to the current value, in another type
        edited["items"][2]["done"] = 1 if initial["items"][2]["done"] else 0
    else:
        edited["items"][2][field] = value
    edited["items"][5]["title"] = "a valid change"
    result = _both(initial, edited)
    assert result["error"] is not None and message in result["error"]
    assert f"/items/2/{field}" in result["error"]
    assert result["unchanged"] and result["patches"] == []


def test_int_priority_given_as_true_is_rejected() -> None:
    initial = _initial()
    edited = _plain(initial)
    edited["items"][1]["meta"]["priority"] = True  # == 1, the current priority
    result = _both(initial, edited)
    assert result["error"] is not None and "/items/1/meta/priority" in result["error"]


def test_an_int_for_a_float_equal_to_it_changes_nothing() -> None:
    initial = _initial()
    edited = _plain(initial)
    for item in edited["items"]:
        item["meta"]["weight"] = int(item["meta"]["weight"])  # what JSON.stringify sends
    result = _both(initial, edited)
    assert result["error"] is None and result["patches"] == []
    assert len(result["kept"]) == 20
    assert {name for types in result["types"] for name in types} == {"int", "float", "NoneType"}
    assert all(types[1] == "float" for types in result["types"])


def test_an_equal_new_frozen_value_is_still_a_replace_as_in_mst() -> None:
    initial = _initial()
    initial["items"][6]["extra"] = {"k": [1, 2]}
    edited = _plain(initial)
    result = _both(initial, edited)
    replaced = [patch for patch, _ in result["patches"]]
    assert replaced == [{"op": "replace", "path": "/items/6/extra", "value": {"k": [1, 2]}}]


def test_equal_unidentified_items_inside_an_item_are_rebuilt_as_in_mst() -> None:
    initial = _initial()
    initial["items"][5]["pairs"] = [{"a": "x"}]
    board = Board.create(initial)
    pair = board.items[5].pairs[0]
    result = _both(initial, _plain(initial))
    assert [patch for patch, _ in result["patches"]] == [
        {"op": "replace", "path": "/items/5/pairs", "value": [{"a": "x"}]}
    ]
    apply_snapshot(board, _plain(initial))
    assert not is_alive(pair)  # MST reconciles those only given their own snapshot object
    assert get_snapshot(board) == initial


def test_a_str_subclass_goes_the_general_way() -> None:
    class Text(str):
        pass

    initial = _initial()
    edited = _plain(initial)
    edited["items"][8]["title"] = Text(edited["items"][8]["title"])
    edited["items"][8]["tags"] = [Text(tag) for tag in edited["items"][8]["tags"]]
    result = _both(initial, edited)
    assert result["error"] is None and len(result["kept"]) == 20


def test_the_callers_snapshot_is_not_changed() -> None:
    initial = _initial()
    board = Board.create(initial)
    edited = _plain(initial)
    edited["items"][0]["title"] = "changed"
    given = copy.deepcopy(edited)
    apply_snapshot(board, edited)
    assert edited == given
    assert all(type(item) is dict for item in edited["items"])


_MUTATIONS = st.sampled_from(
    [
        "title",
        "done_as_int",
        "weight_as_int",
        "priority_as_bool",
        "tag",
        "step",
        "frozen",
        "pair",
        "drop",
        "swap",
        "new",
        "twin",
        "unknown_key",
    ]
)


def _mutate(snapshot: dict[str, Any], kind: str, index: int) -> None:
    items = snapshot["items"]
    item = items[index % len(items)]
    if kind == "title":
        item["title"] += "!" if index % 7 == 0 else " again"
    elif kind == "done_as_int":
        item["done"] = int(item["done"])
    elif kind == "weight_as_int":
        item["meta"]["weight"] = int(item["meta"]["weight"])
    elif kind == "priority_as_bool":
        item["meta"]["priority"] = bool(item["meta"]["priority"] % 2)
    elif kind == "tag":
        item["tags"] = [*item["tags"], "c"]
    elif kind == "step":
        item["steps"] = [*item["steps"], {"id": f"new-{index}", "text": "s"}]
    elif kind == "pair":
        item["pairs"] = [{"a": "y"}]
    elif kind == "frozen":
        item["extra"] = {"n": index % 3}
    elif kind == "drop" and len(items) > 1:
        del items[index % len(items)]
    elif kind == "swap" and len(items) > 1:
        first, second = index % len(items), (index + 1) % len(items)
        items[first], items[second] = items[second], items[first]
    elif kind == "new":
        items.insert(index % (len(items) + 1), _item(1000 + index))
    elif kind == "twin" and len(items) > 1:  # a second item with another's identifier
        items[index % len(items)] = {**items[(index + 1) % len(items)], "steps": []}
    elif kind == "unknown_key":
        item["surprise"] = 1


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(1, 12),
    frozen=st.lists(st.integers(0, 11), max_size=3),
    paired=st.lists(st.integers(0, 11), max_size=2),
    edits=st.lists(st.tuples(_MUTATIONS, st.integers(0, 50)), max_size=5),
)
def test_the_shortcut_gives_what_the_general_way_gives(
    count: int, frozen: list[int], paired: list[int], edits: list[tuple[str, int]]
) -> None:
    initial = _initial(count)
    for index in frozen:
        initial["items"][index % count]["extra"] = {"n": index % 3}
    for index in paired:
        initial["items"][index % count]["pairs"] = [{"a": "x"}]
    edited = _plain(initial)
    for kind, index in edits:
        _mutate(edited, kind, index)
    _both(initial, edited)


@pytest.mark.parametrize("before", [True, False])
def test_a_changed_item_with_a_kept_items_identifier_clashes_as_the_general_way(
    before: bool,
) -> None:
    initial = _initial(6)
    edited = _plain(initial)
    twin = _item(4, title="a second i4", steps=[])  # item 4 stays as it is, in place
    edited["items"][1 if before else 5] = twin
    result = _both(initial, edited)
    assert result["error"] is not None and "'i4'" in result["error"]
    assert result["unchanged"]
