"""The Python references: pydantic v2 models, ``copy.deepcopy`` and ``jsonpatch``.

Each does what the mstlite workload of the same name does, as far as the
library can: pydantic builds and dumps the same snapshot, ``deepcopy`` is the
naive way to take and copy snapshots, and ``jsonpatch`` applies the same
patches to a plain dict. Same factory protocol as ``_workloads_mstlite``.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from benchmarks._data import Dataset
from benchmarks._timing import (
    Iteration,
    Recorder,
    WorkloadFactory,
    check,
    clock,
    measure_growth,
)

__all__ = ["WORKLOADS"]


class PydanticMeta(BaseModel):
    priority: int
    note: str | None


class PydanticTodo(BaseModel):
    id: str
    title: str
    done: bool
    tags: list[str]
    meta: PydanticMeta


class PydanticStore(BaseModel):
    todos: list[PydanticTodo]


# ---------------------------------------------------------------- pydantic


def _pydantic_create(data: Dataset) -> Iteration:
    snapshot = data["snapshot"]

    def iteration(recorder: Recorder) -> None:
        start = clock()
        store = PydanticStore.model_validate(snapshot)
        created = clock()
        titles = [todo.title for todo in store.todos]
        read = clock()
        recorder.record("create", created - start)
        recorder.record("read_titles", read - created)
        recorder.record("total", read - start)
        check(titles == [todo["title"] for todo in snapshot["todos"]], "titles differ")

    return iteration


def _pydantic_snapshot(data: Dataset) -> Iteration:
    initial = data["snapshot"]
    first_index, next_index = data["changed_indices"]
    after_first, after_next = data["after_changes"]

    def toggle(store: PydanticStore, index: int) -> None:
        todo = store.todos[index]
        todo.done = not todo.done

    def iteration(recorder: Recorder) -> None:
        store = PydanticStore.model_validate(initial)
        start = clock()
        first = store.model_dump()
        first_done = clock()
        store.model_dump()  # pydantic keeps no snapshot: this is the same work again
        again_done = clock()
        toggle(store, first_index)
        changed = clock()
        after_one = store.model_dump()
        after_one_done = clock()
        toggle(store, next_index)
        changed_again = clock()
        after_two = store.model_dump()
        after_two_done = clock()
        recorder.record("first", first_done - start)
        recorder.record("unchanged", again_done - first_done)
        recorder.record("after_first_change", after_one_done - changed)
        recorder.record("after_next_change", after_two_done - changed_again)
        check(first == initial, "model_dump differs from the input")
        check(after_one == after_first and after_two == after_next, "model_dump is wrong")

    return iteration


def _pydantic_memory(data: Dataset) -> Iteration:
    snapshot = data["snapshot"]

    def build() -> object:
        return PydanticStore.model_validate(snapshot)

    return lambda recorder: measure_growth(build, recorder, len(snapshot["todos"]))


# ---------------------------------------------------------------- deepcopy


def _deepcopy_create(data: Dataset) -> Iteration:
    snapshot = data["snapshot"]

    def iteration(recorder: Recorder) -> None:
        start = clock()
        store = copy.deepcopy(snapshot)
        created = clock()
        titles = [todo["title"] for todo in store["todos"]]
        read = clock()
        recorder.record("create", created - start)
        recorder.record("read_titles", read - created)
        recorder.record("total", read - start)
        check(len(titles) == len(snapshot["todos"]), "titles missing")

    return iteration


def _deepcopy_snapshot(data: Dataset) -> Iteration:
    initial = data["snapshot"]
    first_index, next_index = data["changed_indices"]
    after_first, after_next = data["after_changes"]

    def toggle(state: dict[str, Any], index: int) -> None:
        todo = state["todos"][index]
        todo["done"] = not todo["done"]

    def iteration(recorder: Recorder) -> None:
        state = copy.deepcopy(initial)  # the live state a naive store copies snapshots from
        start = clock()
        first = copy.deepcopy(state)
        first_done = clock()
        copy.deepcopy(state)
        again_done = clock()
        toggle(state, first_index)
        changed = clock()
        after_one = copy.deepcopy(state)
        after_one_done = clock()
        toggle(state, next_index)
        changed_again = clock()
        after_two = copy.deepcopy(state)
        after_two_done = clock()
        recorder.record("first", first_done - start)
        recorder.record("unchanged", again_done - first_done)
        recorder.record("after_first_change", after_one_done - changed)
        recorder.record("after_next_change", after_two_done - changed_again)
        check(first == initial, "the copy differs from the input")
        check(after_one == after_first and after_two == after_next, "a copy is wrong")

    return iteration


def _deepcopy_memory(data: Dataset) -> Iteration:
    snapshot = data["snapshot"]
    return lambda recorder: measure_growth(
        lambda: copy.deepcopy(snapshot), recorder, len(snapshot["todos"])
    )


# ---------------------------------------------------------------- jsonpatch


def _jsonpatch_apply_patch(data: Dataset) -> Iteration:
    import jsonpatch  # a dev extra: the runner skips this side when it is missing

    initial, patches, final = data["snapshot"], data["patches"], data["final"]

    def iteration(recorder: Recorder) -> None:
        document: Any = copy.deepcopy(initial)
        start = clock()
        # One call, in place: the fresh copy above is the "fresh tree".
        document = jsonpatch.apply_patch(document, patches, in_place=True)
        recorder.record("apply_patch", clock() - start)
        check(document == final, "jsonpatch produced another document")

    return iteration


WORKLOADS: dict[str, dict[str, WorkloadFactory]] = {
    "pydantic": {
        "create": _pydantic_create,
        "snapshot": _pydantic_snapshot,
        "memory": _pydantic_memory,
    },
    "deepcopy": {
        "create": _deepcopy_create,
        "snapshot": _deepcopy_snapshot,
        "memory": _deepcopy_memory,
    },
    "jsonpatch": {"apply_patch": _jsonpatch_apply_patch},
}
"""Reference side -> workload name -> factory of the iteration to repeat."""
