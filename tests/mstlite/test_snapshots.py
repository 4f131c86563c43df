"""Snapshots: immutable, plain-JSON equal, structurally shared; apply_snapshot; on_snapshot."""

from __future__ import annotations

import copy
import json
import pickle
from typing import Any

import pytest

from mstlite import (
    ValidationError,
    apply_snapshot,
    get_snapshot,
    is_alive,
    on_snapshot,
    types,
    unprotect,
)


# --------------------------------------------------------------- immutability
def test_snapshot_mutation_raises_type_error(store: Any) -> None:
    snapshot = get_snapshot(store)
    todos = snapshot["todos"]
    first = todos[0]
    mutations = [
        lambda: snapshot.__setitem__("x", 1),
        lambda: snapshot.__delitem__("todos"),
        lambda: snapshot.update({"x": 1}),
        lambda: snapshot.pop("todos"),
        lambda: snapshot.popitem(),
        lambda: snapshot.setdefault("x", 1),
        lambda: snapshot.clear(),
        lambda: first.__setitem__("title", "x"),
        lambda: todos.append({}),
        lambda: todos.extend([{}]),
        lambda: todos.insert(0, {}),
        lambda: todos.pop(),
        lambda: todos.remove(first),
        lambda: todos.clear(),
        lambda: todos.sort(),
        lambda: todos.reverse(),
        lambda: todos.__setitem__(0, {}),
        lambda: todos.__delitem__(0),
        lambda: first["tags"].append("x"),
    ]
    for mutate in mutations:
        with pytest.raises(TypeError, match="immutable"):
            mutate()
    with pytest.raises(TypeError):
        snapshot |= {"x": 1}
    with pytest.raises(TypeError):
        todos += [1]
    assert get_snapshot(store)["todos"][0]["title"] == "Buy milk"
    assert len(get_snapshot(store)["todos"]) == 3


