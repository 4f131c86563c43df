"""Shared models for the mstlite tests.

The classes live at module level here and reach the tests through
session-scoped fixtures named after them (``def test_x(Store): ...``), so
test modules never import ``conftest`` (two test directories have one).
Session scope keeps them usable from Hypothesis tests.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import pytest

from mstlite import Identifier, Model, Ref, SafeRef, action, computed


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Todo(Model):
    id: Identifier
    title: str = ""
    done: bool = False
    tags: list[str] = []
    kind: Literal["task", "note"] = "task"

    @computed
    def label(self) -> str:
        return f"[{'x' if self.done else ' '}] {self.title}"

    @action
    def toggle(self) -> None:
        self.done = not self.done

    @action
    def set_title(self, title: str) -> None:
        self.title = title

    @action
    def add_tag(self, tag: str) -> None:
        self.tags.append(tag)


class Store(Model):
    todos: list[Todo] = []
    by_owner: dict[str, Todo] = {}
    selected: Ref[Todo] | None = None
    favorites: list[SafeRef[Todo]] = []

    @action
    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(self, *args)`` as an action (for tests that need ad hoc changes)."""
        return fn(self, *args)

    @action
    def add_todo(self, id: str, title: str = "") -> Todo:
        self.todos.append({"id": id, "title": title})
        return self.todos[-1]

    @action
    def select(self, todo: Todo | None) -> None:
        self.selected = todo

    @action
    def remove_todo(self, todo: Todo) -> None:
        self.todos.remove(todo)

    @action
    def fail_after(self, fn: Callable[[Store], Any]) -> None:
        """Run ``fn(self)`` then raise, so the whole action rolls back."""
        fn(self)
        raise RuntimeError("boom")


class Node(Model):
    """A recursive type declared through a string forward reference."""

    name: str = ""
    children: list[Node] = []
    first: Node | None = None

    @action
    def add(self, name: str) -> Node:
        self.children.append({"name": name})
        return self.children[-1]


class Event(Model):
    id: Identifier
    at: datetime
    priority: Priority = Priority.LOW
    until: datetime | None = None


SAMPLE = {
    "todos": [
        {"id": "a", "title": "Buy milk", "tags": ["shop"]},
        {"id": "b", "title": "Walk dog", "done": True},
        {"id": "c", "title": "Write tests", "kind": "note"},
    ],
    "by_owner": {"d": {"id": "d", "title": "Ann's"}},
    "selected": "a",
    "favorites": ["b", "c"],
}


@pytest.fixture(scope="session", name="Todo")
def todo_class() -> type[Todo]:
    return Todo


@pytest.fixture(scope="session", name="Store")
def store_class() -> type[Store]:
    return Store


@pytest.fixture(scope="session", name="Node")
def node_class() -> type[Node]:
    return Node


@pytest.fixture(scope="session", name="Event")
def event_class() -> type[Event]:
    return Event


@pytest.fixture(scope="session", name="Priority")
def priority_class() -> type[Priority]:
    return Priority


@pytest.fixture(scope="session")
def sample() -> dict[str, Any]:
    """A Store snapshot with three todos, a map entry, a reference and safe references."""
    return SAMPLE


@pytest.fixture
def store() -> Store:
    """A fresh Store built from ``sample``."""
    return Store.create(SAMPLE)
