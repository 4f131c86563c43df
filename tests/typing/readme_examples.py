"""The README's Python examples, as a type checker sees them: clean under
``mypy --strict`` and pyright (strict), with ``assert_type`` on what each
checker infers. Checked, not run, by ``tests/typing/test_type_checkers.py``.

Where the README's own idiom does not check yet (issue 13 items 1 and 2), the
form that checks today is used here and the README's form is kept in
``pending_typed_models.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, assert_type

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
    get_root,
    get_snapshot,
    on_patch,
    record_patches,
    resolve_identifier,
    types,
)
from mstlite.typing import JSONValue, Patch


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
        # The README appends a snapshot dict; a checker wants a Todo (see pending_typed_models.py).
        self.todos.append(Todo.create({"id": str(len(self.todos)), "title": title}))
        return self.todos[-1]


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
    # Untyped today (issue 13 item 2 types it):
    assert_type(get_snapshot(store), Any)
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


def tree_functions_today(store: Store, todo: Todo) -> None:
    """What the tree functions give a checker today; item 2 narrows the Any ones,
    and then these assert_type lines fail and are updated."""
    assert_type(clone(todo), Todo)
    assert_type(record_patches(store).patches, list[Patch])
    assert_type(mstlite.rx.patches(store), Observable[Any])
    assert_type(mstlite.rx.snapshots(store), Observable[Any])
    assert_type(mstlite.rx.actions(store), Observable[dict[str, Any]])
    assert_type(mstlite.patch.apply({}, []), JSONValue)
    assert_type(get_parent(todo), Any)
    assert_type(get_root(todo), Any)
    assert_type(get_env(store), Any)
    assert_type(resolve_identifier(Todo, store, "a"), Any)
    assert_type(types.array(Todo).create(), Any)


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
