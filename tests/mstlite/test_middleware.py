"""Middleware, the action log (on_action, record_actions, apply_action)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from mstlite import (
    ActionContext,
    Identifier,
    Model,
    MstError,
    action,
    add_middleware,
    apply_action,
    clone,
    get_snapshot,
    on_action,
    on_patch,
    record_actions,
)


class Item(Model):
    id: Identifier
    count: int = 0

    @action
    def bump(self, by: int = 1) -> int:
        self.count += by
        return self.count


class Shelf(Model):
    items: list[Item] = []
    picked: list[str] = []
    note: str = ""

    @action
    def add(self, id: str) -> Item:
        self.items.append({"id": id})
        return self.items[-1]

    @action
    def add_and_bump(self, id: str, by: int) -> None:
        self.add(id).bump(by)

    @action
    def pick(self, item: Item) -> None:
        self.picked.append(item.id)

    @action
    def set_note(self, note: str, *, upper: bool = False) -> None:
        self.note = note.upper() if upper else note

    @action
    def fail(self) -> None:
        self.note = "failing"
        raise ValueError("fail")

    @action
    async def slow_add(self, id: str) -> str:
        self.add(id)
        await asyncio.sleep(0)
        self.items[-1].bump(10)
        return id


Log = list[tuple[Any, ...]]


def recording(log: Log) -> Callable[[ActionContext, Callable[[ActionContext], Any]], Any]:
    def middleware(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        log.append((call.type, call.name, list(call.args), call.id, call.parent_id, call.root_id))
        return next_(call)

    return middleware


# ------------------------------------------------------------------ middleware
def test_middleware_sees_action_with_context() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    seen: list[ActionContext] = []

    def middleware(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        seen.append(call)
        return next_(call)

    add_middleware(shelf, middleware)
    assert shelf.items[0].bump(3) == 3
    (call,) = seen
    assert call.name == "bump"
    assert call.type == "action"
    assert call.args == [3]
    assert call.context is shelf.items[0]
    assert call.tree is shelf
    assert call.parent_id == 0
    assert call.root_id == call.id
    shelf.set_note("x", upper=True)
    assert seen[1].kwargs == {"upper": True}
    assert shelf.note == "X"


def test_nested_actions_ids() -> None:
    shelf = Shelf.create()
    log: Log = []
    add_middleware(shelf, recording(log))
    shelf.add_and_bump("a", 2)
    (outer, add, bump) = log
    assert [entry[:3] for entry in log] == [
        ("action", "add_and_bump", ["a", 2]),
        ("action", "add", ["a"]),
        ("action", "bump", [2]),
    ]
    assert outer[4] == 0
    assert outer[5] == outer[3]
    assert add[4] == outer[3]
    assert bump[4] == outer[3]
    assert add[5] == bump[5] == outer[3]
    assert len({outer[3], add[3], bump[3]}) == 3


def test_middleware_on_subtree_and_ancestors() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    order: list[str] = []

    def named(name: str) -> Callable[[ActionContext, Callable[[ActionContext], Any]], Any]:
        def middleware(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
            order.append(f"{name}:{call.name}")
            return next_(call)

        return middleware

    add_middleware(shelf, named("root"))
    add_middleware(shelf.items[0], named("item"))
    shelf.items[0].bump()
    assert order == ["item:bump", "root:bump"]
    order.clear()
    shelf.set_note("x")
    assert order == ["root:set_note"]


def test_middleware_rewrites_arguments() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})

    def double(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        if call.name == "bump":
            call.args = [call.args[0] * 2]
        return next_(call)

    add_middleware(shelf, double)
    assert shelf.items[0].bump(5) == 10
    assert shelf.items[0].count == 10


def test_middleware_replaces_result() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    add_middleware(shelf, lambda call, next_: ("wrapped", next_(call)))
    assert shelf.items[0].bump() == ("wrapped", 1)


def test_middleware_aborts() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    before = get_snapshot(shelf)
    patches: list[Any] = []
    on_patch(shelf, lambda p, inv: patches.append(p))

    def abort(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        return "aborted" if call.name == "bump" else next_(call)

    add_middleware(shelf, abort)
    assert shelf.items[0].bump() == "aborted"
    assert get_snapshot(shelf) is before
    assert patches == []
    shelf.set_note("y")
    assert shelf.note == "y"


def test_middleware_raising_rolls_back() -> None:
    shelf = Shelf.create()
    before = get_snapshot(shelf)

    def refuse(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        if call.name == "add":
            raise PermissionError("no adding")
        return next_(call)

    add_middleware(shelf, refuse)
    with pytest.raises(PermissionError):
        shelf.add_and_bump("a", 1)
    assert get_snapshot(shelf) is before


def test_middleware_raising_after_next_rolls_back() -> None:
    shelf = Shelf.create()
    before = get_snapshot(shelf)

    def check_after(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        result = next_(call)
        if call.name == "set_note" and shelf.note == "bad":
            raise ValueError("bad note")
        return result

    add_middleware(shelf, check_after)
    with pytest.raises(ValueError):
        shelf.set_note("bad")
    assert get_snapshot(shelf) is before
    shelf.set_note("good")
    assert shelf.note == "good"


def test_middleware_sees_action_errors() -> None:
    shelf = Shelf.create()
    errors: list[BaseException] = []

    def watch(call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        try:
            return next_(call)
        except Exception as error:
            errors.append(error)
            raise

    add_middleware(shelf, watch)
    with pytest.raises(ValueError):
        shelf.fail()
    assert [str(e) for e in errors] == ["fail"]
    assert shelf.note == ""


def test_middleware_disposer() -> None:
    shelf = Shelf.create()
    log: Log = []
    dispose = add_middleware(shelf, recording(log))
    shelf.set_note("a")
    dispose()
    shelf.set_note("b")
    assert [entry[1] for entry in log] == ["set_note"]


def test_middleware_sees_every_flow_event() -> None:
    shelf = Shelf.create()
    log: Log = []
    add_middleware(shelf, recording(log))
    assert asyncio.run(shelf.slow_add("a")) == "a"
    types = [(entry[0], entry[1]) for entry in log]
    assert types == [
        ("flow_spawn", "slow_add"),
        ("flow_resume", "slow_add"),
        ("action", "add"),
        ("flow_resume", "slow_add"),
        ("action", "bump"),
        ("flow_return", "slow_add"),
    ]
    spawn_id = log[0][3]
    flow_entries = [entry for entry in log if entry[0].startswith("flow")]
    assert all(entry[3] == spawn_id for entry in flow_entries)
    assert all(entry[5] == spawn_id for entry in log)
    nested = [entry for entry in log if entry[0] == "action"]
    assert all(entry[4] == spawn_id for entry in nested)
    assert nested[0][3] != nested[1][3]
    assert log[-1][2] == ["a"]  # flow_return carries the result
    assert log[0][2] == ["a"]  # flow_spawn carries the arguments


class Worker(Model):
    state: str = ""

    @action
    async def await_failing(self) -> None:
        self.state = "started"
        try:
            await asyncio.ensure_future(_fail_soon())
        except KeyError:
            self.state = "recovered"
        await asyncio.sleep(0)
        raise ValueError("end")

    @action
    async def wait_forever(self) -> None:
        self.state = "waiting"
        try:
            await asyncio.Event().wait()
        finally:
            self.state = "cancelled"


async def _fail_soon() -> None:
    await asyncio.sleep(0)
    raise KeyError("inner")


def test_middleware_sees_flow_throw() -> None:
    worker = Worker.create()
    log: Log = []
    add_middleware(worker, recording(log))
    with pytest.raises(ValueError):
        asyncio.run(worker.await_failing())
    kinds = [entry[0] for entry in log]
    assert kinds[0] == "flow_spawn"
    assert kinds[-1] == "flow_throw"
    assert isinstance(log[-1][2][0], ValueError)
    assert worker.state == "recovered"


def test_middleware_sees_flow_resume_error_for_failed_await() -> None:
    """As in MST: when the awaited future fails, the flow resumes with an error."""
    worker = Worker.create()
    log: Log = []
    add_middleware(worker, recording(log))
    with pytest.raises(ValueError):
        asyncio.run(worker.await_failing())
    kinds = [entry[0] for entry in log]
    assert kinds == [
        "flow_spawn",
        "flow_resume",
        "flow_resume_error",
        "flow_resume",
        "flow_throw",
    ]
    assert isinstance(log[2][2][0], KeyError)


def test_middleware_sees_flow_resume_error_on_cancellation() -> None:
    worker = Worker.create()
    log: Log = []
    add_middleware(worker, recording(log))

    async def main() -> None:
        task = asyncio.ensure_future(worker.wait_forever())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    kinds = [entry[0] for entry in log]
    assert kinds == ["flow_spawn", "flow_resume", "flow_resume_error", "flow_throw"]
    assert isinstance(log[2][2][0], asyncio.CancelledError)
    assert worker.state == "cancelled"


# ---------------------------------------------------------------- action log
def test_on_action_reports_outermost_calls() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    calls: list[dict[str, Any]] = []
    dispose = on_action(shelf, calls.append)
    shelf.add_and_bump("b", 2)
    shelf.items[0].bump(4)
    shelf.set_note("n", upper=True)
    assert calls[:2] == [
        {"name": "add_and_bump", "path": "", "args": ["b", 2]},
        {"name": "bump", "path": "/items/0", "args": [4]},
    ]
    assert calls[2]["name"] == "set_note"
    assert calls[2]["kwargs"] == {"upper": True}
    json.dumps(calls)
    dispose()
    shelf.set_note("m")
    assert len(calls) == 3


def test_on_action_skips_failed_actions() -> None:
    shelf = Shelf.create()
    calls: list[dict[str, Any]] = []
    on_action(shelf, calls.append)
    with pytest.raises(ValueError):
        shelf.fail()
    assert calls == []


def test_on_action_path_is_relative_to_listener() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}, {"id": "b"}]})
    calls: list[dict[str, Any]] = []
    on_action(shelf.items, calls.append)
    shelf.items[1].bump()
    shelf.set_note("not under items")
    assert calls == [{"name": "bump", "path": "/1", "args": []}]


def test_on_action_serializes_node_arguments_as_references() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}, {"id": "b"}]})
    replica = clone(shelf)
    calls: list[dict[str, Any]] = []
    on_action(shelf, calls.append)
    shelf.pick(shelf.items[1])
    assert calls == [{"name": "pick", "path": "", "args": [{"$ref": "/items/1"}]}]
    replica_calls = json.loads(json.dumps(calls))
    apply_action(replica, replica_calls[0])
    assert replica.picked == ["b"]


def test_record_actions_replay_on_clone() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    replica = clone(shelf)
    with record_actions(shelf) as recorder:
        shelf.add("b")
        shelf.items[0].bump(2)
        shelf.add_and_bump("c", 5)
        shelf.pick(shelf.items[2])
        shelf.set_note("note", upper=True)
        with pytest.raises(ValueError):
            shelf.fail()
    shelf.set_note("after stop")
    assert [c["name"] for c in recorder.actions] == [
        "add",
        "bump",
        "add_and_bump",
        "pick",
        "set_note",
    ]
    recorder.replay(replica)
    expected = dict(get_snapshot(shelf))
    expected["note"] = "NOTE"
    assert get_snapshot(replica) == expected


def test_record_actions_stop_resume() -> None:
    shelf = Shelf.create()
    recorder = record_actions(shelf)
    shelf.set_note("a")
    recorder.stop()
    shelf.set_note("b")
    recorder.resume()
    shelf.set_note("c")
    assert [c["args"] for c in recorder.actions] == [["a"], ["c"]]


def test_apply_action_list_is_one_action() -> None:
    shelf = Shelf.create()
    before = get_snapshot(shelf)
    with pytest.raises(ValueError):
        apply_action(
            shelf,
            [
                {"name": "add", "path": "", "args": ["x"]},
                {"name": "fail", "path": "", "args": []},
            ],
        )
    assert get_snapshot(shelf) is before
    apply_action(
        shelf,
        [
            {"name": "add", "path": "", "args": ["x"]},
            {"name": "bump", "path": "/items/0", "args": [3]},
        ],
    )
    assert get_snapshot(shelf)["items"] == [{"id": "x", "count": 3}]


def test_apply_action_returns_result() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    assert apply_action(shelf, {"name": "bump", "path": "/items/0", "args": [7]}) == 7


def test_apply_action_errors() -> None:
    shelf = Shelf.create({"items": [{"id": "a"}]})
    with pytest.raises(MstError):
        apply_action(shelf, {"name": "nope", "path": "", "args": []})
    with pytest.raises(MstError):
        apply_action(shelf, {"name": "items", "path": "", "args": []})  # not an action
    with pytest.raises(MstError):
        apply_action(shelf, {"name": "bump", "path": "/items/5", "args": []})
    with pytest.raises(MstError):
        apply_action(shelf, {"path": ""})


def test_on_action_reports_flows_and_apply_action_replays_them() -> None:
    shelf = Shelf.create()
    replica = clone(shelf)
    calls: list[dict[str, Any]] = []
    on_action(shelf, calls.append)
    asyncio.run(shelf.slow_add("f"))
    assert calls == [{"name": "slow_add", "path": "", "args": ["f"]}]  # inner actions not logged

    async def replay() -> Any:
        return await apply_action(replica, calls[0])

    assert asyncio.run(replay()) == "f"
    assert get_snapshot(replica) == get_snapshot(shelf)
    assert replica.items[0].count == 10
