"""Reading a dead node: warn (default), error or ignore, as MST's setLivelinessChecking."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from mstlite import (
    DeadNodeError,
    Identifier,
    LivelinessWarning,
    Model,
    action,
    computed,
    destroy,
    detach,
    get_liveliness_checking,
    set_liveliness_checking,
    volatile,
)


class Todo(Model):
    id: Identifier
    title: str = "milk"
    tags: list[str] = ["a"]
    notes: dict[str, str] = {"k": "v"}
    seen: int = volatile(0)

    @computed
    def label(self) -> str:
        return self.title.upper()


class Store(Model):
    todos: list[Todo] = []

    @action
    def drop(self) -> Todo:
        return self.todos.pop()


@pytest.fixture
def dead() -> Iterator[Todo]:
    store = Store.create({"todos": [{"id": "a"}]})
    todo = store.todos[0]
    store.drop()
    yield todo
    set_liveliness_checking("warn")


def test_warn_is_the_default_and_returns_the_last_value(dead: Todo) -> None:
    assert get_liveliness_checking() == "warn"
    expected = r"reading title of a dead Todo \(last at '/todos/0'\)"
    with pytest.warns(LivelinessWarning, match=expected):
        assert dead.title == "milk"
    with pytest.warns(LivelinessWarning, match="set_liveliness_checking"):
        assert dead.label == "MILK"
    with pytest.warns(LivelinessWarning, match="reading seen"):
        assert dead.seen == 0


def test_the_warning_points_at_the_reading_line(dead: Todo) -> None:
    with pytest.warns(LivelinessWarning) as caught:
        dead.title  # noqa: B018
    assert caught[0].filename == __file__


def test_dead_arrays_and_maps_warn_too(dead: Todo) -> None:
    with pytest.warns(LivelinessWarning):
        tags = dead.tags
    with pytest.warns(LivelinessWarning, match="an item of a dead"):
        assert tags[0] == "a"
    with pytest.warns(LivelinessWarning, match="the items of a dead"):
        assert list(tags) == ["a"]
    with pytest.warns(LivelinessWarning):
        notes = dead.notes
    with pytest.warns(LivelinessWarning, match="entry 'k' of a dead"):
        assert notes["k"] == "v"


def test_error_mode_raises_dead_node_error(dead: Todo) -> None:
    set_liveliness_checking("error")
    assert get_liveliness_checking() == "error"
    with pytest.raises(DeadNodeError, match="reading title of a dead Todo"):
        dead.title  # noqa: B018


def test_ignore_mode_reads_silently(dead: Todo) -> None:
    set_liveliness_checking("ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dead.title == "milk"
        assert list(dead.tags) == ["a"]


def test_live_and_detached_nodes_do_not_warn() -> None:
    store = Store.create({"todos": [{"id": "a"}, {"id": "b"}]})
    kept = detach(store.todos[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.todos[0].title == "milk"
        assert kept.title == "milk" and list(kept.tags) == ["a"]


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="'warn', 'error' or 'ignore'"):
        set_liveliness_checking("loud")  # type: ignore[arg-type]
    assert get_liveliness_checking() == "warn"


def test_destroyed_roots_warn(dead: Todo) -> None:
    root = Todo.create({"id": "r"})
    destroy(root)
    with pytest.warns(LivelinessWarning, match=r"dead Todo \(last at '/'\)"):
        root.title  # noqa: B018
