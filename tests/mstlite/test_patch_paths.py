"""Patch paths stay right while the tree's cached JSON pointers are invalidated.

Each node's listener groups and pointer are cached per tree (``Tree.path_cache``)
and the cache is cleared whenever a node moves, is re-keyed (array splices and
their rollback), detached or attached, or a listener comes or goes. The
property: every patch a listener hears, applied with ``jsonpatch`` to a plain
copy of what that listener's node looked like before, gives its node's snapshot
after, whatever mix of moves, rollbacks and listener changes came first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from mstlite import Identifier, Model, action, apply_snapshot, detach, get_snapshot, on_patch


class Item(Model):
    label: str
    done: bool
    tags: list[str]


class Board(Model):
    items: list[Item]

    @action
    def toggle(self, index: int) -> None:
        item = self.items[index % len(self.items)]
        item.done = not item.done
        item.tags.append(item.label)

    @action
    def insert(self, index: int, label: str) -> None:
        self.items.insert(index % (len(self.items) + 1), Item(label=label, done=False, tags=[]))

    @action
    def remove(self, index: int) -> None:
        if len(self.items) > 1:
            del self.items[index % len(self.items)]

    @action
    def reverse(self) -> None:
        self.items[:] = [detach(item) for item in reversed(list(self.items))]

    @action
    def move(self, source: int, target: int) -> None:
        item = detach(self.items[source % len(self.items)])
        self.items.insert(target % (len(self.items) + 1), item)

    def rotate(self, by: int) -> None:
        """Rotate by applying the items' own snapshots: reconcile keeps every node."""
        items = list(get_snapshot(self)["items"])
        by %= len(items)
        apply_snapshot(self, {"items": items[by:] + items[:by]})

    @action
    def failing_insert(self, index: int) -> None:
        self.insert(index, "doomed")
        self.toggle(index + 1)
        raise RuntimeError("rolled back")


def _plain(snapshot: Any) -> Any:
    """A mutable deep copy (snapshots are frozen; jsonpatch edits in place)."""
    return json.loads(json.dumps(snapshot))


class _Watched:
    """A listener on ``node`` that checks each patch it hears against the snapshots."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.before = _plain(get_snapshot(node))
        self.heard: list[dict[str, Any]] = []
        self.dispose = on_patch(node, lambda patch, _inverse: self.heard.append(patch))

    def check(self) -> None:
        replayed = jsonpatch.apply_patch(self.before, _plain(self.heard))
        assert replayed == get_snapshot(self.node), self.heard
        self.before = _plain(get_snapshot(self.node))
        self.heard.clear()


_OPS = st.one_of(
    st.tuples(st.just("toggle"), st.integers(0, 9)),
    st.tuples(st.just("insert"), st.integers(0, 9)),
    st.tuples(st.just("remove"), st.integers(0, 9)),
    st.tuples(st.just("reverse"), st.just(0)),
    st.tuples(st.just("move"), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("rotate"), st.integers(1, 9)),
    st.tuples(st.just("fail"), st.integers(0, 9)),
    st.tuples(st.just("listen"), st.integers(0, 9)),
    st.tuples(st.just("unlisten"), st.integers(0, 9)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_OPS, max_size=25))
def test_every_listener_hears_paths_that_replay_its_node(ops: list[tuple[Any, ...]]) -> None:
    board = Board(items=[Item(label=f"i{n}", done=False, tags=[]) for n in range(3)])
    watchers = [_Watched(board), _Watched(board.items)]
    steps: dict[str, Callable[..., None]] = {
        "toggle": board.toggle,
        "insert": lambda index: board.insert(index, f"n{index}"),
        "remove": board.remove,
        "reverse": lambda _: board.reverse(),
        "move": board.move,
        "rotate": board.rotate,
    }
    for op, *args in ops:
        if op == "fail":
            try:
                board.failing_insert(*args)
            except RuntimeError:
                pass
        elif op == "listen":  # a listener on an item: its paths are relative to it
            watchers.append(_Watched(board.items[args[0] % len(board.items)]))
        elif op == "unlisten" and len(watchers) > 2:
            watchers.pop(2 + args[0] % (len(watchers) - 2)).dispose()
        elif op in steps:
            steps[op](*args)
        # Items removed from the tree are dead or detached: they stop being watched.
        watchers = [w for w in watchers if w.node is board or _inside(w.node, board)]
        for watcher in watchers:
            watcher.check()


def _inside(node: Any, root: Board) -> bool:
    return node is root.items or any(item is node for item in root.items)


class Flag(Model):
    on: bool

    @action
    def flip(self) -> None:
        self.on = not self.on


class Flags(Model):
    flags: list[Flag]


def test_writes_to_many_array_items_cache_no_route_per_item() -> None:
    # An item's pointer is its parent's and its index, built at each write: a
    # listened tree that writes to every item of a large array keeps no cache
    # entry per item: the root's and the array's (and the first item's, cached on
    # the way to its parent's).
    tree = Flags(flags=[Flag(on=False) for _ in range(500)])
    heard: list[str] = []
    on_patch(tree, lambda patch, _inverse: heard.append(patch["path"]))
    for flag in tree.flags:
        flag.flip()
    assert heard == [f"/flags/{index}/on" for index in range(500)]
    assert set(tree._tree.path_cache.routes) <= {tree, tree.flags, tree.flags[0]}


def test_a_listener_added_after_a_write_hears_the_next_one() -> None:
    board = Board(items=[Item(label="a", done=False, tags=[])])
    heard: list[str] = []
    on_patch(board, lambda patch, _inverse: heard.append("root " + patch["path"]))
    board.toggle(0)  # caches the item's groups: the root listener only
    item = board.items[0]
    dispose = on_patch(item, lambda patch, _inverse: heard.append("item " + patch["path"]))
    board.toggle(0)
    dispose()
    board.toggle(0)
    assert heard == [
        "root /items/0/done",
        "root /items/0/tags/0",
        "item /done",
        "root /items/0/done",
        "item /tags/1",
        "root /items/0/tags/1",
        "root /items/0/done",
        "root /items/0/tags/2",
    ]


class Tagged(Model):
    id: Identifier
    name: str = ""

    @action
    def rename(self, name: str) -> None:
        self.name = name


class Tags(Model):
    items: list[Tagged]


def test_nodes_moved_by_reconciling_an_array_are_heard_at_their_new_paths() -> None:
    tags = Tags.create({"items": [{"id": "a"}, {"id": "b"}]})
    heard: list[str] = []
    on_patch(tags, lambda patch, _inverse: heard.append(patch["path"]))
    first = tags.items[0]
    first.rename("x")  # caches its path, /items/0
    apply_snapshot(tags, {"items": [{"id": "b"}, {"id": "a", "name": "x"}]})
    assert tags.items[1] is first
    heard.clear()
    first.rename("y")
    assert heard == ["/items/1/name"]
