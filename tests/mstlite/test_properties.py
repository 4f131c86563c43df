"""Hypothesis properties: snapshot round trips, patch replay and undo, transactions."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import mstlite.patch
from mstlite import (
    Model,
    PatchError,
    action,
    apply_patch,
    apply_snapshot,
    clone,
    get_snapshot,
    on_patch,
    on_snapshot,
    record_patches,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

IDS = [f"t{i}" for i in range(12)]
texts = st.text(alphabet="ab/~ c", max_size=6)


@st.composite
def todo_snapshots(draw: st.DrawFn, identifier: str) -> dict[str, Any]:
    snapshot: dict[str, Any] = {"id": identifier}
    if draw(st.booleans()):
        snapshot["title"] = draw(texts)
    if draw(st.booleans()):
        snapshot["done"] = draw(st.booleans())
    if draw(st.booleans()):
        snapshot["tags"] = draw(st.lists(texts, max_size=3))
    if draw(st.booleans()):
        snapshot["kind"] = draw(st.sampled_from(["task", "note"]))
    return snapshot


@st.composite
def store_snapshots(draw: st.DrawFn, safe_references: bool = True) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(IDS), unique=True, max_size=8))
    split = draw(st.integers(0, len(ids)))
    in_list, in_map = ids[:split], ids[split:]
    snapshot: dict[str, Any] = {}
    if in_list or draw(st.booleans()):
        snapshot["todos"] = [draw(todo_snapshots(i)) for i in in_list]
    if in_map or draw(st.booleans()):
        snapshot["by_owner"] = {i: draw(todo_snapshots(i)) for i in in_map}
    if ids and draw(st.booleans()):
        snapshot["selected"] = draw(st.sampled_from(ids))
    if ids and safe_references and draw(st.booleans()):
        snapshot["favorites"] = draw(st.lists(st.sampled_from(ids), max_size=4))
    return snapshot


def normalized_todo(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {"title": "", "done": False, "tags": [], "kind": "task", **snapshot}


def normalized_store(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "todos": [normalized_todo(t) for t in snapshot.get("todos", [])],
        "by_owner": {k: normalized_todo(v) for k, v in snapshot.get("by_owner", {}).items()},
        "selected": snapshot.get("selected"),
        "favorites": list(snapshot.get("favorites", [])),
    }


@given(st.sampled_from(IDS).flatmap(todo_snapshots))
@SETTINGS
def test_todo_round_trip(Todo: Any, snapshot: dict[str, Any]) -> None:
    todo = Todo.create(snapshot)
    assert get_snapshot(todo) == normalized_todo(snapshot)
    assert get_snapshot(Todo.create(get_snapshot(todo))) == get_snapshot(todo)


@given(store_snapshots())
@SETTINGS
def test_store_round_trip(Store: Any, snapshot: dict[str, Any]) -> None:
    store = Store.create(snapshot)
    expected = normalized_store(snapshot)
    assert get_snapshot(store) == expected
    assert json.loads(json.dumps(get_snapshot(store))) == expected
    assert get_snapshot(clone(store)) == expected


# ------------------------------------------------------------------ operations
Op = Callable[[Any], None]


KINDS = [
    "append",
    "insert",
    "pop",
    "set_title",
    "toggle",
    "tags",
    "splice",
    "clear",
    "reverse",
    "sort",
    "map_put",
    "map_del",
    "map_set",
    "select",
    "favorite",
    "replace_todo",
    "apply_snapshot",
]


@st.composite
def operations(draw: st.DrawFn, safe_references: bool = True) -> list[tuple[str, Op]]:
    """A list of (description, change) pairs; each change adapts to the current store."""
    fresh = iter(f"n{i}" for i in range(100))
    ops: list[tuple[str, Op]] = []
    kinds = KINDS if safe_references else [k for k in KINDS if k != "favorite"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(kinds))
        index = draw(st.integers(0, 20))
        text = draw(texts)
        count = draw(st.integers(0, 3))
        new_id = next(fresh)
        flag = draw(st.booleans())
        ops.append((kind, _make_op(kind, index, text, count, new_id, flag)))
    return ops


def _make_op(kind: str, index: int, text: str, count: int, new_id: str, flag: bool) -> Op:
    def pick(seq: Any) -> int:
        return index % len(seq)

    def op(s: Any) -> None:
        todos = s.todos
        if kind == "append":
            todos.append({"id": new_id, "title": text})
        elif kind == "insert":
            todos.insert(index % (len(todos) + 1), {"id": new_id, "tags": [text]})
        elif kind == "pop" and todos:
            todos.pop(pick(todos))
        elif kind == "set_title" and todos:
            todos[pick(todos)].title = text
        elif kind == "toggle" and todos:
            todos[pick(todos)].toggle()
        elif kind == "tags" and todos:
            tags = todos[pick(todos)].tags
            if flag and tags:
                del tags[pick(tags)]
            else:
                tags.extend([text] * count)
        elif kind == "splice":
            start = index % (len(todos) + 1)
            todos[start : start + count] = [
                {"id": f"{new_id}_{i}"} for i in range(count if flag else 1)
            ]
        elif kind == "clear":
            todos.clear()
        elif kind == "reverse":
            todos.reverse()
        elif kind == "sort":
            todos.sort(key=lambda t: t.title, reverse=flag)
        elif kind == "map_put":
            s.by_owner.put({"id": new_id, "title": text})
        elif kind == "map_del" and s.by_owner:
            keys = list(s.by_owner)
            del s.by_owner[keys[pick(keys)]]
        elif kind == "map_set" and s.by_owner:
            keys = list(s.by_owner)
            key = keys[pick(keys)]
            s.by_owner[key] = {"id": key, "title": text, "done": flag}
        elif kind == "select":
            s.selected = todos[pick(todos)] if todos and flag else None
        elif kind == "favorite" and todos:
            s.favorites.append(todos[pick(todos)])
        elif kind == "replace_todo" and todos:
            position = pick(todos)
            old = get_snapshot(todos[position])
            same = {**old, "title": text} if flag else {"id": new_id, "title": text}
            todos[position] = same
        elif kind == "apply_snapshot":
            snapshot = [dict(t) for t in get_snapshot(todos)]
            snapshot.reverse()
            if snapshot:
                snapshot[0]["title"] = text
            apply_snapshot(todos, snapshot)

    return op


def _run_all(store: Any, ops: list[tuple[str, Op]]) -> None:
    for _, op in ops:
        store.run(op)


def _check_replay_and_undo(Store: Any, snapshot: dict[str, Any], ops: list[tuple[str, Op]]) -> None:
    store = Store.create(snapshot)
    first = get_snapshot(store)
    copy = clone(store)
    recorder = record_patches(store)
    _run_all(store, ops)
    recorder.stop()
    final = get_snapshot(store)
    # JSON round trip: the patches must survive travelling to another process
    patches = json.loads(json.dumps(recorder.patches))
    inverse = json.loads(json.dumps(recorder.inverse_patches))
    apply_patch(copy, patches)
    assert get_snapshot(copy) == final
    apply_patch(copy, list(reversed(inverse)))
    assert get_snapshot(copy) == first
    apply_patch(store, list(reversed(inverse)))
    assert get_snapshot(store) == first


@given(store_snapshots(), operations())
@example(  # a removed target that safe references point to (found by this property)
    snapshot={"todos": [{"id": "t1"}], "by_owner": {"t0": {"id": "t0"}}, "favorites": ["t0", "t1"]},
    ops=[("map_del", _make_op("map_del", 0, "", 0, "n0", False))],
)
@SETTINGS
def test_recorded_patches_replay_and_undo(
    Store: Any, snapshot: dict[str, Any], ops: list[tuple[str, Op]]
) -> None:
    _check_replay_and_undo(Store, snapshot, ops)


@given(store_snapshots(safe_references=False), operations(safe_references=False))
@SETTINGS
def test_recorded_patches_replay_and_undo_without_safe_references(
    Store: Any, snapshot: dict[str, Any], ops: list[tuple[str, Op]]
) -> None:
    """The same property, with no safe reference to clean up (see the test above)."""
    _check_replay_and_undo(Store, snapshot, ops)


@given(store_snapshots(), operations(), st.integers(0, 8))
@SETTINGS
def test_action_raising_at_random_point_restores_snapshot(
    Store: Any, snapshot: dict[str, Any], ops: list[tuple[str, Op]], fail_at: int
) -> None:
    store = Store.create(snapshot)
    store.todos  # noqa: B018
    before = get_snapshot(store)
    nodes = list(store.todos)
    seen: list[Any] = []
    on_patch(store, lambda p, inv: seen.append(p))
    on_snapshot(store, seen.append)

    def body(s: Any) -> None:
        for position, (_, op) in enumerate(ops):
            if position == fail_at:
                break
            op(s)

    with pytest.raises(RuntimeError):
        store.fail_after(body)
    assert get_snapshot(store) is before
    assert list(store.todos) == nodes
    assert seen == []
    # the tree still works normally afterwards
    _run_all(store, ops)
    assert get_snapshot(Store.create(get_snapshot(store))) == get_snapshot(store)


@pytest.mark.skipif(not hasattr(mstlite.patch, "apply"), reason="mstlite.patch.apply is missing")
@given(store_snapshots(), operations())
@SETTINGS
def test_apply_patch_agrees_with_patch_apply(
    Store: Any, snapshot: dict[str, Any], ops: list[tuple[str, Op]]
) -> None:
    store = Store.create(snapshot)
    first = get_snapshot(store)
    with record_patches(store) as recorder:
        _run_all(store, ops)
    target = Store.create(first)
    apply_patch(target, recorder.patches)
    assert mstlite.patch.apply(first, recorder.patches) == get_snapshot(target)
    assert get_snapshot(target) == get_snapshot(store)


# ------------------------------------------------- the core as a state machine
class Core(Model):
    """A small tree for the state machine: a scalar, an array and a map."""

    count: int = 0
    values: list[int] = []
    named: dict[str, int] = {}

    @action
    def run(self, fn: Callable[[], Any]) -> Any:
        return fn()


CoreOp = tuple[str, int, str]
core_ops = st.tuples(
    st.sampled_from(["count", "append", "pop", "put", "delete"]),
    st.integers(0, 9),
    st.sampled_from(["a", "b", "c"]),
)


def _apply_core(op: CoreOp, core: Core, reference: dict[str, Any]) -> None:
    """Apply ``op`` to the live tree (inside an action) and to the plain reference."""
    kind, number, key = op
    if kind == "count":
        reference["count"] = number
        core.count = number
    elif kind == "append":
        reference["values"].append(number)
        core.values.append(number)
    elif kind == "pop" and reference["values"]:
        position = number % len(reference["values"])
        del reference["values"][position]
        core.values.pop(position)
    elif kind == "put":
        reference["named"][key] = number
        core.named[key] = number
    elif kind == "delete" and key in reference["named"]:
        del reference["named"][key]
        del core.named[key]


class Interrupted(Exception):
    """Raised by the innermost nested action of a rule."""


class CoreMachine(RuleBasedStateMachine):
    """Actions, nested actions that raise and are caught at some level, and failing
    patch batches, checked against a plain-Python reference after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.core = Core.create()
        self.reference: dict[str, Any] = {"count": 0, "values": [], "named": {}}
        self.mirror = Core.create()
        self.patches: list[Any] = []
        on_patch(self.core, lambda patch, inverse: self.patches.append(patch))

    @rule(op=core_ops)
    def plain_action(self, op: CoreOp) -> None:
        self.core.run(lambda: _apply_core(op, self.core, self.reference))

    @rule(
        before=core_ops,
        levels=st.lists(core_ops, min_size=1, max_size=3),
        catch=st.integers(-1, 1),
        after=core_ops,
    )
    def nested_failure_caught(
        self, before: CoreOp, levels: list[CoreOp], catch: int, after: CoreOp
    ) -> None:
        """Levels of nested actions, each writing then calling the next; the innermost
        raises, and the level ``catch`` (-1: the outer action) catches it and goes on."""
        catch = min(catch, len(levels) - 2)
        core, work = self.core, self.reference

        def call(depth: int) -> None:
            core.run(lambda: level(depth))

        def guarded(depth: int) -> None:
            saved = copy.deepcopy(work)
            try:
                call(depth)
            except Interrupted:  # a savepoint: back to the state before the call
                work.clear()
                work.update(saved)

        def level(depth: int) -> None:
            _apply_core(levels[depth], core, work)
            if depth == len(levels) - 1:
                raise Interrupted
            (guarded if depth == catch else call)(depth + 1)

        def outer() -> None:
            _apply_core(before, core, work)
            (guarded if catch == -1 else call)(0)
            _apply_core(after, core, work)

        core.run(outer)

    @rule(op=core_ops)
    def failing_patch_batch_caught(self, op: CoreOp) -> None:
        def body() -> None:
            _apply_core(op, self.core, self.reference)
            batch = [
                {"op": "replace", "path": "/count", "value": 12345},
                {"op": "add", "path": "/values/-", "value": 1},
                {"op": "remove", "path": "/named/missing-key"},
            ]
            try:
                apply_patch(self.core, batch)
            except PatchError:
                pass

        self.core.run(body)

    @rule()
    def failing_outer_action(self) -> None:
        def body() -> None:
            self.core.count += 1
            self.core.values.append(7)
            raise Interrupted

        try:
            self.core.run(body)
        except Interrupted:
            pass

    @invariant()
    def matches_the_reference(self) -> None:
        assert get_snapshot(self.core) == self.reference

    @invariant()
    def patches_replay_to_the_same_state(self) -> None:
        apply_patch(self.mirror, self.patches)
        self.patches.clear()
        assert get_snapshot(self.mirror) == get_snapshot(self.core)


TestCoreMachine = CoreMachine.TestCase
TestCoreMachine.settings = settings(
    max_examples=40,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
