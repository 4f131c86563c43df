"""Actions: protection, nesting, and transactions that restore the tree exactly."""

from __future__ import annotations

from typing import Any

import pytest

from mstlite import (
    Model,
    ProtectionError,
    action,
    autorun,
    computed,
    detach,
    get_path,
    get_snapshot,
    is_alive,
    on_patch,
    on_snapshot,
    reaction,
    resolve_identifier,
    unprotect,
)


class Counter(Model):
    value: int = 0
    history: list[int] = []

    @computed
    def double(self) -> int:
        return self.value * 2

    @action
    def inc(self) -> int:
        self.value += 1
        self.history.append(self.value)
        return self.value

    @action
    def run(self, fn: Any) -> Any:
        return fn(self)

    @action
    def inc_twice(self) -> int:
        self.inc()
        return self.inc()

    @action
    def inc_then_fail(self, error: BaseException) -> None:
        self.inc()
        raise error

    @action
    def swallow_inner_failure(self) -> str:
        self.inc()
        try:
            self.inc_then_fail(ValueError("inner"))
        except ValueError as error:
            return str(error)
        return "no error"


class Listeners:
    """Collects patches and snapshots delivered for a node."""

    def __init__(self, node: Any) -> None:
        self.patches: list[Any] = []
        self.snapshots: list[Any] = []
        self.disposers = [
            on_patch(node, lambda p, inv: self.patches.append((p, inv))),
            on_snapshot(node, self.snapshots.append),
        ]


# ----------------------------------------------------------------- protection
def test_actions_are_the_way_to_change_a_protected_tree() -> None:
    counter = Counter.create()
    with pytest.raises(ProtectionError):
        counter.value = 1
    assert counter.inc() == 1
    assert counter.value == 1
    assert counter.history == [1]


def test_action_return_value_and_arguments(store: Any) -> None:
    todo = store.add_todo("z", title="Zed")
    assert todo is store.todos[3]
    assert todo.title == "Zed"
    assert store.run(lambda s, x, y: x + y, 1, 2) == 3


def test_action_sees_its_own_changes() -> None:
    counter = Counter.create()
    assert counter.inc_twice() == 2
    assert counter.history == [1, 2]


def test_nested_actions_join_the_outermost() -> None:
    counter = Counter.create()
    listeners = Listeners(counter)
    inner_seen: list[int] = []

    def outer(c: Any) -> None:
        c.inc()
        c.inc()
        inner_seen.append(len(listeners.snapshots))

    counter.run(outer)
    assert inner_seen == [0]  # nothing delivered while the outer action ran
    assert len(listeners.snapshots) == 1
    assert [p for p, _ in listeners.patches] == [
        {"op": "replace", "path": "/value", "value": 1},
        {"op": "add", "path": "/history/0", "value": 1},
        {"op": "replace", "path": "/value", "value": 2},
        {"op": "add", "path": "/history/1", "value": 2},
    ]


def test_inner_failure_caught_by_outer_is_undone_as_a_savepoint() -> None:
    counter = Counter.create()
    listeners = Listeners(counter)
    assert counter.swallow_inner_failure() == "inner"
    # The nested action's own write is undone before its error reaches the caller;
    # the caller's write before it stays.
    assert counter.value == 1
    assert counter.history == [1]
    assert len(listeners.snapshots) == 1
    assert [p["value"] for p, _ in listeners.patches if p["path"] == "/value"] == [1]


def test_action_on_another_tree_joins_the_running_action(store: Any) -> None:
    counter = Counter.create()
    before_store = get_snapshot(store)
    before_counter = get_snapshot(counter)

    def both(s: Any) -> None:
        s.todos[0].toggle()
        counter.inc()
        raise RuntimeError("both")

    with pytest.raises(RuntimeError):
        store.run(both)
    assert get_snapshot(store) is before_store
    assert get_snapshot(counter) is before_counter


# ---------------------------------------------------------------- transactions
def test_exception_restores_state_exactly(store: Any) -> None:
    before = get_snapshot(store)
    listeners = Listeners(store)

    def change_everything(s: Any) -> None:
        s.todos[0].toggle()
        s.todos[0].set_title("changed")
        s.todos[0].tags.extend(["x", "y"])
        s.todos[1].tags.append("z")
        s.by_owner["d"].set_title("changed")
        s.selected = s.todos[2]

    with pytest.raises(RuntimeError, match="boom"):
        store.fail_after(change_everything)
    assert get_snapshot(store) is before
    assert get_snapshot(store.todos[0]) is before["todos"][0]
    assert store.todos[0].title == "Buy milk"
    assert store.todos[0].tags == ["shop"]
    assert store.selected is store.todos[0]
    assert listeners.patches == []
    assert listeners.snapshots == []


