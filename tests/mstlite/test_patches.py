"""The patch stream matches MobX-State-Tree's; apply_patch; record_patches.

The reference cases were recorded from the real MST on a store whose props
are ``arr: number[]``, ``todos: Todo[]`` (Todo: ``id`` identifier, ``title``
""), ``m: map<number>`` and ``t: maybe(Todo)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import mstlite.patch
from mstlite import (
    Identifier,
    Model,
    MstError,
    PatchError,
    PatchRecorder,
    ValidationError,
    action,
    apply_patch,
    apply_snapshot,
    clone,
    detach,
    get_snapshot,
    is_alive,
    on_patch,
    on_snapshot,
    record_patches,
    resolve_identifier,
    unprotect,
)


class PTodo(Model):
    id: Identifier
    title: str = ""


class PStore(Model):
    arr: list[int] = []
    todos: list[PTodo] = []
    m: dict[str, int] = {}
    t: PTodo | None = None

    @action
    def run(self, fn: Callable[[PStore], Any]) -> Any:
        return fn(self)


def add(path: str, value: Any) -> dict[str, Any]:
    return {"op": "add", "path": path, "value": value}


def remove(path: str) -> dict[str, Any]:
    return {"op": "remove", "path": path}


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def setitem(name: str, key: Any, value: Any) -> Callable[[PStore], None]:
    return lambda s: getattr(s, name).__setitem__(key, value)


def assign(name: str, value: Any) -> Callable[[PStore], None]:
    return lambda s: setattr(s, name, value)


def delitem(name: str, key: Any) -> Callable[[PStore], None]:
    return lambda s: getattr(s, name).__delitem__(key)


# (id, initial snapshot, operation, expected [[patch, inverse], ...])
MST_CASES: list[tuple[str, dict[str, Any], Callable[[PStore], Any], list[list[Any]]]] = [
    (
        "append-to-empty",
        {},
        lambda s: s.arr.append(1),
        [[add("/arr/0", 1), remove("/arr/0")]],
    ),
    (
        "append",
        {"arr": [1]},
        lambda s: s.arr.append(2),
        [[add("/arr/1", 2), remove("/arr/1")]],
    ),
    (
        "extend-empty",
        {},
        lambda s: s.arr.extend([1, 2]),
        [[add("/arr/0", 1), remove("/arr/0")], [add("/arr/1", 2), remove("/arr/1")]],
    ),
    (
        "clear",
        {"arr": [1, 2]},
        lambda s: s.arr.clear(),
        [[replace("/arr", []), replace("/arr", [1, 2])]],
    ),
    (
        "replace-all",
        {"arr": [1, 2]},
        setitem("arr", slice(None), [3, 4, 5]),
        [[replace("/arr", [3, 4, 5]), replace("/arr", [1, 2])]],
    ),
    (
        "pop-only-item",
        {"arr": [1]},
        lambda s: s.arr.pop(),
        [[replace("/arr", []), replace("/arr", [1])]],
    ),
    (
        "pop",
        {"arr": [1, 2]},
        lambda s: s.arr.pop(),
        [[remove("/arr/1"), add("/arr/1", 2)]],
    ),
    (
        "splice-middle",
        {"arr": [1, 2, 3, 4]},
        setitem("arr", slice(1, 3), [7, 8, 9]),
        [
            [remove("/arr/2"), add("/arr/2", 3)],
            [remove("/arr/1"), add("/arr/1", 2)],
            [add("/arr/1", 7), remove("/arr/1")],
            [add("/arr/2", 8), remove("/arr/2")],
            [add("/arr/3", 9), remove("/arr/3")],
        ],
    ),
    (
        "splice-everything",
        {"arr": [1, 2]},
        setitem("arr", slice(0, 2), [7]),
        [[replace("/arr", [7]), replace("/arr", [1, 2])]],
    ),
    (
        "splice-head",
        {"arr": [1, 2, 3]},
        setitem("arr", slice(0, 2), [7]),
        [
            [remove("/arr/1"), add("/arr/1", 2)],
            [remove("/arr/0"), add("/arr/0", 1)],
            [add("/arr/0", 7), remove("/arr/0")],
        ],
    ),
    (
        "set-index",
        {"arr": [1, 2]},
        setitem("arr", 0, 5),
        [[replace("/arr/0", 5), replace("/arr/0", 1)]],
    ),
    ("set-index-same", {"arr": [1, 2]}, setitem("arr", 0, 1), []),
    (
        "map-add",
        {},
        setitem("m", "a", 1),
        [[add("/m/a", 1), remove("/m/a")]],
    ),
    ("map-set-same", {"m": {"a": 1}}, setitem("m", "a", 1), []),
    (
        "map-replace",
        {"m": {"a": 1}},
        setitem("m", "a", 2),
        [[replace("/m/a", 2), replace("/m/a", 1)]],
    ),
    (
        "map-delete",
        {"m": {"a": 1}},
        delitem("m", "a"),
        [[remove("/m/a"), add("/m/a", 1)]],
    ),
    (
        "map-clear",
        {"m": {"a": 1, "b": 2}},
        lambda s: s.m.clear(),
        [[remove("/m/a"), add("/m/a", 1)], [remove("/m/b"), add("/m/b", 2)]],
    ),
    (
        "apply-snapshot-reorder",
        {"todos": [{"id": "a", "title": "x"}, {"id": "b"}]},
        lambda s: apply_snapshot(s.todos, [{"id": "b", "title": "q"}, {"id": "a", "title": "x"}]),
        [
            [replace("/todos/1/title", "q"), replace("/todos/1/title", "")],
            [
                replace("/todos", [{"id": "b", "title": "q"}, {"id": "a", "title": "x"}]),
                replace("/todos", [{"id": "a", "title": "x"}, {"id": "b", "title": "q"}]),
            ],
        ],
    ),
    (
        "maybe-same-identifier",
        {"t": {"id": "a", "title": "x"}},
        assign("t", {"id": "a", "title": "y"}),
        [[replace("/t/title", "y"), replace("/t/title", "x")]],
    ),
    (
        "maybe-other-identifier",
        {"t": {"id": "a", "title": "x"}},
        assign("t", {"id": "b", "title": "y"}),
        [[replace("/t", {"id": "b", "title": "y"}), replace("/t", {"id": "a", "title": "x"})]],
    ),
    (
        "assign-array",
        {"arr": [1]},
        assign("arr", [2, 3]),
        [[replace("/arr", [2, 3]), replace("/arr", [1])]],
    ),
    (
        "apply-snapshot-root",
        {"arr": [1], "m": {"a": 1}},
        lambda s: apply_snapshot(s, {"arr": [1, 2], "m": {"b": 1}}),
        [
            [replace("/arr", [1, 2]), replace("/arr", [1])],
            [remove("/m/a"), add("/m/a", 1)],
            [add("/m/b", 1), remove("/m/b")],
        ],
    ),
]


def _patches_of(store: PStore, operation: Callable[[PStore], Any]) -> list[list[Any]]:
    seen: list[list[Any]] = []
    dispose = on_patch(store, lambda patch, inverse: seen.append([patch, inverse]))
    store.run(operation)
    dispose()
    return seen


@pytest.mark.parametrize(
    ("initial", "operation", "expected"),
    [pytest.param(i, o, e, id=name) for name, i, o, e in MST_CASES],
)
def test_patch_stream_matches_mst(
    initial: dict[str, Any], operation: Callable[[PStore], Any], expected: list[list[Any]]
) -> None:
    store = PStore.create(initial)
    first = get_snapshot(store)
    seen = _patches_of(store, operation)
    assert seen == expected
    # the patches are plain JSON, and replaying them reproduces the change
    assert json.loads(json.dumps(seen)) == expected
    copy = PStore.create(first)
    apply_patch(copy, [patch for patch, _ in seen])
    assert get_snapshot(copy) == get_snapshot(store)
    apply_patch(copy, [inverse for _, inverse in reversed(seen)])
    assert get_snapshot(copy) == first


def test_patch_values_are_snapshots() -> None:
    store = PStore.create()
    seen = _patches_of(store, lambda s: s.todos.append({"id": "a"}))
    assert seen == [[add("/todos/0", {"id": "a", "title": ""}), remove("/todos/0")]]
    value = seen[0][0]["value"]
    assert value is get_snapshot(store.todos[0])
    with pytest.raises(TypeError):
        value["title"] = "x"


def test_patch_set_property() -> None:
    store = PStore.create({"t": {"id": "a"}})
    seen = _patches_of(store, lambda s: setattr(s.t, "title", "new"))
    assert seen == [[replace("/t/title", "new"), replace("/t/title", "")]]
    seen = _patches_of(store, lambda s: setattr(s, "t", None))
    assert seen == [[replace("/t", None), replace("/t", {"id": "a", "title": "new"})]]
    seen = _patches_of(store, lambda s: setattr(s, "t", {"id": "z"}))
    assert seen == [[replace("/t", {"id": "z", "title": ""}), replace("/t", None)]]


def test_patch_nested_array_remove_and_add_nodes() -> None:
    store = PStore.create({"todos": [{"id": "a"}, {"id": "b"}, {"id": "c"}]})
    seen = _patches_of(store, lambda s: s.todos.pop(1))
    assert seen == [[remove("/todos/1"), add("/todos/1", {"id": "b", "title": ""})]]
    seen = _patches_of(store, lambda s: s.todos.insert(0, {"id": "z"}))
    assert seen == [[add("/todos/0", {"id": "z", "title": ""}), remove("/todos/0")]]


def test_patch_paths_are_escaped() -> None:
    store = PStore.create()
    seen = _patches_of(store, setitem("m", "a/b~c", 1))
    assert seen == [[add("/m/a~1b~0c", 1), remove("/m/a~1b~0c")]]
    copy = PStore.create()
    apply_patch(copy, seen[0][0])
    assert copy.m == {"a/b~c": 1}
    # Listeners on two nodes above the write (grouped delivery): each hears the key
    # escaped once, under its own path.
    heard: list[str] = []
    on_patch(store, lambda patch, _inverse: heard.append("root " + patch["path"]))
    on_patch(store.m, lambda patch, _inverse: heard.append("map " + patch["path"]))
    store.run(setitem("m", "x~/y", 2))
    assert sorted(heard) == ["map /x~0~1y", "root /m/x~0~1y"]


def test_patch_paths_relative_to_listener() -> None:
    store = PStore.create({"todos": [{"id": "a"}]})
    on_todos: list[Any] = []
    on_todo: list[Any] = []
    on_patch(store.todos, lambda p, inv: on_todos.append(p))
    on_patch(store.todos[0], lambda p, inv: on_todo.append(p))
    store.run(lambda s: setattr(s.todos[0], "title", "x"))
    store.run(lambda s: s.todos.append({"id": "b"}))
    store.run(lambda s: s.arr.append(1))
    assert on_todos == [replace("/0/title", "x"), add("/1", {"id": "b", "title": ""})]
    assert on_todo == [replace("/title", "x")]


def test_patch_listener_on_array_sees_whole_replace_at_its_root() -> None:
    store = PStore.create({"arr": [1, 2]})
    seen: list[Any] = []
    on_patch(store.arr, lambda p, inv: seen.append([p, inv]))
    store.run(lambda s: s.arr.clear())
    assert seen == [[replace("", []), replace("", [1, 2])]]


def test_on_patch_disposer_and_order() -> None:
    store = PStore.create()
    calls: list[str] = []
    dispose_a = on_patch(store, lambda p, inv: calls.append("a" + p["path"]))
    on_patch(store, lambda p, inv: calls.append("b" + p["path"]))
    store.run(lambda s: (s.arr.append(1), s.m.__setitem__("k", 1)))
    assert calls == ["a/arr/0", "b/arr/0", "a/m/k", "b/m/k"]
    dispose_a()
    dispose_a()  # disposing twice is harmless
    calls.clear()
    store.run(lambda s: s.arr.append(2))
    assert calls == ["b/arr/1"]


def test_patches_of_detached_node_go_to_its_new_tree() -> None:
    store = PStore.create({"t": {"id": "a"}})
    root_patches: list[Any] = []
    on_patch(store, lambda p, inv: root_patches.append(p))
    todo = detach(store.t)
    assert root_patches == [replace("/t", None)]
    own: list[Any] = []
    on_patch(todo, lambda p, inv: own.append(p))
    unprotect(todo)
    todo.title = "free"
    assert own == [replace("/title", "free")]
    assert root_patches == [replace("/t", None)]


# ----------------------------------------------------------------- apply_patch
def test_apply_patch_single_and_list() -> None:
    store = PStore.create()
    apply_patch(store, add("/arr/0", 1))
    apply_patch(store, [add("/arr/-", 2), add("/m/x", 3), replace("/t", {"id": "a"})])
    assert get_snapshot(store) == {
        "arr": [1, 2],
        "todos": [],
        "m": {"x": 3},
        "t": {"id": "a", "title": ""},
    }
    apply_patch(store, [remove("/arr/0"), replace("/m/x", 4), replace("/t/title", "T")])
    assert get_snapshot(store)["arr"] == [2]
    assert store.m == {"x": 4}
    assert store.t.title == "T"
    apply_patch(store, [remove("/m/x"), replace("/t", None)])
    assert store.m == {}
    assert store.t is None


class PScalars(Model):
    ratio: float = 0.0
    count: int = 0
    todo: PTodo | None = None


def test_apply_patch_fast_paths_keep_the_full_checks() -> None:
    """Exact-type scalar writes and plain paths skip steps: conversions and errors stay."""
    store = PScalars.create({"todo": {"id": "a"}})
    apply_patch(store, [replace("/ratio", 2), replace("/count", 3), replace("/todo/title", "T")])
    assert type(store.ratio) is float
    assert get_snapshot(store) == {"ratio": 2.0, "count": 3, "todo": {"id": "a", "title": "T"}}
    before = get_snapshot(store)
    with pytest.raises(ValidationError):
        apply_patch(store, [replace("/count", 4), replace("/count", True)])
    with pytest.raises(PatchError, match=r"patch 1 \(replace '/todo/nope'\): the PTodo at '/todo'"):
        apply_patch(store, [replace("/count", 4), replace("/todo/nope", 1)])
    with pytest.raises(PatchError, match="has no property 'a/b'"):
        apply_patch(store, replace("/a~1b", 1))
    with pytest.raises(PatchError, match="nothing to replace inside the str 'T' at '/todo/title'"):
        apply_patch(store, replace("/todo/title/x", 1))
    assert get_snapshot(store) is before


def test_apply_patch_refuses_to_remove_a_model_property() -> None:
    """As MST does: a model has all its properties; ``replace`` with null empties one."""
    store = PStore.create({"t": {"id": "a"}})
    before = get_snapshot(store)
    with pytest.raises(PatchError, match="properties cannot be removed; use 'replace' with null"):
        apply_patch(store, [replace("/t/title", "x"), remove("/t")])
    with pytest.raises(PatchError, match="properties cannot be removed"):
        apply_patch(store, {"op": "move", "from": "/t", "path": "/m/x"})
    with pytest.raises(PatchError, match="has no property 'nope'"):
        apply_patch(store, remove("/nope"))
    assert get_snapshot(store) is before


def test_apply_patch_is_atomic() -> None:
    store = PStore.create({"arr": [1, 2], "todos": [{"id": "a"}], "m": {"x": 1}})
    before = get_snapshot(store)
    todo = store.todos[0]
    patches: list[Any] = []
    snapshots: list[Any] = []
    on_patch(store, lambda p, inv: patches.append(p))
    on_snapshot(store, snapshots.append)
    bad_batches = [
        [add("/arr/0", 0), remove("/todos/0"), add("/arr/9", 1)],
        [add("/arr/0", 0), remove("/todos/0"), replace("/nope", 1)],
        [add("/arr/0", 0), remove("/todos/0"), remove("/m/missing")],
        [add("/arr/0", 0), remove("/todos/0"), {"op": "test", "path": "/arr/0", "value": 5}],
        [add("/arr/0", 0), remove("/todos/0"), add("/arr/x", 1)],
        [add("/arr/0", 0), remove("/todos/0"), remove("")],
    ]
    for batch in bad_batches:
        with pytest.raises(PatchError):
            apply_patch(store, batch)
        assert get_snapshot(store) is before, batch
        assert store.todos[0] is todo
        assert is_alive(todo)
        assert resolve_identifier(PTodo, store, "a") is todo
    with pytest.raises(ValidationError):
        apply_patch(store, [add("/arr/0", 0), replace("/arr/1", "not an int")])
    assert get_snapshot(store) is before
    assert patches == []
    assert snapshots == []
    assert issubclass(PatchError, MstError)


def test_apply_patch_rejects_unknown_op() -> None:
    store = PStore.create({"arr": [1]})
    before = get_snapshot(store)
    for patch in (
        {"op": "bogus", "path": "/arr"},
        {"op": "add", "path": "/arr/0"},  # no value
        {"path": "/arr/0", "value": 1},  # no op
        {"op": "move", "path": "/arr/0"},  # no from
    ):
        with pytest.raises(PatchError):
            apply_patch(store, [add("/arr/0", 0), patch])
        assert get_snapshot(store) is before


def test_apply_patch_move_copy_test() -> None:
    store = PStore.create({"arr": [1, 2, 3], "m": {"a": 1}, "t": {"id": "a", "title": "x"}})
    apply_patch(store, {"op": "test", "path": "/arr", "value": [1, 2, 3]})
    apply_patch(store, {"op": "test", "path": "/t", "value": {"id": "a", "title": "x"}})
    apply_patch(store, {"op": "move", "from": "/arr/0", "path": "/arr/2"})
    assert store.arr == [2, 3, 1]
    apply_patch(store, {"op": "move", "from": "/arr/2", "path": "/arr/-"})
    assert store.arr == [2, 3, 1]
    apply_patch(store, {"op": "copy", "from": "/arr/0", "path": "/arr/0"})
    assert store.arr == [2, 2, 3, 1]
    apply_patch(store, {"op": "copy", "from": "/m/a", "path": "/m/b"})
    apply_patch(store, {"op": "move", "from": "/m/a", "path": "/m/c"})
    assert store.m == {"b": 1, "c": 1}
    apply_patch(store, {"op": "move", "from": "/m/b", "path": "/m/b"})
    assert store.m == {"b": 1, "c": 1}
    with pytest.raises(PatchError):
        apply_patch(store, {"op": "test", "path": "/arr/0", "value": 99})
    with pytest.raises(PatchError):
        apply_patch(store, {"op": "move", "from": "/t", "path": "/t/title"})
    assert get_snapshot(store)["arr"] == [2, 2, 3, 1]


def test_apply_patch_test_compares_json_values() -> None:
    store = PStore.create({"arr": [1]})
    apply_patch(store, {"op": "test", "path": "/arr/0", "value": 1})
    with pytest.raises(PatchError):
        apply_patch(store, {"op": "test", "path": "/arr/0", "value": True})


def test_apply_patch_add_node_snapshot_builds_nodes() -> None:
    store = PStore.create()
    apply_patch(store, add("/todos/0", {"id": "a", "title": "x"}))
    assert isinstance(store.todos[0], PTodo)
    assert resolve_identifier(PTodo, store, "a") is store.todos[0]


def test_apply_patch_replace_reconciles_nodes() -> None:
    store = PStore.create({"todos": [{"id": "a", "title": "x"}]})
    todo = store.todos[0]
    apply_patch(store, replace("/todos/0", {"id": "a", "title": "y"}))
    assert store.todos[0] is todo
    assert todo.title == "y"


def test_apply_patch_replace_root() -> None:
    store = PStore.create({"arr": [1]})
    apply_patch(store, replace("", {"arr": [2]}))
    assert get_snapshot(store)["arr"] == [2]


def test_apply_patch_emits_patches() -> None:
    store = PStore.create()
    seen: list[Any] = []
    on_patch(store, lambda p, inv: seen.append(p))
    apply_patch(store, [add("/arr/0", 1), add("/m/a", 1)])
    assert seen == [add("/arr/0", 1), add("/m/a", 1)]


# -------------------------------------------------------------- record_patches
def test_record_patches() -> None:
    store = PStore.create({"arr": [1], "todos": [{"id": "a"}]})
    first = get_snapshot(store)
    copy = clone(store)
    recorder = record_patches(store)
    assert isinstance(recorder, PatchRecorder)
    store.run(lambda s: s.arr.append(2))
    store.run(lambda s: setattr(s.todos[0], "title", "x"))
    store.run(lambda s: s.m.__setitem__("k", 5))
    assert recorder.patches == [
        add("/arr/1", 2),
        replace("/todos/0/title", "x"),
        add("/m/k", 5),
    ]
    assert recorder.inverse_patches == [
        remove("/arr/1"),
        replace("/todos/0/title", ""),
        remove("/m/k"),
    ]
    final = get_snapshot(store)
    recorder.replay(copy)
    assert get_snapshot(copy) == final
    recorder.stop()  # otherwise the undo's own patches are recorded too
    recorder.undo()
    assert get_snapshot(store) == first
    recorder.undo(copy)
    assert get_snapshot(copy) == first


def test_record_patches_stop_resume() -> None:
    store = PStore.create()
    recorder = record_patches(store)
    assert recorder.recording
    store.run(lambda s: s.arr.append(1))
    recorder.stop()
    assert not recorder.recording
    store.run(lambda s: s.arr.append(2))
    recorder.resume()
    store.run(lambda s: s.arr.append(3))
    assert recorder.patches == [add("/arr/0", 1), add("/arr/2", 3)]
    assert recorder.inverse_patches == [remove("/arr/0"), remove("/arr/2")]


def test_record_patches_ignores_aborted_actions() -> None:
    store = PStore.create()
    recorder = record_patches(store)

    def fail(s: PStore) -> None:
        s.arr.append(1)
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.run(fail)
    assert recorder.patches == []


def test_record_patches_context_manager() -> None:
    store = PStore.create()
    with record_patches(store) as recorder:
        store.run(lambda s: s.arr.append(1))
    store.run(lambda s: s.arr.append(2))
    assert recorder.patches == [add("/arr/0", 1)]
    assert not recorder.recording


def test_record_patches_on_subtree_replays_on_subtree() -> None:
    store = PStore.create({"todos": [{"id": "a"}]})
    other = PStore.create({"todos": [{"id": "a"}]})
    with record_patches(store.todos) as recorder:
        store.run(lambda s: s.todos.append({"id": "b"}))
        store.run(lambda s: setattr(s.todos[0], "title", "t"))
    assert recorder.patches == [add("/1", {"id": "b", "title": ""}), replace("/0/title", "t")]
    recorder.replay(other.todos)
    assert get_snapshot(other) == get_snapshot(store)


# ------------------------------------------------------ mstlite.patch.apply
@pytest.mark.skipif(not hasattr(mstlite.patch, "apply"), reason="mstlite.patch.apply is missing")
@pytest.mark.parametrize(
    ("initial", "operation"),
    [pytest.param(i, o, id=name) for name, i, o, _ in MST_CASES],
)
def test_patch_apply_agrees_with_tree(
    initial: dict[str, Any], operation: Callable[[PStore], Any]
) -> None:
    store = PStore.create(initial)
    first = get_snapshot(store)
    seen = _patches_of(store, operation)
    patches = [patch for patch, _ in seen]
    result = mstlite.patch.apply(first, patches)
    assert result == get_snapshot(store)
    assert first == get_snapshot(PStore.create(initial))  # the input is not changed
    undone = mstlite.patch.apply(result, [inverse for _, inverse in reversed(seen)])
    assert undone == first


@pytest.mark.skipif(not hasattr(mstlite.patch, "apply"), reason="mstlite.patch.apply is missing")
def test_patch_apply_move_copy_test_agree_with_tree() -> None:
    initial = {"arr": [1, 2, 3], "m": {"a": 1}, "todos": [], "t": None}
    patches = [
        {"op": "test", "path": "/arr/1", "value": 2},
        {"op": "move", "from": "/arr/0", "path": "/arr/-"},
        {"op": "copy", "from": "/m/a", "path": "/m/b"},
        {"op": "add", "path": "/arr/-", "value": 9},
        {"op": "remove", "path": "/m/a"},
    ]
    store = PStore.create(initial)
    apply_patch(store, patches)
    assert mstlite.patch.apply(initial, patches) == get_snapshot(store)


# --------------------------------------------- safe references in the stream
@pytest.mark.parametrize(
    ("initial", "operation"),
    [
        pytest.param(
            {"todos": [{"id": "a"}, {"id": "b"}], "favorites": ["a", "b"]},
            lambda s: s.todos.pop(0),
            id="array-remove",
        ),
        pytest.param(
            {"todos": [{"id": "a"}], "favorites": ["a", "a"]},
            lambda s: s.todos.clear(),
            id="array-clear-duplicates",
        ),
        pytest.param(
            {"todos": [{"id": "a"}], "by_owner": {"d": {"id": "d"}}, "favorites": ["d", "a"]},
            lambda s: s.by_owner.__delitem__("d"),
            id="map-delete",
        ),
        pytest.param(
            {"todos": [{"id": "a"}], "by_owner": {"d": {"id": "d"}}, "favorites": ["d", "a"]},
            lambda s: s.by_owner.clear(),
            id="map-clear",
        ),
        pytest.param(
            {"todos": [{"id": "a"}, {"id": "b"}], "favorites": ["a", "b"]},
            lambda s: s.todos.__setitem__(0, {"id": "z"}),
            id="array-replace-item",
        ),
    ],
)
def test_safe_reference_cleanup_replays_on_a_replica(
    Store: Any, initial: dict[str, Any], operation: Callable[[Any], Any]
) -> None:
    """Removing a target also removes the safe references to it, with patches; replaying the
    stream on a replica (which cleans up by itself) must still reproduce the same state."""
    store = Store.create(initial)
    replica = clone(store)
    first = get_snapshot(store)
    with record_patches(store) as recorder:
        store.run(operation)
    apply_patch(replica, json.loads(json.dumps(recorder.patches)))
    assert get_snapshot(replica) == get_snapshot(store)
    apply_patch(replica, list(reversed(recorder.inverse_patches)))
    assert get_snapshot(replica) == first
