"""Arrays of models without an identifier reconcile as MST's reconcileArrayChildren does.

An item keeps its node when it is given the node's own snapshot object (what
``get_snapshot`` returned); any other snapshot, even an equal one, builds a
new node, and a changed array is one ``replace`` of it (issue 16 item 12).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstlite import (
    Identifier,
    Model,
    ValidationError,
    action,
    apply_snapshot,
    get_snapshot,
    is_alive,
    on_patch,
)


class Pair(Model):
    a: str = ""


class Tagged(Model):
    id: Identifier
    a: str = ""


class Holder(Model):
    kids: list[Pair] = []


class Store(Model):
    items: list[Pair] = []
    tagged: list[Tagged] = []
    holders: list[Holder] = []

    @action
    def push(self, value: Any) -> None:
        self.items.append(value)

    @action
    def assign(self, values: list[Any]) -> None:
        self.items = values  # type: ignore[assignment]  # snapshots


def _listen(store: Store) -> list[Any]:
    patches: list[Any] = []
    on_patch(store, lambda patch, inverse: patches.append(patch))
    return patches


def test_an_equal_snapshot_object_keeps_every_node_and_emits_nothing() -> None:
    store = Store.create({"items": [{"a": "x"}, {"a": "y"}]})
    nodes = list(store.items)
    patches = _listen(store)
    apply_snapshot(store, get_snapshot(store))
    apply_snapshot(store.items, get_snapshot(store.items))
    store.assign(list(get_snapshot(store)["items"]))
    assert patches == []
    assert list(store.items) == nodes and all(is_alive(node) for node in nodes)


def test_one_changed_item_replaces_the_array_and_keeps_the_other_nodes() -> None:
    store = Store.create({"items": [{"a": str(i)} for i in range(5)]})
    nodes = list(store.items)
    items = list(get_snapshot(store)["items"])
    items[2] = {"a": "new"}
    patches = _listen(store)
    apply_snapshot(store, {"items": items})
    assert patches == [{"op": "replace", "path": "/items", "value": items}]
    assert [store.items[i] is nodes[i] for i in range(5)] == [True, True, False, True, True]
    assert not is_alive(nodes[2])


def test_an_equal_but_new_snapshot_rebuilds_as_in_mst() -> None:
    store = Store.create({"items": [{"a": "x"}]})
    first = store.items[0]
    patches = _listen(store)
    apply_snapshot(store, json.loads(json.dumps(get_snapshot(store))))
    assert patches == [{"op": "replace", "path": "/items", "value": [{"a": "x"}]}]
    assert store.items[0] is not first and not is_alive(first)


def test_a_moved_own_snapshot_moves_its_node() -> None:
    store = Store.create({"items": [{"a": "x"}, {"a": "y"}]})
    x, y = store.items
    snapshot = get_snapshot(store)["items"]
    apply_snapshot(store.items, [snapshot[1], snapshot[0], {"a": "z"}])
    assert store.items[0] is y and store.items[1] is x
    assert get_snapshot(store)["items"] == [{"a": "y"}, {"a": "x"}, {"a": "z"}]


def test_identified_items_still_reconcile_in_place_with_fine_grained_patches() -> None:
    store = Store.create({"tagged": [{"id": "a"}, {"id": "b"}]})
    a = store.tagged[0]
    patches = _listen(store)
    apply_snapshot(store, {"tagged": [{"id": "a", "a": "q"}, {"id": "b"}]})
    assert patches == [{"op": "replace", "path": "/tagged/0/a", "value": "q"}]
    assert store.tagged[0] is a


def test_a_node_built_from_another_nodes_snapshot_gets_its_own_snapshot_objects() -> None:
    """No two nodes share a snapshot object, so identity picks the one MST picks."""
    store = Store.create({"items": [{"a": "x"}], "holders": [{"kids": [{"a": "k"}]}]})
    store.push(get_snapshot(store.items[0]))
    assert get_snapshot(store.items[1]) == get_snapshot(store.items[0])
    assert get_snapshot(store.items[1]) is not get_snapshot(store.items[0])
    copy = Store.create(get_snapshot(store))
    mine, theirs = get_snapshot(copy), get_snapshot(store)
    assert mine == theirs
    assert mine["holders"][0]["kids"][0] is not theirs["holders"][0]["kids"][0]
    # Given the first node's snapshot twice: it keeps its node once, the other is new.
    first = store.items[0]
    own = get_snapshot(first)
    apply_snapshot(store.items, [own, own])
    assert store.items[0] is first and store.items[1] is not first
    assert get_snapshot(store.items[1]) is not get_snapshot(store.items[0])


def test_errors_in_a_partly_known_array_name_their_place_in_the_whole_array() -> None:
    store = Store.create({"items": [{"a": "x"}, {"a": "y"}]})
    snapshot = get_snapshot(store)["items"]
    with pytest.raises(ValidationError) as caught:
        apply_snapshot(store, {"items": [snapshot[0], snapshot[1], {"a": 3}]})
    assert [e["path"] for e in caught.value.errors] == ["/items/2/a"]
    assert get_snapshot(store)["items"] is snapshot  # nothing changed


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(max_size=2), max_size=5),
    st.lists(st.one_of(st.integers(0, 6), st.text(max_size=2)), max_size=6),
)
def test_reconciling_any_mix_keeps_exactly_the_nodes_given_their_own_snapshot(
    initial: list[str], spec: list[int | str]
) -> None:
    """An int in ``spec`` is an item's own snapshot (by position), a str a new snapshot."""
    store = Store.create({"items": [{"a": a} for a in initial]})
    nodes = list(store.items)
    snaps = [get_snapshot(node) for node in nodes]
    values = [
        snaps[entry] if isinstance(entry, int) and entry < len(snaps) else {"a": str(entry)}
        for entry in spec
    ]
    apply_snapshot(store.items, values)
    assert get_snapshot(store)["items"] == values
    used: set[int] = set()
    for node, value in zip(store.items, values, strict=True):
        keeper = next((i for i, s in enumerate(snaps) if s is value and i not in used), None)
        if keeper is None:
            assert all(node is not old for old in nodes)
        else:
            used.add(keeper)
            assert node is nodes[keeper]
    survivors = {id(node) for node in store.items}
    assert all(is_alive(node) == (id(node) in survivors) for node in nodes)
    own = [get_snapshot(node) for node in store.items]
    assert len({id(s) for s in own}) == len(own)  # no two nodes share a snapshot object