def test_exception_is_reraised_unchanged() -> None:
    counter = Counter.create()
    error = KeyError("mine")
    with pytest.raises(KeyError) as info:
        counter.inc_then_fail(error)
    assert info.value is error
    assert counter.value == 0


def test_base_exception_also_rolls_back() -> None:
    counter = Counter.create()
    before = get_snapshot(counter)
    with pytest.raises(KeyboardInterrupt):
        counter.inc_then_fail(KeyboardInterrupt())
    assert get_snapshot(counter) is before


def test_rollback_of_array_splices(store: Any) -> None:
    before = get_snapshot(store)
    nodes = list(store.todos)

    def splices(s: Any) -> None:
        s.todos.insert(1, {"id": "n1"})
        s.todos[2:4] = [{"id": "n2"}, {"id": "n3"}, {"id": "n4"}]
        s.todos.reverse()
        del s.todos[0]
        s.todos.sort(key=lambda t: t.id)
        s.todos.clear()
        s.todos.append({"id": "n5"})

    with pytest.raises(RuntimeError):
        store.fail_after(splices)
    assert get_snapshot(store) is before
    assert list(store.todos) == nodes
    assert [get_path(n) for n in nodes] == ["/todos/0", "/todos/1", "/todos/2"]
    assert all(is_alive(n) for n in nodes)


def test_rollback_of_map_changes(store: Any) -> None:
    before = get_snapshot(store)
    d = store.by_owner["d"]

    def map_changes(s: Any) -> None:
        s.by_owner["e"] = {"id": "e"}
        del s.by_owner["d"]
        s.by_owner.put({"id": "f"})
        s.by_owner["e"] = {"id": "e", "title": "changed"}
        s.by_owner.pop("f")

    with pytest.raises(RuntimeError):
        store.fail_after(map_changes)
    assert get_snapshot(store) is before
    assert list(store.by_owner) == ["d"]
    assert store.by_owner["d"] is d
    assert is_alive(d)


def test_rollback_revives_removed_nodes(store: Any, Todo: Any) -> None:
    before = get_snapshot(store)
    a, b, c = store.todos
    tags = a.tags

    def remove(s: Any) -> None:
        s.todos.remove(a)
        s.todos.pop()
        assert not is_alive(a)
        assert not is_alive(tags)
        assert resolve_identifier(Todo, s, "a") is None

    with pytest.raises(RuntimeError):
        store.fail_after(remove)
    assert get_snapshot(store) is before
    assert list(store.todos) == [a, b, c]
    assert is_alive(a)
    assert is_alive(tags)
    assert is_alive(c)
    assert resolve_identifier(Todo, store, "a") is a
    assert resolve_identifier(Todo, store, "c") is c
    assert store.selected is a
    assert list(store.favorites) == [b, c]  # safe references restored too
    a.toggle()  # alive again: it can change
    assert a.done is True


def test_rollback_forgets_created_nodes(store: Any, Todo: Any) -> None:
    before = get_snapshot(store)

    def create(s: Any) -> None:
        s.add_todo("new")
        s.by_owner.put({"id": "new2"})
        assert resolve_identifier(Todo, s, "new") is not None

    with pytest.raises(RuntimeError):
        store.fail_after(create)
    assert get_snapshot(store) is before
    assert resolve_identifier(Todo, store, "new") is None
    assert resolve_identifier(Todo, store, "new2") is None
    store.add_todo("new")  # the identifier is free
    assert store.todos[3].id == "new"


def test_rollback_of_detach(store: Any, Todo: Any) -> None:
    before = get_snapshot(store)
    b = store.todos[1]

    def detach_then_fail(s: Any) -> None:
        detach(b)
        assert get_path(b) == ""

    with pytest.raises(RuntimeError):
        store.fail_after(detach_then_fail)
    assert get_snapshot(store) is before
    assert store.todos[1] is b
    assert get_path(b) == "/todos/1"
    assert resolve_identifier(Todo, store, "b") is b


