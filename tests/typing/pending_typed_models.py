"""What the checkers get wrong today, kept so the fix shows: issue 13 items 1
(``Model`` as a ``dataclass_transform``) and 2 (typed results).

This file must be clean under both checkers *today*, like the others:

- Section A holds README idioms that work at run time but that the checkers
  reject today; each line carries the errors seen now, so once item 1 makes
  them check, the comments become unused and the test fails: then delete the
  comments (and use the idiom in ``readme_examples.py``).
- Section B holds mistakes the checkers miss today (no comment, no error);
  once items 1 and 2 catch them the test fails: then move each line to
  ``mistakes.py`` with its expected-error comments.
"""

from __future__ import annotations

from mstlite import Identifier, Model, action, computed, get_parent, get_snapshot, types


class Todo(Model):
    id: Identifier
    title: str = ""

    @computed
    def label(self) -> str:
        return self.title


class Store(Model):
    todos: list[Todo] = []

    @action
    def add(self, title: str) -> None:
        # A. The README's own idiom: a snapshot dict appended to a list[Todo].
        self.todos.append({"id": str(len(self.todos)), "title": title})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    @action
    def replace_first(self) -> None:
        # A. Assigning a snapshot dict to an item of a list[Todo].
        self.todos[0] = {"id": "z"}  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]


def missed_mistakes(store: Store, todo: Todo) -> None:
    # B. Item 1: the constructor does not check field types or names.
    Todo(id=1)
    Todo(idd="x")
    # B. Item 2: snapshots are not typed per model.
    Store.create({"todoz": []})
    Store.create({"todos": [{"id": 1}]})  # the README's last line: a ValidationError at run time
    _snapshot: int = get_snapshot(store)
    # B. Item 2: tree functions and type objects return Any.
    _parent: int = get_parent(todo)
    _array: int = types.array(Todo).create()
    # B. No item covers it yet: a computed is not read-only to the checkers.
    todo.label = "x"
