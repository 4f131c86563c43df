"""The workloads on mstlite: the todo store, and one factory per workload.

A factory takes the workload's :data:`~benchmarks._data.Dataset`, does the
untimed preparation, and returns the iteration the worker repeats. Each
iteration builds what it needs untimed, times only the operation under test,
then checks (untimed) that the tree ended in the expected state. Trees that
are not themselves under test are materialized first (every todo's title
read), as in a running app: MST builds nodes lazily, and its first reads
would otherwise be billed to the operation measured.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any, cast

from benchmarks._data import Dataset
from benchmarks._timing import (
    Iteration,
    Recorder,
    WorkloadFactory,
    check,
    clock,
    measure_growth,
)
from mstlite import (
    Identifier,
    Model,
    action,
    add_middleware,
    apply_patch,
    apply_snapshot,
    computed,
    get_snapshot,
    on_patch,
    reaction,
    record_patches,
)
from mstlite.typing import Patch
from mstlite.undo import UndoManager

__all__ = ["WORKLOADS", "Meta", "Store", "Todo"]


class Meta(Model):
    """A todo's metadata: a nested model, so each todo has two child nodes."""

    priority: int
    note: str | None


class Todo(Model):
    """One todo; ``toggle`` is the action every mutation workload calls."""

    id: Identifier
    title: str
    done: bool
    tags: list[str]
    meta: Meta

    @action
    def toggle(self) -> None:
        self.done = not self.done


class Store(Model):
    """The root: the todos, and the ``done_count`` view of the computed workload."""

    todos: list[Todo]

    @computed
    def done_count(self) -> int:
        return sum(1 for todo in self.todos if todo.done)


def _materialized(snapshot: dict[str, Any]) -> Store:
    """A tree built from ``snapshot`` whose every todo has been read (untimed setup)."""
    store = Store.create(snapshot)
    for todo in store.todos:
        _ = todo.title
    return store


def _settled() -> None:
    """Collect what the untimed setup left to the cyclic collector, before a timed phase.

    ``create`` pauses the collector while it builds, so a new tree sits whole in
    the youngest generations, and the first pass over them (about 10 ms for
    10,000 todos) falls in whatever timed phase first allocates enough objects
    that survive, such as the patches a listener keeps, and never in a phase
    that keeps nothing, such as bare actions. It is the setup's cost, not the
    listener's: ``run_iterations`` collects before each iteration for the same
    reason.
    """
    gc.collect()


def _bare_toggles(
    initial: dict[str, Any], toggles: list[int], final: dict[str, Any], recorder: Recorder
) -> Store:
    """The toggles on a new tree nobody listens to, timed as "bare"; returns the tree
    (kept alive by the caller, as the listened tree's phase is measured beside it)."""
    bare = _materialized(initial)
    todos = list(bare.todos)
    _settled()
    start = clock()
    for index in toggles:
        todos[index].toggle()
    recorder.record("bare", clock() - start)
    check(get_snapshot(bare) == final, "the tree after the bare actions is wrong")
    return bare


def _create(data: Dataset) -> Iteration:
    snapshot = data["snapshot"]

    def iteration(recorder: Recorder) -> None:
        start = clock()
        store = Store.create(snapshot)
        created = clock()
        titles = [todo.title for todo in store.todos]
        read = clock()
        recorder.record("create", created - start)
        recorder.record("read_titles", read - created)
        recorder.record("total", read - start)
        check(titles == [todo["title"] for todo in snapshot["todos"]], "titles differ")
        check(get_snapshot(store) == snapshot, "the created tree's snapshot differs from its input")

    return iteration


def _snapshot(data: Dataset) -> Iteration:
    initial = data["snapshot"]
    first_index, next_index = data["changed_indices"]
    after_first, after_next = data["after_changes"]

    def iteration(recorder: Recorder) -> None:
        store = _materialized(initial)
        start = clock()
        first = get_snapshot(store)
        first_done = clock()
        again = get_snapshot(store)
        again_done = clock()
        store.todos[first_index].toggle()
        changed = clock()
        after_one: Any = get_snapshot(store)  # JSON values: indexed as the dicts they are
        after_one_done = clock()
        store.todos[next_index].toggle()
        changed_again = clock()
        after_two: Any = get_snapshot(store)
        after_two_done = clock()
        # The floor of a rebuilt array snapshot: a plain copy of its child list, kept
        # alive as a snapshot is (fresh memory: on some VMs its page faults dominate).
        copy_start = clock()
        copied = list(after_two["todos"])
        copy_done = clock()
        recorder.record("first", first_done - start)
        recorder.record("unchanged", again_done - first_done)
        recorder.record("after_first_change", after_one_done - changed)
        recorder.record("after_next_change", after_two_done - changed_again)
        recorder.record("children_copy", copy_done - copy_start)
        check(first == initial, "the first snapshot differs from the input")
        check(copied == after_two["todos"], "the copy of the child list differs")
        check(again is first, "an unchanged tree gave a new snapshot object")
        check(after_one == after_first and after_two == after_next, "a snapshot is wrong")
        shared = after_two["todos"][first_index] is after_one["todos"][first_index]
        check(shared, "an unchanged todo's snapshot was rebuilt, not shared")

    return iteration


