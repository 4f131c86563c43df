"""Mistakes a user makes with mstlite that the type checkers catch today.

Every statement in ``mistakes`` is wrong and must stay flagged by both
checkers: each line carries mypy's expected error code (``# type: ignore[code]``,
checked by ``warn_unused_ignores``, part of ``--strict``) and pyright's
(``# pyright: ignore[rule]``, checked by ``reportUnnecessaryTypeIgnoreComment``;
pyright reads only its own comments here, ``enableTypeIgnoreComments`` is off).
A line a checker stops flagging fails ``tests/typing/test_type_checkers.py``,
and that test also fails when a statement here lacks either comment.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import mstlite
from mstlite import (
    Identifier,
    Model,
    Ref,
    action,
    clone,
    computed,
    get_parent_of_type,
    get_snapshot,
    on_patch,
    resolve_identifier,
    types,
)
from mstlite.typing import Patch


class Todo(Model):
    id: Identifier
    title: str = ""
    done: bool = False
    kind: Literal["task", "note"] = "task"

    @computed
    def label(self) -> str:
        return self.title

    @action
    def toggle(self) -> None:
        self.done = not self.done

    @action
    def rename(self, title: str) -> None:
        self.title = title


class Store(Model):
    todos: list[Todo] = []
    selected: Ref[Todo] | None = None


class NoteSnapshot(TypedDict):
    id: str
    text: str


class NoteSnapshotIn(TypedDict):
    id: str
    text: NotRequired[str]


class Note(Model[NoteSnapshot, NoteSnapshotIn]):
    id: Identifier
    text: str = ""


def mistakes(store: Store, todo: Todo) -> None:
    todo.title = 3  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    todo.done = "yes"  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    todo.kind = "other"  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    todo.rename(3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    todo.rename()  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    todo.toggle(1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    todo.titel  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    _count: int = todo.label  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    store.todos.append("x")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    store.selected = store  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    _text: str = mstlite.rx.observe(lambda: todo.done)  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    _patch: Patch = {"op": "nope", "path": "/"}  # type: ignore[typeddict-item]  # pyright: ignore[reportAssignmentType]
    _copy: Store = clone(todo)  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    on_patch(todo, lambda patch: None)  # type: ignore[misc, arg-type]  # pyright: ignore[reportArgumentType]
    mstlite.undo.UndoManager(store).undo(1)  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    mstlite.rxx  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    mstlite.Modle  # type: ignore[attr-defined]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    Todo(id=1)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Todo(idd="x")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Todo("a")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    Todo(id="a", label="x")  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    todo.label = "x"  # type: ignore[assignment]  # pyright: ignore[reportAttributeAccessIssue]
    _snapshot: int = get_snapshot(store)  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    _array: int = types.array(Todo).create()  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    _found: Todo = resolve_identifier(Todo, store, "a")  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    _owner: Todo = get_parent_of_type(todo, Store)  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    on_patch(todo, lambda patch, inverse: patch["valeu"])  # type: ignore[typeddict-item]  # pyright: ignore[reportUnknownLambdaType, reportGeneralTypeIssues]
    Note.create({"idd": "x"})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Note.create({"id": 1})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    _note_text: int = get_snapshot(Note(id="n"))["text"]  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
