"""Arrays behave as MutableSequence, maps as MutableMapping."""

from __future__ import annotations

import operator
from collections.abc import MutableMapping, MutableSequence
from typing import Any

import pytest

from mstlite import (
    LivelinessWarning,
    Model,
    TreeError,
    ValidationError,
    get_parent,
    get_path,
    get_snapshot,
    is_alive,
    types,
    unprotect,
)


class Numbers(Model):
    items: list[int] = []
    names: dict[str, str] = {}


def numbers(items: list[int] | None = None, names: dict[str, str] | None = None) -> Any:
    node = Numbers.create({"items": items or [], "names": names or {}})
    unprotect(node)
    return node


# ---------------------------------------------------------------------- arrays
def test_array_is_a_mutable_sequence() -> None:
    node = numbers([1, 2])
    assert isinstance(node.items, MutableSequence)
    assert not isinstance(node.items, list)


def test_append_extend_insert() -> None:
    node = numbers()
    arr = node.items
    arr.append(1)
    arr.extend([2, 3])
    arr.extend(iter([4]))
    arr.insert(0, 0)
    arr.insert(-1, 9)
    arr.insert(100, 10)
    arr += [11]
    assert arr == [0, 1, 2, 3, 9, 4, 10, 11]
    assert get_snapshot(node)["items"] == [0, 1, 2, 3, 9, 4, 10, 11]
    assert node.items is arr


def test_append_validates() -> None:
    node = numbers([1])
    with pytest.raises(ValidationError):
        node.items.append("x")
    with pytest.raises(ValidationError):
        node.items.extend([2, "y"])
    assert node.items == [1]


def test_pop_and_remove() -> None:
    node = numbers([1, 2, 3, 2])
    arr = node.items
    assert arr.pop() == 2
    assert arr.pop(0) == 1
    assert arr == [2, 3]
    arr.append(2)
    arr.remove(2)
    assert arr == [3, 2]
    with pytest.raises(ValueError):
        arr.remove(99)
    with pytest.raises(IndexError):
        arr.pop(5)
    with pytest.raises(IndexError):
        numbers().items.pop()


def test_indexing() -> None:
    node = numbers([1, 2, 3])
    arr = node.items
    assert arr[0] == 1
    assert arr[-1] == 3
    with pytest.raises(IndexError):
        arr[3]
    arr[1] = 20
    arr[-1] = 30
    assert arr == [1, 20, 30]
    with pytest.raises(IndexError):
        arr[3] = 4
    with pytest.raises(ValidationError):
        arr[0] = "x"
    assert arr == [1, 20, 30]


def test_slicing_get() -> None:
    arr = numbers([1, 2, 3, 4, 5]).items
    assert arr[1:3] == [2, 3]
    assert arr[::2] == [1, 3, 5]
    assert arr[::-1] == [5, 4, 3, 2, 1]
    assert arr[10:] == []
    assert isinstance(arr[1:3], list)


def test_slicing_set() -> None:
    node = numbers([1, 2, 3, 4, 5])
    arr = node.items
    arr[1:3] = [7, 8, 9]
    assert arr == [1, 7, 8, 9, 4, 5]
    arr[:2] = []
    assert arr == [8, 9, 4, 5]
    arr[::2] = [0, 0]
    assert arr == [0, 9, 0, 5]
    with pytest.raises(ValueError):
        arr[::2] = [1]
    arr[len(arr) :] = [6]
    assert arr == [0, 9, 0, 5, 6]
    arr[:] = [1]
    assert arr == [1]
    assert get_snapshot(node)["items"] == [1]


def test_slicing_del_and_del() -> None:
    node = numbers([1, 2, 3, 4, 5, 6])
    arr = node.items
    del arr[0]
    assert arr == [2, 3, 4, 5, 6]
    del arr[-1]
    assert arr == [2, 3, 4, 5]
    del arr[1:3]
    assert arr == [2, 5]
    arr.extend([7, 8, 9])
    del arr[::2]
    assert arr == [5, 8]
    with pytest.raises(IndexError):
        del arr[5]
    del arr[:]
    assert arr == []


def test_clear() -> None:
    node = numbers([1, 2])
    node.items.clear()
    assert node.items == []
    assert len(node.items) == 0
    node.items.clear()
    assert get_snapshot(node)["items"] == []


def test_sort_and_reverse() -> None:
    node = numbers([3, 1, 2])
    arr = node.items
    arr.sort()
    assert arr == [1, 2, 3]
    arr.sort(reverse=True)
    assert arr == [3, 2, 1]
    arr.sort(key=lambda v: (v % 2, v))
    assert arr == [2, 1, 3]
    arr.reverse()
    assert arr == [3, 1, 2]
    assert get_snapshot(node)["items"] == [3, 1, 2]