class Slots(Model):
    items: list[Pair] = []
    tagged: list[Tagged] = []
    pair: Pair | None = None
    pairs: dict[str, Pair] = {}

    @action
    def put(self, name: str, key: Any, value: Any) -> None:
        container: Any = getattr(self, name)
        container[key] = value

    @action
    def set_pair(self, value: Any) -> None:
        self.pair = value


def test_item_assignment_rebuilds_an_unidentified_item_unless_given_its_own_snapshot() -> None:
    """``items[i] = snapshot`` follows MST's reconcileArrayChildren, as a splice does."""
    store = Slots.create({"items": [{"a": "x"}, {"a": "y"}]})
    x, y = store.items
    patches: list[Any] = []
    on_patch(store, lambda patch, inverse: patches.append((patch, inverse)))
    store.put("items", 0, {"a": "z"})
    store.put("items", 1, {"a": "y"})  # equal, but not y's own snapshot object
    assert patches == [
        (
            {"op": "replace", "path": "/items/0", "value": {"a": "z"}},
            {"op": "replace", "path": "/items/0", "value": {"a": "x"}},
        ),
        (
            {"op": "replace", "path": "/items/1", "value": {"a": "y"}},
            {"op": "replace", "path": "/items/1", "value": {"a": "y"}},
        ),
    ]
    assert not is_alive(x) and not is_alive(y)
    kept = store.items[0]
    patches.clear()
    store.put("items", 0, get_snapshot(kept))
    store.put("items", 0, kept)
    assert patches == [] and store.items[0] is kept


def test_item_assignment_reconciles_identified_items_and_other_slots_in_place() -> None:
    """An identified array item, a model property and a map value keep their node."""
    store = Slots.create(
        {"tagged": [{"id": "a"}], "pair": {"a": "x"}, "pairs": {"k": {"a": "x"}}}
    )
    tagged, pair, valued = store.tagged[0], store.pair, store.pairs["k"]
    patches: list[Any] = []
    on_patch(store, lambda patch, inverse: patches.append(patch))
    store.put("tagged", 0, {"id": "a", "a": "q"})
    store.set_pair({"a": "y"})
    store.put("pairs", "k", {"a": "w"})
    assert store.tagged[0] is tagged and store.pair is pair and store.pairs["k"] is valued
    assert patches == [
        {"op": "replace", "path": "/tagged/0/a", "value": "q"},
        {"op": "replace", "path": "/pair/a", "value": "y"},
        {"op": "replace", "path": "/pairs/k/a", "value": "w"},
    ]
