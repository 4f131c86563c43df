"""The README's Python examples, as a type checker sees them: clean under
``mypy --strict`` and pyright (strict), with ``assert_type`` on what each
checker infers. Checked, not run, by ``tests/typing/test_type_checkers.py``.

A snapshot dict where a checker wants a model instance (``self.todos.append({...})``
on a ``list[Todo]``) works at run time but is a type error; the typed form
(``Todo(id=..., title=...)``) is used here and in the README.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, NotRequired, TypedDict, assert_type

from reactivex import Observable

import mstlite
from llmstore import LLMStore, ModelInfo, ProgressEvent, create_llm_store_default_model
from mstlite import (
    Identifier,
    Model,
    Ref,
    action,
    clone,
    computed,
    get_env,
    get_parent,
    get_parent_of_type,
    get_root,
    get_snapshot,
    on_patch,
    record_patches,
    resolve_identifier,
    types,
)
from mstlite.typing import ActionCall, JSONValue, ModelSnapshot, Patch, Snapshot


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


class Store(Model):
    todos: list[Todo] = []
    selected: Ref[Todo] | None = None

    @action
    def add(self, title: str) -> Todo:
        self.todos.append(Todo(id=str(len(self.todos)), title=title))
        return self.todos[-1]


class NoteSnapshot(TypedDict):
    id: str
    text: str


class NoteSnapshotIn(TypedDict):
    id: str
    text: NotRequired[str]


class Note(Model[NoteSnapshot, NoteSnapshotIn]):
    """Snapshot types declared (mstlite.typing.snapshot_types writes them)."""

    id: Identifier
    text: str = ""


def typed_snapshots() -> None:
    note = Note.create({"id": "n"})
    assert_type(get_snapshot(note), NoteSnapshot)
    assert_type(get_snapshot(note)["text"], str)
    assert_type(mstlite.rx.snapshots(note), Observable[NoteSnapshot])
    mstlite.on_snapshot(note, lambda snapshot: print(snapshot["id"]))


def printing_listener(patch: Patch, inverse: Patch) -> None:
    print(patch)


def five_minutes() -> None:
    store = Store.create({"todos": [{"id": "a", "title": "Buy milk"}]})
    assert_type(store, Store)
    dispose = on_patch(store, lambda patch, inverse: print(patch))
    assert_type(dispose, Callable[[], None])
    on_patch(store, printing_listener)
    store.todos[0].toggle()
    assert_type(store.todos, list[Todo])
    assert_type(store.todos[0], Todo)
    assert_type(store.todos[0].label, str)
    assert_type(store.todos[0].done, bool)
    assert_type(store.todos[0].tags, list[str])
    assert_type(store.todos[0].kind, Literal["task", "note"])
    assert_type(store.selected, Todo | None)
    assert_type(store.add("Call Bob"), Todo)
    assert_type(get_snapshot(store), ModelSnapshot)
    assert_type(get_snapshot(store.todos), Snapshot)
    store.todos[0].title = "x"  # a ProtectionError at run time, a str to a checker


def reactivity(store: Store) -> None:
    labels = mstlite.rx.observe(lambda: store.todos[0].label)
    assert_type(labels, Observable[str])
    count = mstlite.reaction(lambda: len(store.todos), lambda n: print(n))
    assert_type(count, Callable[[], None])
    mstlite.autorun(lambda: print(store.todos[0].title))
    history = mstlite.undo.UndoManager(store)
    history.undo()
    replayed = mstlite.patch.apply({"done": False}, [{"op": "replace", "path": "/done", "value": True}])
    print(replayed)
    # The four lazily imported submodules are attributes of mstlite to a checker too.
    patch: mstlite.typing.Patch = {"op": "remove", "path": "/todos/0"}
    assert_type(mstlite.patch.apply(replayed, patch), mstlite.typing.JSONValue)


def constructors() -> None:
    todo = Todo(id="a", title="Buy milk", tags=["home"])
    assert_type(todo, Todo)
    store = Store(todos=[todo], selected=todo)  # nodes attach; a Ref takes the node
    assert_type(store, Store)
    assert_type(Store.create({"todos": [{"id": "b"}]}), Store)  # a snapshot dict still works


class Env:
    api_url = "http://127.0.0.1"


def tree_functions(store: Store, todo: Todo) -> None:
    """What the tree functions give a checker."""
    assert_type(clone(todo), Todo)
    assert_type(record_patches(store).patches, list[Patch])
    assert_type(mstlite.rx.patches(store), Observable[Patch])
    assert_type(mstlite.rx.patches(store, with_inverse=True), Observable[tuple[Patch, Patch]])
    assert_type(mstlite.rx.snapshots(store), Observable[ModelSnapshot])
    assert_type(mstlite.rx.actions(store), Observable[ActionCall])
    assert_type(mstlite.patch.apply({}, []), JSONValue)
    assert_type(get_parent(todo), Any)  # the parent's type is not known from the child's
    assert_type(get_parent_of_type(todo, Store), Store)
    assert_type(get_root(todo), Any)
    assert_type(get_env(store), Any)
    assert_type(get_env(store, Env), Env)
    assert_type(resolve_identifier(Todo, store, "a"), Todo | None)
    assert_type(types.array(Todo).create(), list[Todo])
    assert_type(types.map(Todo).create(), dict[str, Todo])


async def llmstore_example() -> None:
    async with create_llm_store_default_model() as store:
        assert_type(store, LLMStore)
        progress = store.progress("1B")
        assert_type(progress, Observable[ProgressEvent])
        progress.subscribe(print)
        await store.start_model_download("1B")
        store.select_model("1B")
        assert_type(store.selected_model, ModelInfo | None)
        assert_type(store.has_ready_model, bool)
        assert_type(store.downloading_model, ModelInfo | None)


class Settings(Model, unknown_keys="drop"):  # the README's differences section
    theme: str = "light"


def unknown_keys_example() -> None:
    assert_type(Settings.create({"theme": "dark", "font_size": 14}).theme, str)
    assert_type(types.model("Built", {"theme": str}, unknown_keys="drop"), types.ModelType)
