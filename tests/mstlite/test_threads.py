"""One runtime per thread: a tree belongs to its thread (else ThreadError); adopt() hands over."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from mstlite import (
    Identifier,
    Model,
    MstError,
    ThreadError,
    action,
    adopt,
    autorun,
    computed,
    get_snapshot,
    reaction,
    resolve_identifier,
    unprotect,
)
from mstlite._engine.runtime import current_runtime


class Counter(Model):
    value: int = 0

    @action
    def inc(self) -> None:
        self.value += 1

    @action
    def read_other(self, other: Counter) -> int:
        return other.value

    @action
    def run(self, fn: Callable[[], Any]) -> Any:
        return fn()

    @action
    async def bump_later(self) -> int:
        self.value += 1
        await asyncio.sleep(0)
        self.value += 1
        return self.value

    @computed
    def doubled(self) -> int:
        return self.value * 2


class Tagged(Model):
    id: Identifier
    n: int = 0


class Tags(Model):
    items: list[Tagged] = []


def _in_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a new thread; return its result or raise its exception here."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = fn()
        except BaseException as error:  # handed to the test thread
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def test_four_threads_each_with_its_own_tree_and_reaction() -> None:
    actions = 20_000
    results: dict[int, tuple[int, int, list[int]]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(number: int) -> None:
        try:
            counter = Counter.create()
            seen: list[int] = []
            dispose = reaction(lambda: counter.doubled, seen.append)
            start.wait()
            for _ in range(actions):
                counter.inc()
            dispose()
            results[number] = (counter.value, len(seen), seen[-3:])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = [2 * (actions - 2), 2 * (actions - 1), 2 * actions]
    assert results == {n: (actions, actions, expected) for n in range(4)}


def test_a_computed_records_only_its_own_threads_reads() -> None:
    counter = Counter.create()
    dispose = reaction(lambda: counter.doubled, lambda value: None)
    # Another thread builds and reads its own tree while ours has a derivation.
    _in_thread(lambda: [Counter.create().doubled for _ in range(100)])
    seen: list[int] = []
    dispose()
    dispose = reaction(lambda: counter.doubled, seen.append)
    counter.inc()
    assert seen == [2]
    assert current_runtime().tracking in (None, current_runtime().idle)
    dispose()


def test_a_tree_built_in_another_thread_during_an_action_keeps_its_index() -> None:
    counter = Counter.create()
    built = threading.Event()
    holder: dict[str, Any] = {}

    def build() -> None:
        holder["tags"] = Tags.create({"items": [{"id": "a"}, {"id": "b"}]})
        built.set()

    def fail_after_other_thread_built() -> None:
        thread = threading.Thread(target=build)
        thread.start()
        built.wait(10)
        thread.join()
        counter.value = 5
        raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        counter.run(fail_after_other_thread_built)
    assert counter.value == 0
    tags = holder["tags"]
    found = _in_thread(lambda: adopt(tags) and resolve_identifier(Tagged, tags, "b"))
    assert found is tags.items[1]


def test_a_reaction_created_in_another_thread_runs_there() -> None:
    counter = Counter.create()
    ran_in: list[int] = []
    ready = threading.Event()
    go = threading.Event()
    holder: dict[str, Any] = {}

    def other() -> None:
        own = Counter.create()
        holder["dispose"] = autorun(lambda: (own.value, ran_in.append(threading.get_ident())))
        ready.set()
        go.wait(10)
        own.inc()
        holder["ident"] = threading.get_ident()

    def hold_an_action_open() -> None:
        thread = threading.Thread(target=other)
        thread.start()
        ready.wait(10)
        counter.value += 1
        go.set()
        thread.join()

    counter.run(hold_an_action_open)
    assert ran_in == [holder["ident"], holder["ident"]]


def test_writing_another_threads_tree_raises_thread_error() -> None:
    counter = Counter.create()
    with pytest.raises(ThreadError, match="owned by thread 'MainThread'") as info:
        _in_thread(counter.inc)
    assert isinstance(info.value, MstError)
    assert "adopt(" in str(info.value)
    unprotect(counter)

    def assign() -> None:
        counter.value = 3

    with pytest.raises(ThreadError):
        _in_thread(assign)
    assert counter.value == 0
    tags = Tags.create({"items": [{"id": "a"}]})
    unprotect(tags)
    with pytest.raises(ThreadError):  # array writes
        _in_thread(lambda: tags.items.append({"id": "b"}))
    with pytest.raises(ThreadError):  # writes inside a node of the array
        _in_thread(lambda: setattr(tags.items[0], "n", 1))
    assert get_snapshot(tags) == {"items": [{"id": "a", "n": 0}]}


def test_reading_another_threads_tree_inside_an_action_raises() -> None:
    counter = Counter.create()
    with pytest.raises(ThreadError):
        _in_thread(lambda: Counter.create().read_other(counter))


def test_reading_another_threads_tree_inside_a_computed_raises() -> None:
    counter = Counter.create()

    class Reader(Model):
        @computed
        def other(self) -> int:
            return counter.value

    with pytest.raises(ThreadError):
        _in_thread(lambda: Reader.create().other)
    with pytest.raises(ThreadError):  # a computed of the other tree, read inside an action
        _in_thread(lambda: Counter.create().run(lambda: counter.doubled))


def test_reading_another_threads_tree_inside_a_reaction_is_reported() -> None:
    counter = Counter.create()

    def in_other_thread() -> list[BaseException]:
        errors: list[BaseException] = []
        current_runtime().on_error = errors.append
        autorun(lambda: counter.value)
        return errors

    errors = _in_thread(in_other_thread)
    assert len(errors) == 1 and isinstance(errors[0], ThreadError)


def test_snapshots_and_idle_reads_work_anywhere() -> None:
    counter = Counter.create()
    counter.inc()
    snapshot = get_snapshot(counter)
    assert _in_thread(lambda: get_snapshot(counter)) is snapshot
    assert _in_thread(lambda: counter.value) == 1
    assert _in_thread(lambda: counter.doubled) == 2


def test_adopt_hands_an_idle_tree_to_a_worker_running_asyncio() -> None:
    counter = Counter.create()
    counter.inc()

    def worker() -> int:
        adopt(counter)
        counter.inc()
        return asyncio.run(counter.bump_later())

    assert _in_thread(worker) == 4
    assert get_snapshot(counter) == {"value": 4}
    with pytest.raises(ThreadError):  # the old owner gave it away
        counter.inc()
    adopt(counter)  # and takes it back
    counter.inc()
    assert counter.value == 5


def test_adopt_refuses_a_tree_whose_owner_is_inside_an_action() -> None:
    counter = Counter.create()
    with pytest.raises(ThreadError, match="running an action"):
        counter.run(lambda: _in_thread(lambda: adopt(counter)))
