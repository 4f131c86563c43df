"""What the checkers cannot see, kept pinned so a change in either shows here.

This file must be clean under both checkers, like the others:

- Section A: a README-style idiom that works at run time but that a checker
  rejects by design: a field annotated ``list[Todo]`` is a ``list[Todo]`` to
  it, so appending a snapshot dict is an error. The typed form,
  ``Todo(id=..., title=...)``, checks (``readme_examples.py``); each line here
  carries the errors seen, so a checker that starts accepting it fails the test.
- Section B: mistakes the checkers miss because the model declares no snapshot
  types (``Model[StoreSnapshot, StoreSnapshotIn]`` makes them caught: see
  ``mistakes.py``), and a tree function whose result type cannot be known
  (``get_parent``: the parent's type is not known from the child's), and a
  misspelt ``unknown_keys`` class keyword (mypy does not check a metaclass's
  keywords; pyright does, so that line carries pyright's error). No
  comment, no error; a checker that starts flagging one fails the test (then
  move it to ``mistakes.py``).
"""

from __future__ import annotations

from mstlite import Identifier, Model, action, get_parent


class Todo(Model):
    id: Identifier
    title: str = ""


class Store(Model):
    todos: list[Todo] = []

    @action
    def add(self, title: str) -> None:
        # A. A snapshot dict appended to a list[Todo] (run time: fine).
        self.todos.append({"id": str(len(self.todos)), "title": title})  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]

    @action
    def replace_first(self) -> None:
        # A. Assigning a snapshot dict to an item of a list[Todo] (run time: fine).
        self.todos[0] = {"id": "z"}  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue, reportArgumentType]


def missed_mistakes(store: Store, todo: Todo) -> None:
    # B. No declared SnapshotIn: create takes any mapping (ValidationError at run time).
    Store.create({"todoz": []})
    Store.create({"todos": [{"id": 1}]})
    # B. get_parent is Any: annotate it, or use get_parent_of_type(todo, Store).
    _parent: int = get_parent(todo)


# B. A misspelt ``unknown_keys`` value: pyright checks a metaclass's class keywords,
# mypy does not (TypeError at run time, when the class is defined).
class Misspelt(Model, unknown_keys="dorp"):  # pyright: ignore[reportArgumentType]
    title: str = ""
