"""``Model(...)``: the keyword constructor type checkers check (issue 13 item 1).

At run time it builds a new, unattached tree exactly as ``create`` does, and
nodes given as fields are attached (one parent each).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mstlite import (
    Identifier,
    Model,
    Ref,
    TreeError,
    ValidationError,
    action,
    get_env,
    get_parent,
    get_root,
    get_snapshot,
    is_root,
    on_patch,
    volatile,
)


class Todo(Model):
    id: Identifier
    title: str = ""
    tags: list[str] = []
    hits: int = volatile(0)

    def after_create(self) -> None:
        CREATED.append(self.id)


class Store(Model):
    todos: list[Todo] = []
    by_name: dict[str, Todo] = {}
    selected: Ref[Todo] | None = None
    pinned: Todo | None = None

    @action
    def add(self, todo: Todo) -> None:
        self.todos.append(todo)


CREATED: list[str] = []


@pytest.fixture(autouse=True)
def _no_hooks_left() -> Iterator[None]:
    CREATED.clear()
    yield
    CREATED.clear()


def test_a_constructed_node_is_what_create_builds() -> None:
    made = Todo(id="a", title="x")
    created = Todo.create({"id": "a", "title": "x"})
    assert get_snapshot(made) == get_snapshot(created) == {"id": "a", "title": "x", "tags": []}
    assert is_root(made)
    assert get_env(made) == get_env(created)
    assert CREATED == ["a", "a"]  # after_create ran for both


@pytest.mark.parametrize(
    "fields", [{"id": 1}, {"idd": "x"}, {"id": "a", "title": 3}, {"id": "a", "tags": "x"}]
)
def test_validation_errors_are_the_same_as_create(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as by_constructor:
        Todo(**fields)
    with pytest.raises(ValidationError) as by_create:
        Todo.create(fields)
    assert str(by_constructor.value) == str(by_create.value)
    assert by_constructor.value.errors == by_create.value.errors
    assert CREATED == []  # nothing was built


def test_nodes_given_as_fields_are_attached() -> None:
    first, second, third = Todo(id="a"), Todo(id="b"), Todo(id="c")
    store = Store(
        todos=[first, {"id": "x"}],  # type: ignore[list-item]  # a snapshot works at run time
        by_name={"b": second},
        pinned=third,
        selected=first,
    )
    assert store.todos[0] is first and store.by_name["b"] is second and store.pinned is third
    assert store.selected is first
    assert get_parent(first) is store.todos and get_root(second) is store
    assert get_snapshot(store) == {
        "todos": [
            {"id": "a", "title": "", "tags": []},
            {"id": "x", "title": "", "tags": []},
        ],
        "by_name": {"b": {"id": "b", "title": "", "tags": []}},
        "selected": "a",
        "pinned": {"id": "c", "title": "", "tags": []},
    }


def test_a_node_with_a_parent_is_refused_one_parent_rule() -> None:
    todo = Todo(id="a")
    Store(todos=[todo])
    with pytest.raises(TreeError, match="already has a parent"):
        Store(todos=[todo])


def test_appending_a_constructed_node_attaches_it() -> None:
    store = Store()
    patches: list[Any] = []
    on_patch(store, lambda patch, inverse: patches.append(patch))
    todo = Todo(id="a", title="x")
    store.add(todo)
    assert store.todos[0] is todo and get_parent(todo) is store.todos
    assert patches == [
        {"op": "add", "path": "/todos/0", "value": {"id": "a", "title": "x", "tags": []}}
    ]


def test_a_snapshot_mapping_still_works_positionally_at_run_time() -> None:
    assert get_snapshot(Todo({"id": "a"}, title="y"))["title"] == "y"  # type: ignore[call-arg, arg-type]


def test_volatile_state_is_not_a_constructor_argument() -> None:
    with pytest.raises(ValidationError, match="hits"):
        Todo(id="a", hits=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="init must be False"):
        volatile(0, init=True)  # type: ignore[call-overload]