def _actions(data: Dataset) -> Iteration:
    initial, toggles, patches, final = (
        data["snapshot"],
        data["toggles"],
        data["patches"],
        data["final"],
    )

    def iteration(recorder: Recorder) -> None:
        # The same toggles with nobody listening first: the listener's overhead.
        bare = _bare_toggles(initial, toggles, final, recorder)

        store = _materialized(initial)
        todos = list(store.todos)  # indexing the array is not what is measured
        heard: list[Any] = []
        dispose = on_patch(store, lambda patch, _inverse: heard.append(patch))
        _settled()
        start = clock()
        for index in toggles:
            todos[index].toggle()
        recorder.record("actions", clock() - start)
        dispose()
        check(heard == patches, "the listener heard other patches than expected")
        check(get_snapshot(store) == final, "the tree after the actions is wrong")
        del bare  # alive through the listened phase, as a second tree is in an app

    return iteration


def _apply_patch(data: Dataset) -> Iteration:
    initial, toggles, final = data["snapshot"], data["toggles"], data["final"]
    # The patches of the actions workload, recorded the same way (untimed).
    source = Store.create(initial)
    todos = list(source.todos)
    with record_patches(source) as recorder:
        for index in toggles:
            todos[index].toggle()
    patches = recorder.patches
    check(patches == data["patches"], "the recorded patches are not the expected ones")

    def iteration(recorder: Recorder) -> None:
        store = _materialized(initial)  # as MST's side: its best form (see bench.js)
        start = clock()
        apply_patch(store, patches)
        recorder.record("apply_patch", clock() - start)
        check(get_snapshot(store) == final, "the tree after apply_patch is wrong")

    return iteration


def _computed(data: Dataset) -> Iteration:
    initial, toggles = data["snapshot"], data["toggles"]
    expected = _running_done_counts(initial, toggles)

    def iteration(recorder: Recorder) -> None:
        store = _materialized(initial)
        todos = list(store.todos)
        effects: list[int] = []
        dispose = reaction(lambda: store.done_count, effects.append)
        counts: list[int] = []
        start = clock()
        for index in toggles:
            todos[index].toggle()
            counts.append(store.done_count)
        recorder.record("toggle_and_read", clock() - start)
        dispose()
        check(counts == expected, "done_count read a wrong value")
        check(effects == expected, "the reaction did not run once per changed count")

    return iteration


def _running_done_counts(snapshot: dict[str, Any], toggles: list[int]) -> list[int]:
    """The done count after each toggle: every toggle moves it by one."""
    done = [todo["done"] for todo in snapshot["todos"]]
    count = sum(done)
    counts = []
    for index in toggles:
        done[index] = not done[index]
        count += 1 if done[index] else -1
        counts.append(count)
    return counts


def _apply_snapshot(data: Dataset) -> Iteration:
    initial, edited = data["snapshot"], data["edited"]
    kept = next(i for i, todo in enumerate(edited["todos"]) if todo is initial["todos"][i])

    def iteration(recorder: Recorder) -> None:
        store = _materialized(initial)
        unchanged = store.todos[kept]
        start = clock()
        apply_snapshot(store, edited)
        recorder.record("apply_snapshot", clock() - start)
        check(get_snapshot(store) == edited, "the reconciled tree differs from the snapshot")
        check(store.todos[kept] is unchanged, "an unchanged todo was rebuilt, not reused")

    return iteration


def _memory(data: Dataset) -> Iteration:
    snapshot = data["snapshot"]
    count = len(snapshot["todos"])
    return lambda recorder: measure_growth(lambda: _materialized(snapshot), recorder, count)


def _fanout(data: Dataset) -> Iteration:
    initial, toggles = data["snapshot"], data["toggles"]

    def watch(todo: Todo) -> Callable[[], bool]:
        return lambda: todo.done

    def iteration(recorder: Recorder) -> None:
        store = _materialized(initial)
        todos = list(store.todos)
        effects: list[bool] = []
        start = clock()
        disposers = [reaction(watch(todo), effects.append) for todo in todos]
        subscribed = clock()
        for index in toggles:
            todos[index].toggle()
        committed = clock()
        recorder.record("subscribe", subscribed - start)
        recorder.record("commits", committed - subscribed)
        for dispose in disposers:
            dispose()
        # Each commit flips one todo, so exactly one reaction runs per commit.
        check(len(effects) == len(toggles), f"{len(effects)} effects for {len(toggles)} commits")

    return iteration


