"""Properties of the order safe references are cleared in (MST's: the order each
started watching its target; the examples, checked against MST, are in
test_safe_references.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mstlite import Identifier, Model, SafeRef, action, on_patch
from mstlite._node.node import Node
from mstlite._types.reference_array import kept_references


def _msts_loop(removed: list[Any], values: list[Any]) -> list[int]:
    """MST's reconcileArrayChildren for scalar items, transcribed (quadratic)."""
    old = list(range(len(removed)))
    plan = []
    for position, value in enumerate(values):
        match = -1
        if not isinstance(value, Node):
            for later in range(position, len(old)):
                if removed[old[later]] == value:
                    match = later
                    break
        if match < 0:
            old.insert(position, -1)
            plan.append(-1)
        else:
            offset = old.pop(match)
            old.insert(position, offset)
            plan.append(offset)
    return plan


_ids = st.sampled_from(["a", "b", "c", None])


@given(st.lists(_ids, max_size=8), st.lists(_ids, max_size=8))
def test_kept_references_is_msts_reconciliation(removed: list[Any], values: list[Any]) -> None:
    assert kept_references(removed, values) == _msts_loop(removed, values)


class Item(Model):
    id: Identifier


class Store(Model):
    items: list[Item] = []
    sref: SafeRef[Item] | None = None
    srefs: list[SafeRef[Item]] = []
    smap: dict[str, SafeRef[Item]] = {}

    @action
    def run(self, ops: list[tuple[str, int, str]], fail: bool) -> None:
        for kind, at, value in ops:
            if kind == "insert":
                self.srefs.insert(at % (len(self.srefs) + 1), value)  # type: ignore[arg-type]
            elif kind == "set" and self.srefs:
                self.srefs[at % len(self.srefs)] = value  # type: ignore[call-overload]
            elif kind == "splice":
                start = at % (len(self.srefs) + 1)
                self.srefs[start : start + 2] = [value, "a"]  # type: ignore[list-item]
            elif kind == "del" and self.srefs:
                del self.srefs[at % len(self.srefs)]
            elif kind == "sref":
                self.sref = value  # type: ignore[assignment]  # an identifier
            elif kind == "map":
                self.smap[str(at % 3)] = value  # type: ignore[assignment]
        if fail:
            raise RuntimeError("rolled back")

    @action
    def destroy_a(self) -> None:
        del self.items[0]  # the item "a": every reference to it is cleared


_ops = st.lists(
    st.tuples(st.sampled_from(["insert", "set", "splice", "del", "sref", "map"]),
              st.integers(0, 5), st.sampled_from(["a", "b"])),
    max_size=8,
)


def _clearing(store: Store) -> list[str]:
    paths: list[str] = []
    dispose = on_patch(store, lambda patch, inverse: paths.append(patch["path"]))
    store.destroy_a()
    dispose()
    return paths


@settings(max_examples=400, deadline=None)
@given(_ops, _ops)
def test_a_rolled_back_action_leaves_the_clearing_order_as_it_was(
    before: list[tuple[str, int, str]], failed: list[tuple[str, int, str]]
) -> None:
    stores = [Store.create({"items": [{"id": "a"}, {"id": "b"}]}) for _ in range(2)]
    for store in stores:
        store.run(before, False)
    with pytest.raises(RuntimeError):
        stores[1].run(failed, True)
    assert _clearing(stores[1]) == _clearing(stores[0])