def test_rollback_of_moving_a_node_between_trees(store: Any, Store: Any, Todo: Any) -> None:
    other = Store.create()
    before, before_other = get_snapshot(store), get_snapshot(other)
    b = store.todos[1]

    def move(s: Any) -> None:
        detach(b)
        other.todos.append(b)

    with pytest.raises(RuntimeError):
        store.fail_after(move)
    assert get_snapshot(store) is before
    assert get_snapshot(other) is before_other
    assert store.todos[1] is b
    assert resolve_identifier(Todo, store, "b") is b
    assert resolve_identifier(Todo, other, "b") is None


def test_rollback_of_reconciliation(store: Any) -> None:
    before = get_snapshot(store)
    a = store.todos[0]

    def reconcile(s: Any) -> None:
        s.todos[0] = {"id": "a", "title": "reconciled", "tags": ["p", "q"]}
        s.by_owner["d"] = {"id": "d", "done": True}

    with pytest.raises(RuntimeError):
        store.fail_after(reconcile)
    assert get_snapshot(store) is before
    assert store.todos[0] is a
    assert a.title == "Buy milk"


def test_computed_and_reactions_do_not_see_aborted_change() -> None:
    counter = Counter.create()
    assert counter.double == 0
    seen: list[int] = []
    runs: list[int] = []
    dispose_reaction = reaction(lambda: counter.value, seen.append)
    dispose_autorun = autorun(lambda: runs.append(counter.double))
    with pytest.raises(ValueError):
        counter.inc_then_fail(ValueError())
    assert counter.double == 0
    assert seen == []
    assert runs == [0]
    counter.inc()
    assert seen == [1]
    assert runs == [0, 2]
    dispose_reaction()
    dispose_autorun()


def test_listeners_see_commits_in_order(store: Any) -> None:
    listeners = Listeners(store)
    store.todos[0].toggle()
    store.todos[1].toggle()
    with pytest.raises(RuntimeError):
        store.fail_after(lambda s: s.todos[2].toggle())
    store.todos[2].set_title("t")
    assert [p["path"] for p, _ in listeners.patches] == [
        "/todos/0/done",
        "/todos/1/done",
        "/todos/2/title",
    ]
    assert len(listeners.snapshots) == 3
    assert listeners.snapshots[-1] is get_snapshot(store)


# ----------------------------------------------------------- unprotected trees
def test_unprotected_writes_are_each_their_own_commit(store: Any) -> None:
    unprotect(store)
    listeners = Listeners(store)
    store.todos[0].title = "one"
    assert len(listeners.snapshots) == 1
    assert len(listeners.patches) == 1
    store.todos[0].tags.append("two")
    assert len(listeners.snapshots) == 2
    del store.by_owner["d"]
    assert len(listeners.snapshots) == 3
    assert [p["op"] for p, _ in listeners.patches] == ["replace", "add", "remove"]


def test_unprotected_failing_write_changes_nothing(store: Any) -> None:
    unprotect(store)
    before = get_snapshot(store)
    listeners = Listeners(store)
    with pytest.raises(ValueError):
        store.todos.append({"id": "bad", "done": "no"})
    with pytest.raises(ValueError):
        store.todos[0].tags[0:1] = ["ok", 3]
    assert get_snapshot(store) is before
    assert listeners.patches == []
    assert listeners.snapshots == []


def test_actions_on_unprotected_tree_still_batch(store: Any) -> None:
    unprotect(store)
    listeners = Listeners(store)
    store.run(lambda s: (s.todos[0].toggle(), s.todos[1].toggle()))
    assert len(listeners.snapshots) == 1
    assert len(listeners.patches) == 2


def test_rollback_of_created_child_then_new_child_snapshot(Store: Any) -> None:
    """A child created and changed in an aborted action must not leak into later snapshots."""
    store = Store.create()
    get_snapshot(store)

    def create_and_change(s: Any) -> None:
        s.add_todo("ghost")
        s.todos[0].toggle()
        s.by_owner.put({"id": "ghost2"})
        s.by_owner["ghost2"].toggle()

    with pytest.raises(RuntimeError):
        store.fail_after(create_and_change)
    store.add_todo("real")
    store.run(lambda s: s.by_owner.put({"id": "ghost2", "title": "real"}))
    assert get_snapshot(store)["todos"] == [
        {"id": "real", "title": "", "done": False, "tags": [], "kind": "task"}
    ]
    assert get_snapshot(store)["by_owner"]["ghost2"]["title"] == "real"
    assert get_snapshot(store)["by_owner"]["ghost2"]["done"] is False
    store.run(lambda s: s.todos.clear())
    assert get_snapshot(store)["todos"] == []