def test_snapshot_equals_plain_json(store: Any, sample: dict[str, Any]) -> None:
    snapshot = get_snapshot(store)
    expected = {
        "todos": [
            {"id": "a", "title": "Buy milk", "done": False, "tags": ["shop"], "kind": "task"},
            {"id": "b", "title": "Walk dog", "done": True, "tags": [], "kind": "task"},
            {"id": "c", "title": "Write tests", "done": False, "tags": [], "kind": "note"},
        ],
        "by_owner": {"d": {"id": "d", "title": "Ann's", "done": False, "tags": [], "kind": "task"}},
        "selected": "a",
        "favorites": ["b", "c"],
    }
    assert snapshot == expected
    assert expected == snapshot
    assert isinstance(snapshot, dict)
    assert isinstance(snapshot["todos"], list)
    assert snapshot["todos"][1:] == expected["todos"][1:]
    assert json.loads(json.dumps(snapshot)) == expected
    assert json.dumps(snapshot, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert sample["todos"][0] == {"id": "a", "title": "Buy milk", "tags": ["shop"]}  # untouched


def test_snapshot_copy_and_pickle(store: Any) -> None:
    snapshot = get_snapshot(store)
    assert copy.copy(snapshot) is snapshot
    assert copy.deepcopy(snapshot) is snapshot
    assert pickle.loads(pickle.dumps(snapshot)) == snapshot


def test_snapshot_is_a_valid_creation_input(store: Any, Store: Any) -> None:
    snapshot = get_snapshot(store)
    again = Store.create(snapshot)
    assert get_snapshot(again) == snapshot


def test_nested_node_snapshot_is_part_of_parent(store: Any) -> None:
    assert get_snapshot(store.todos[1]) is get_snapshot(store)["todos"][1]
    assert get_snapshot(store.todos) is get_snapshot(store)["todos"]
    assert get_snapshot(store.by_owner) is get_snapshot(store)["by_owner"]


# ---------------------------------------------------------- structural sharing
def test_same_snapshot_without_change(store: Any) -> None:
    assert get_snapshot(store) is get_snapshot(store)
    store.todos[0].label  # reading changes nothing  # noqa: B018
    assert get_snapshot(store) is get_snapshot(store)


def test_unchanged_subtrees_are_shared(store: Any) -> None:
    before = get_snapshot(store)
    store.todos[1].toggle()
    after = get_snapshot(store)
    assert after is not before
    assert after["todos"] is not before["todos"]
    assert after["todos"][1] is not before["todos"][1]
    assert after["todos"][1]["done"] is False
    assert after["todos"][0] is before["todos"][0]
    assert after["todos"][2] is before["todos"][2]
    assert after["todos"][1]["tags"] is before["todos"][1]["tags"]
    assert after["by_owner"] is before["by_owner"]
    assert after["favorites"] is before["favorites"]
    assert before["todos"][1]["done"] is True  # the old snapshot did not change


def test_unchanged_subtrees_shared_after_map_change(store: Any) -> None:
    before = get_snapshot(store)
    store.run(lambda s: s.by_owner.__setitem__("e", {"id": "e"}))
    after = get_snapshot(store)
    assert after["by_owner"]["d"] is before["by_owner"]["d"]
    assert after["todos"] is before["todos"]
    store.run(lambda s: s.by_owner["d"].add_tag("x"))
    third = get_snapshot(store)
    assert third["by_owner"]["e"] is after["by_owner"]["e"]
    assert third["by_owner"]["d"]["tags"] == ["x"]
    assert third["todos"] is before["todos"]


def test_sharing_in_large_array(Store: Any) -> None:
    store = Store.create({"todos": [{"id": str(i)} for i in range(10_000)]})
    before = get_snapshot(store)
    store.todos[5000].toggle()
    after = get_snapshot(store)
    assert after["todos"][5000]["done"] is True
    assert before["todos"][5000]["done"] is False
    assert all(after["todos"][i] is before["todos"][i] for i in range(10_000) if i != 5000)
    assert after["by_owner"] is before["by_owner"]
    store.todos[9999].set_title("last")
    third = get_snapshot(store)
    assert third["todos"][5000] is after["todos"][5000]
    assert third["todos"][9999]["title"] == "last"
    assert sum(third["todos"][i] is after["todos"][i] for i in range(10_000)) == 9_999


def test_sharing_in_large_array_after_splice(Store: Any) -> None:
    store = Store.create({"todos": [{"id": str(i)} for i in range(10_000)]})
    before = get_snapshot(store)
    store.run(lambda s: s.todos.insert(0, {"id": "new"}))
    after = get_snapshot(store)
    assert len(after["todos"]) == 10_001
    assert all(after["todos"][i + 1] is before["todos"][i] for i in range(10_000))
    store.run(lambda s: s.todos.pop(0))
    assert all(get_snapshot(store)["todos"][i] is before["todos"][i] for i in range(10_000))


def test_sharing_in_large_map() -> None:
    Book = types.model("SnapBook", {"id": types.identifier, "n": types.optional(types.integer, 0)})
    Library = types.model("SnapLibrary", {"books": types.map(Book)})
    library = Library.create({"books": {str(i): {"id": str(i)} for i in range(10_000)}})
    unprotect(library)
    before = get_snapshot(library)
    library.books["123"].n = 5
    after = get_snapshot(library)
    assert after["books"]["123"]["n"] == 5
    assert all(after["books"][k] is before["books"][k] for k in before["books"] if k != "123")
    library.books["new"] = {"id": "new"}
    third = get_snapshot(library)
    assert all(third["books"][k] is after["books"][k] for k in after["books"])


def test_snapshot_cost_after_one_change_is_small(Store: Any) -> None:
    store = Store.create({"todos": [{"id": str(i), "tags": ["x"]} for i in range(10_000)]})
    get_snapshot(store)
    store.todos[10].toggle()
    snapshot = get_snapshot(store)
    # every other todo snapshot is reused: nothing below them was rebuilt
    assert snapshot["todos"][11]["tags"] is get_snapshot(store.todos[11].tags)


def test_sharing_survives_set_to_equal_value(store: Any) -> None:
    before = get_snapshot(store)
    store.todos[0].set_title("Buy milk")
    assert get_snapshot(store) is before


# ------------------------------------------------------------- apply_snapshot
def test_apply_snapshot_reconciles_by_identifier(store: Any, Todo: Any) -> None:
    a, b, c = store.todos
    snapshot = get_snapshot(store)
    apply_snapshot(
        store.todos,
        [
            {"id": "c", "title": "C"},
            {"id": "a", "title": "Buy milk", "tags": ["shop"]},
            {"id": "new"},
        ],
    )
    assert store.todos[0] is c
    assert store.todos[1] is a
    assert c.title == "C"
    assert isinstance(store.todos[2], Todo)
    assert not is_alive(b)
    assert is_alive(a)
    assert is_alive(c)
    # a did not change, so its snapshot is shared
    assert get_snapshot(store)["todos"][1] is snapshot["todos"][0]


def test_apply_snapshot_on_root(store: Any) -> None:
    a = store.todos[0]
    d = store.by_owner["d"]
    apply_snapshot(
        store,
        {"todos": [{"id": "a", "title": "A"}], "by_owner": {"d": {"id": "d"}}, "selected": "a"},
    )
    assert store.todos[0] is a
    assert store.by_owner["d"] is d
    assert a.title == "A"
    assert d.title == ""
    assert store.selected is a
    assert get_snapshot(store) == {
        "todos": [{"id": "a", "title": "A", "done": False, "tags": [], "kind": "task"}],
        "by_owner": {"d": {"id": "d", "title": "", "done": False, "tags": [], "kind": "task"}},
        "selected": "a",
        "favorites": [],
    }


def test_apply_snapshot_same_snapshot_is_noop(store: Any) -> None:
    before = get_snapshot(store)
    calls: list[Any] = []
    on_snapshot(store, calls.append)
    apply_snapshot(store, before)
    apply_snapshot(store, json.loads(json.dumps(before)))
    assert get_snapshot(store) is before
    assert calls == []


def test_invalid_apply_snapshot_changes_nothing(store: Any) -> None:
    before = get_snapshot(store)
    nodes = list(store.todos)
    calls: list[Any] = []
    on_snapshot(store, calls.append)
    with pytest.raises(ValidationError) as info:
        apply_snapshot(store, {"todos": [{"id": "a"}, {"id": 2}], "selected": 3})
    assert [e["path"] for e in info.value.errors] == ["/todos/1/id", "/selected"]
    with pytest.raises(ValidationError) as info:
        apply_snapshot(store.todos, [{"id": "a", "done": "yes"}])
    assert info.value.errors[0]["path"] == "/todos/0/done"
    assert get_snapshot(store) is before
    assert list(store.todos) == nodes
    assert all(is_alive(n) for n in nodes)
    assert calls == []


def test_apply_snapshot_failing_midway_changes_nothing(store: Any) -> None:
    before = get_snapshot(store)
    nodes = list(store.todos)
    from mstlite import TreeError

    with pytest.raises(TreeError):  # valid shape, but a duplicated identifier
        apply_snapshot(store.todos, [{"id": "x"}, {"id": "x"}])
    assert get_snapshot(store) is before
    assert list(store.todos) == nodes
    assert all(is_alive(n) for n in nodes)


# ----------------------------------------------------------------- on_snapshot
def test_on_snapshot_fires_once_per_commit(store: Any) -> None:
    seen: list[Any] = []
    dispose = on_snapshot(store, seen.append)

    def many(s: Any) -> None:
        s.todos[0].toggle()
        s.todos[1].set_title("x")
        s.todos.append({"id": "z"})
        s.by_owner.clear()

    store.run(many)
    assert len(seen) == 1
    assert seen[0] is get_snapshot(store)
    store.todos[0].toggle()
    assert len(seen) == 2
    assert seen[1]["todos"][0]["done"] is False
    store.todos[0].set_title(store.todos[0].title)  # no change, no call
    assert len(seen) == 2
    dispose()
    store.todos[0].toggle()
    assert len(seen) == 2


def test_on_snapshot_on_subtree(store: Any) -> None:
    seen: list[Any] = []
    on_snapshot(store.todos[0], seen.append)
    store.todos[1].toggle()
    assert seen == []
    store.todos[0].toggle()
    assert seen == [get_snapshot(store.todos[0])]
    assert seen[0]["done"] is True


def test_on_snapshot_unprotected_write_is_a_commit(store: Any) -> None:
    seen: list[Any] = []
    on_snapshot(store, seen.append)
    unprotect(store)
    store.todos[0].title = "x"
    store.todos[0].done = True
    assert len(seen) == 2
    assert seen[0]["todos"][0]["done"] is False
    assert seen[1]["todos"][0]["done"] is True


def test_on_snapshot_listener_error_does_not_break_commit(store: Any) -> None:
    seen: list[Any] = []

    def bad(snapshot: Any) -> None:
        raise RuntimeError("listener")

    from mstlite._engine.runtime import current_runtime

    errors: list[BaseException] = []
    old = current_runtime().on_error
    current_runtime().on_error = errors.append
    try:
        on_snapshot(store, bad)
        on_snapshot(store, seen.append)
        store.todos[0].toggle()
    finally:
        current_runtime().on_error = old
    assert len(seen) == 1
    assert store.todos[0].done is True
    assert [str(e) for e in errors] == ["listener"]