def _middleware(data: Dataset) -> Iteration:
    """The actions workload bare, then with a middleware and an UndoManager attached."""
    initial, toggles, final = data["snapshot"], data["toggles"], data["final"]

    def iteration(recorder: Recorder) -> None:
        bare = _bare_toggles(initial, toggles, final, recorder)

        store = _materialized(initial)
        todos = list(store.todos)
        calls = 0

        def count(call: Any, next_: Callable[[Any], Any]) -> Any:
            nonlocal calls
            calls += 1
            return next_(call)

        remove = add_middleware(store, count)
        undo = UndoManager(store, max_history=len(toggles))
        _settled()
        start = clock()
        for index in toggles:
            todos[index].toggle()
        recorder.record("middleware+undo", clock() - start)
        check(calls == len(toggles), "the middleware missed actions")
        check(get_snapshot(store) == final, "the tree after the actions is wrong")
        check(len(undo.history) == len(toggles), "the UndoManager missed entries")
        undo.dispose()
        remove()
        del bare  # alive through the middleware phase, as in the actions workload

    return iteration


class Registry(Model):
    """The map_snapshot workload's root: one map of many scalar entries."""

    entries: dict[str, int]

    @action
    def bump(self, key: str) -> None:
        self.entries[key] += 1


def _map_snapshot(data: Dataset) -> Iteration:
    """``get_snapshot`` of a map of ``n`` keys after one entry changed (its first and
    its steady state), as the snapshot workload does for the todo array."""
    entries = data["entries"]
    first_key, next_key = data["changed_keys"]

    def iteration(recorder: Recorder) -> None:
        registry = Registry(entries=entries)
        before: Any = get_snapshot(registry)  # JSON values: indexed as the dicts they are
        registry.bump(first_key)
        start = clock()
        after_one: Any = get_snapshot(registry)
        recorder.record("after_first_change", clock() - start)
        registry.bump(next_key)
        start = clock()
        after_two: Any = get_snapshot(registry)
        recorder.record("after_next_change", clock() - start)
        start = clock()
        copied = dict(after_two["entries"])  # the floor: a plain copy of the map's entries
        recorder.record("children_copy", clock() - start)
        check(copied == after_two["entries"], "the copy of the entries differs")
        check(before["entries"] == entries, "the map's first snapshot differs from its input")
        check(after_one["entries"][first_key] == entries[first_key] + 1, "a snapshot is stale")
        check(after_two["entries"][next_key] == entries[next_key] + 1, "a snapshot is stale")
        check(len(after_two["entries"]) == len(entries), "the snapshot lost entries")

    return iteration


class Pair(Model):
    """An item without an identifier: MST reuses its node only given its own snapshot."""

    a: str
    b: int


class Pairs(Model):
    """The root of the unidentified workload."""

    items: list[Pair]


def _unidentified(data: Dataset) -> Iteration:
    """``apply_snapshot`` of a ``list[Model]`` snapshot made of the items' own snapshots:
    unchanged, then with one item changed (one ``replace`` of the array, as in MST)."""

    n: int = data["n"]

    def iteration(recorder: Recorder) -> None:
        store = Pairs.create({"items": [{"a": str(i), "b": i} for i in range(n)]})
        heard: list[Patch] = []
        on_patch(store, lambda patch, inverse: heard.append(patch))
        nodes = list(store.items)
        items: list[Any] = list(cast(Any, get_snapshot(store))["items"])
        start = clock()
        apply_snapshot(store, {"items": items})
        recorder.record("unchanged", clock() - start)
        check(heard == [], "applying the tree's own snapshot emitted patches")
        changed = n // 2
        items[changed] = {"a": "changed", "b": -1}
        start = clock()
        apply_snapshot(store, {"items": items})
        recorder.record("one_changed", clock() - start)
        check(len(heard) == 1 and heard[0]["path"] == "/items", "expected one replace of /items")
        check(store.items[0] is nodes[0] and store.items[n - 1] is nodes[n - 1],
              "an unchanged item was rebuilt, not reused")
        check(store.items[changed] is not nodes[changed], "the changed item kept its node")

    return iteration


WORKLOADS: dict[str, WorkloadFactory] = {
    "create": _create,
    "snapshot": _snapshot,
    "actions": _actions,
    "apply_patch": _apply_patch,
    "computed": _computed,
    "apply_snapshot": _apply_snapshot,
    "memory": _memory,
    "fanout": _fanout,
    "middleware": _middleware,
    "map_snapshot": _map_snapshot,
    "unidentified": _unidentified,
}
"""Workload name -> factory of the iteration to repeat."""
