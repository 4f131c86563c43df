"""Per-model snapshot types: ``snapshot_types`` writes a model's TypedDict pair,
``check_snapshot_types`` checks a declared pair against the model (issue 13 item 2).

The generated source is executed and declared on a model, so the writer and
the checker are tested against each other as well as against hand-written pairs.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

import pytest

from mstlite import (
    Frozen,
    Identifier,
    Model,
    Ref,
    SafeRef,
    check_snapshot_types,
    get_snapshot,
    snapshot_types,
    volatile,
)
from mstlite.typing import JSONValue  # noqa: F401  # the generated source names it


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class TodoSnapshot(TypedDict):
    id: str
    title: str
    tags: list[str]
    kind: Literal["task", "note"]
    due: str | None


class TodoSnapshotIn(TypedDict):
    id: str
    title: NotRequired[str]
    tags: NotRequired[list[str]]
    kind: NotRequired[Literal["task", "note"]]
    due: NotRequired[str | None]


class Todo(Model[TodoSnapshot, TodoSnapshotIn]):
    id: Identifier
    title: str = ""
    tags: list[str] = []
    kind: Literal["task", "note"] = "task"
    due: datetime | None = None
    busy: bool = volatile(False)  # not in snapshots: not in the TypedDicts


class Board(Model):
    todos: list[Todo] = []
    by_name: dict[str, Todo] = {}
    selected: Ref[Todo] | None = None
    watched: SafeRef[Todo] | None = None
    color: Color = Color.RED
    extra: Frozen[Any] = None
    count: int


def test_a_matching_declared_pair_passes_and_types_get_snapshot() -> None:
    check_snapshot_types(Todo)
    todo = Todo.create({"id": "a"})
    snapshot: TodoSnapshot = get_snapshot(todo)
    assert snapshot == {"id": "a", "title": "", "tags": [], "kind": "task", "due": None}


def test_the_written_source_names_every_property() -> None:
    source = snapshot_types(Board)
    assert source.splitlines() == [
        "class BoardSnapshot(TypedDict):",
        "    todos: list[TodoSnapshot]",
        "    by_name: dict[str, TodoSnapshot]",
        "    selected: str | None",
        "    watched: str | None",
        "    color: Literal['blue', 'red']",
        "    extra: JSONValue",
        "    count: int",
        "",
        "",
        "class BoardSnapshotIn(TypedDict):",
        "    todos: NotRequired[list[TodoSnapshotIn]]",
        "    by_name: NotRequired[dict[str, TodoSnapshotIn]]",
        "    selected: NotRequired[str | None]",
        "    watched: NotRequired[str | None]",
        "    color: NotRequired[Literal['blue', 'red']]",
        "    extra: NotRequired[JSONValue]",
        "    count: int",
    ]


def test_the_written_source_declared_on_the_model_checks() -> None:
    # Run as if pasted here: this module's names (TodoSnapshot, JSONValue) resolve it.
    namespace: dict[str, Any] = {"__name__": __name__}
    exec(snapshot_types(Board), globals() | namespace, namespace)
    out, incoming = namespace["BoardSnapshot"], namespace["BoardSnapshotIn"]

    class Declared(Model[out, incoming]):  # type: ignore[valid-type]
        todos: list[Todo] = []
        by_name: dict[str, Todo] = {}
        selected: Ref[Todo] | None = None
        watched: SafeRef[Todo] | None = None
        color: Color = Color.RED
        extra: Frozen[Any] = None
        count: int

    check_snapshot_types(Declared)


class Wrong(TypedDict):
    id: int
    title: NotRequired[str]
    stray: str


class WrongIn(TypedDict):
    id: NotRequired[str]
    title: str


class Drifted(Model[Wrong, WrongIn]):
    id: Identifier
    title: str = ""


def test_every_difference_is_listed() -> None:
    with pytest.raises(TypeError) as info:
        check_snapshot_types(Drifted)
    assert str(info.value).splitlines() == [
        "the snapshot types of Drifted do not match the model:",
        "  SnapshotOut Wrong['id'] is <class 'int'>; the model makes it str",
        "  SnapshotOut Wrong['title'] should be required",
        "  SnapshotOut Wrong has key 'stray', not a property",
        "  SnapshotIn WrongIn['id'] should be required",
        "  SnapshotIn WrongIn['title'] should be NotRequired",
        "mstlite.snapshot_types(model) prints matching ones",
    ]


def test_a_model_without_declared_types_is_told_what_to_write() -> None:
    with pytest.raises(TypeError, match=r"class Board\(Model\[BoardSnapshot, BoardSnapshotIn\]\)"):
        check_snapshot_types(Board)
    with pytest.raises(TypeError, match="is not an mstlite Model class"):
        snapshot_types(int)
