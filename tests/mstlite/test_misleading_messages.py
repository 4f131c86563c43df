"""Error messages that used to mislead (issue 13 item 6): each says what, where
and what to do, in the words of what the user did."""

from __future__ import annotations

import pytest

from mstlite import (
    Identifier,
    Model,
    TreeError,
    ValidationError,
    get_snapshot,
    unprotect,
)


class Todo(Model):
    id: Identifier
    title: str = ""


class Store(Model):
    todos: list[Todo] = []


def test_assigning_a_wrong_value_says_it_was_an_assignment() -> None:
    store = Store.create({"todos": [{"id": "a"}]})
    unprotect(store)
    with pytest.raises(ValidationError) as info:
        store.todos[0].title = 3  # type: ignore[assignment]
    message = str(info.value)
    assert message == (
        "cannot assign 3 to Todo.title at '/todos/0': it is a str\n"
        "  /todos/0/title: Input should be a valid string\n"
        "assign a valid str instead; nothing was changed"
    )
    assert "snapshot" not in message
    assert info.value.errors[0]["path"] == "/todos/0/title"
    assert store.todos[0].title == ""


def test_assigning_a_wrong_snapshot_lists_its_problems() -> None:
    store = Store.create()
    unprotect(store)
    with pytest.raises(ValidationError) as info:
        store.todos = [{"id": 3}]  # type: ignore[list-item]
    assert str(info.value).splitlines() == [
        "cannot assign [{'id': 3}] to Store.todos at '/': it is a list[Todo]",
        "  /todos/0/id: Input should be a valid string",
        "assign a valid list[Todo] instead; nothing was changed",
    ]


def test_a_second_parent_is_refused_without_doubled_at() -> None:
    store = Store.create({"todos": [{"id": "a"}]})
    other = Store.create()
    unprotect(other)
    with pytest.raises(TreeError) as info:
        other.todos.append(store.todos[0])
    message = str(info.value)
    assert message.startswith(
        "cannot add Todo at '/todos/0' under '/todos': it already has a parent"
    )
    assert message.count(" at ") == 1
    assert "detach() it first, or pass get_snapshot(node) to add a copy" in message


def test_the_frozen_snapshot_error_names_exported_remedies() -> None:
    snapshot = get_snapshot(Store.create({"todos": [{"id": "a"}]}))
    todos = snapshot["todos"]
    assert isinstance(todos, list)
    with pytest.raises(TypeError) as info:
        todos.append({"id": "b"})
    message = str(info.value)
    assert "thaw" not in message
    assert "dict(snapshot) or list(snapshot)" in message
    assert "json.loads(json.dumps(snapshot))" in message