def test_sort_and_reverse_keep_nodes(Store: Any) -> None:
    store = Store.create({"todos": [{"id": "b"}, {"id": "c"}, {"id": "a"}]})
    unprotect(store)
    nodes = {t.id: t for t in store.todos}
    store.todos.sort(key=lambda t: t.id)
    assert [t.id for t in store.todos] == ["a", "b", "c"]
    assert all(store.todos[i] is nodes[k] for i, k in enumerate("abc"))
    assert all(is_alive(n) for n in nodes.values())
    assert get_path(nodes["a"]) == "/todos/0"
    store.todos.reverse()
    assert [t.id for t in store.todos] == ["c", "b", "a"]
    assert store.todos[0] is nodes["c"]
    assert get_path(nodes["c"]) == "/todos/0"
    assert all(is_alive(n) for n in nodes.values())


def test_len_iteration_contains_index_count() -> None:
    arr = numbers([5, 6, 5, 7]).items
    assert len(arr) == 4
    assert list(arr) == [5, 6, 5, 7]
    assert [v * 2 for v in arr] == [10, 12, 10, 14]
    assert list(reversed(arr)) == [7, 5, 6, 5]
    assert 6 in arr
    assert 9 not in arr
    assert arr.index(5) == 0
    assert arr.index(5, 1) == 2
    assert arr.count(5) == 2
    assert arr.count(9) == 0
    with pytest.raises(ValueError):
        arr.index(9)
    assert bool(arr)
    assert not numbers().items


def test_iteration_is_a_stable_copy() -> None:
    node = numbers([1, 2, 3])
    seen = []
    for value in node.items:
        seen.append(value)
        if value == 1:
            node.items.append(4)
    assert seen == [1, 2, 3]
    assert node.items == [1, 2, 3, 4]


def test_array_equality_with_plain_lists() -> None:
    node = numbers([1, 2])
    assert node.items == [1, 2]
    assert operator.eq([1, 2], node.items)  # the reflected comparison
    assert node.items != [2, 1]
    assert node.items != [1, 2, 3]
    assert node.items == (1, 2)
    assert node.items != {"0": 1}
    assert node.items == numbers([1, 2]).items


def test_array_of_nodes_items_are_nodes(Store: Any, Todo: Any) -> None:
    store = Store.create({"todos": [{"id": "a"}]})
    unprotect(store)
    store.todos.append({"id": "b", "title": "B"})
    todo = store.todos[1]
    assert isinstance(todo, Todo)
    assert get_parent(todo) is store.todos
    assert store.todos == [store.todos[0], todo]
    assert todo in store.todos
    assert store.todos.index(todo) == 1
    store.todos.remove(todo)
    assert not is_alive(todo)
    assert todo not in store.todos


def test_pop_returns_dead_node_unless_detached(Store: Any) -> None:
    store = Store.create({"todos": [{"id": "a", "title": "x"}]})
    unprotect(store)
    popped = store.todos.pop()
    with pytest.warns(LivelinessWarning, match="reading title of a dead Todo"):
        assert popped.title == "x"
    assert not is_alive(popped)


def test_array_of_references(Store: Any) -> None:
    store = Store.create({"todos": [{"id": "a"}, {"id": "b"}], "favorites": ["b"]})
    unprotect(store)
    store.favorites.append(store.todos[0])
    assert store.favorites == [store.todos[1], store.todos[0]]
    assert get_snapshot(store)["favorites"] == ["b", "a"]
    assert store.favorites[1] is store.todos[0]


def test_nested_arrays() -> None:
    Grid = types.model("Grid", {"rows": types.array(types.array(types.integer))})
    grid = Grid.create({"rows": [[1, 2], [3]]})
    unprotect(grid)
    grid.rows[1].append(4)
    grid.rows.append([5])
    assert grid.rows == [[1, 2], [3, 4], [5]]
    assert get_snapshot(grid) == {"rows": [[1, 2], [3, 4], [5]]}


# ------------------------------------------------------------------------ maps
def test_map_is_a_mutable_mapping() -> None:
    node = numbers(names={"a": "x"})
    assert isinstance(node.names, MutableMapping)
    assert not isinstance(node.names, dict)


