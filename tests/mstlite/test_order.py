"""Reactions, listeners and safe-reference cleanup run in a fixed order, every run."""

from __future__ import annotations

from typing import Any

from mstlite import (
    Identifier,
    Model,
    SafeRef,
    action,
    autorun,
    on_patch,
    on_snapshot,
    reaction,
)


class Box(Model):
    a: int = 0

    @action
    def set(self, a: int) -> None:
        self.a = a


class Item(Model):
    id: Identifier


class Holder(Model):
    target: SafeRef[Item] | None = None


class Store(Model):
    items: list[Item] = []
    holders: list[Holder] = []

    @action
    def remove_item(self, index: int) -> None:
        del self.items[index]


def test_reactions_run_in_creation_order() -> None:
    box = Box.create()
    ran: list[int] = []
    disposers = [reaction(lambda: box.a, lambda _, n=n: ran.append(n)) for n in range(8)]
    disposers += [autorun(lambda n=n: (box.a, ran.append(10 + n))) for n in range(3)]
    ran.clear()
    for value in range(1, 4):
        box.set(value)
        assert ran == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12]
        ran.clear()
    for dispose in disposers:
        dispose()


def test_listeners_run_in_registration_order() -> None:
    box = Box.create()
    heard: list[str] = []
    on_patch(box, lambda patch, inverse: heard.append("patch 1"))
    on_snapshot(box, lambda snapshot: heard.append("snapshot 1"))
    on_patch(box, lambda patch, inverse: heard.append("patch 2"))
    on_snapshot(box, lambda snapshot: heard.append("snapshot 2"))
    box.set(1)
    assert heard == ["patch 1", "patch 2", "snapshot 1", "snapshot 2"]


def test_safe_references_are_cleared_in_the_order_they_were_made() -> None:
    count = 12
    store = Store.create(
        {
            "items": [{"id": "x"}, {"id": "y"}],
            "holders": [{"target": "x"} for _ in range(count)],
        }
    )
    patches: list[Any] = []
    on_patch(store, lambda patch, inverse: patches.append(patch["path"]))
    store.remove_item(0)
    assert patches == [f"/holders/{n}/target" for n in range(count)] + ["/items/0"]