def test_map_get_set_del() -> None:
    node = numbers(names={"a": "x"})
    names = node.names
    assert names["a"] == "x"
    assert names.get("a") == "x"
    assert names.get("zz") is None
    assert names.get("zz", "d") == "d"
    with pytest.raises(KeyError):
        names["zz"]
    names["b"] = "y"
    names["a"] = "z"
    assert names == {"a": "z", "b": "y"}
    del names["a"]
    assert names == {"b": "y"}
    with pytest.raises(KeyError):
        del names["a"]
    with pytest.raises(ValidationError):
        names["c"] = 1
    with pytest.raises(TypeError):
        names[1] = "x"  # type: ignore[index]
    assert get_snapshot(node)["names"] == {"b": "y"}


def test_map_pop_popitem_setdefault_update() -> None:
    node = numbers(names={"a": "1", "b": "2"})
    names = node.names
    assert names.pop("a") == "1"
    assert names.pop("a", "gone") == "gone"
    with pytest.raises(KeyError):
        names.pop("a")
    assert names.setdefault("b", "x") == "2"
    assert names.setdefault("c", "3") == "3"
    names.update({"d": "4"}, e="5")
    names.update([("f", "6")])
    assert names == {"b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}
    key, value = names.popitem()
    assert key in {"b", "c", "d", "e", "f"}
    assert len(names) == 4
    assert key not in names
    assert value not in names.values()
    names.clear()
    assert names == {}
    with pytest.raises(KeyError):
        names.popitem()


def test_map_views_and_iteration() -> None:
    names = numbers(names={"a": "1", "b": "2"}).names
    assert list(names) == ["a", "b"]
    assert list(names.keys()) == ["a", "b"]
    assert list(names.values()) == ["1", "2"]
    assert list(names.items()) == [("a", "1"), ("b", "2")]
    assert "a" in names
    assert "z" not in names
    assert len(names) == 2
    assert dict(names) == {"a": "1", "b": "2"}


def test_map_keeps_insertion_order_in_snapshot() -> None:
    node = numbers(names={"b": "1"})
    node.names["a"] = "2"
    assert list(get_snapshot(node)["names"]) == ["b", "a"]


def test_map_equality_with_plain_dicts() -> None:
    names = numbers(names={"a": "1"}).names
    assert names == {"a": "1"}
    assert operator.eq({"a": "1"}, names)  # the reflected comparison
    assert names != {"a": "2"}
    assert names != {"a": "1", "b": "2"}
    assert names != ["a"]
    assert names == numbers(names={"a": "1"}).names


def test_map_of_models_put(Store: Any, Todo: Any) -> None:
    store = Store.create()
    unprotect(store)
    stored = store.by_owner.put({"id": "x", "title": "X"})
    assert isinstance(stored, Todo)
    assert store.by_owner["x"] is stored
    todo = Todo.create({"id": "y"})
    assert store.by_owner.put(todo) is todo
    assert get_path(todo) == "/by_owner/y"
    assert list(store.by_owner) == ["x", "y"]
    assert get_snapshot(store)["by_owner"]["x"]["title"] == "X"


def test_put_needs_identifier() -> None:
    node = numbers()
    with pytest.raises(TreeError):
        node.names.put("x")


def test_map_key_must_equal_identifier(Store: Any, Todo: Any) -> None:
    store = Store.create()
    unprotect(store)
    with pytest.raises(TreeError, match="identifier"):
        store.by_owner["x"] = {"id": "y"}
    with pytest.raises(TreeError):
        store.by_owner["x"] = Todo.create({"id": "y"})
    assert store.by_owner == {}
    assert get_snapshot(store)["by_owner"] == {}
    store.by_owner["y"] = {"id": "y"}
    assert store.by_owner["y"].id == "y"


def test_map_of_nodes_replace_and_remove(Store: Any) -> None:
    store = Store.create({"by_owner": {"a": {"id": "a", "title": "1"}}})
    unprotect(store)
    first = store.by_owner["a"]
    store.by_owner["a"] = {"id": "a", "title": "2"}
    assert store.by_owner["a"] is first  # reconciled: same identifier
    assert first.title == "2"
    removed = store.by_owner.pop("a")
    assert removed is first
    assert not is_alive(first)
    assert store.by_owner == {}


def test_map_of_safe_references(Store: Any) -> None:
    Holder = types.model(
        "SafeMapHolder",
        {
            "store": Store,
            "marks": types.map(types.safe_reference(types.model(Store).props["todos"].item)),
        },
    )
    holder = Holder.create(
        {"store": {"todos": [{"id": "a"}, {"id": "b"}]}, "marks": {"x": "a", "y": "b"}}
    )
    unprotect(holder)
    assert holder.marks["x"] is holder.store.todos[0]
    holder.store.todos.pop(0)
    assert dict(holder.marks) == {"y": holder.store.todos[0]}
    assert get_snapshot(holder)["marks"] == {"y": "b"}
