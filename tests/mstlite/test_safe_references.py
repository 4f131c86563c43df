"""Safe references follow MST: cleared when their target leaves (destroyed, detached or
moved), dropped when their target is not in the tree, cleared first to last; and
references, plain or safe, resolve through an observable identifier index."""

from __future__ import annotations

from typing import Any

import pytest

from mstlite import (
    Identifier,
    InvalidReferenceError,
    Model,
    Ref,
    SafeRef,
    action,
    apply_patch,
    apply_snapshot,
    autorun,
    computed,
    detach,
    get_snapshot,
    on_patch,
    record_patches,
)
from mstlite._types.base import IdentifierClashError


class Item(Model):
    id: Identifier
    title: str = ""


class Store(Model):
    owner: Item | None = None
    items: list[Item] = []
    byid: dict[str, Item] = {}
    sref: SafeRef[Item] | None = None
    srefs: list[SafeRef[Item]] = []
    smap: dict[str, SafeRef[Item]] = {}
    ref: Ref[Item] | None = None

    @computed
    def ref_title(self) -> str:
        return "none" if self.ref is None else self.ref.title

    @computed
    def sref_title(self) -> str:
        return "none" if self.sref is None else self.sref.title

    @action
    def run(self, change: Any) -> Any:
        return change(self)


def _patches(store: Store) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    on_patch(store, lambda patch, inverse: seen.append(dict(patch)))
    return seen


def test_detach_clears_safe_references_before_the_removal_patch() -> None:
    store = Store.create({"owner": {"id": "a"}, "sref": "a", "srefs": ["a"], "smap": {"k": "a"}})
    patches = _patches(store)
    owner = store.run(lambda s: detach(s.owner))
    assert [(p["op"], p["path"]) for p in patches] == [
        ("replace", "/sref"), ("replace", "/srefs"), ("remove", "/smap/k"), ("replace", "/owner")]
    assert (store.sref, list(store.srefs), dict(store.smap)) == (None, [], {})
    assert owner.id == "a"  # the detached node lives on, as a root


def test_moving_a_node_within_one_action_clears_its_safe_references() -> None:
    store = Store.create({"owner": {"id": "a"}, "sref": "a"})
    patches = _patches(store)
    store.run(lambda s: s.items.append(detach(s.owner)))
    assert [(p["op"], p["path"]) for p in patches] == [
        ("replace", "/sref"), ("replace", "/owner"), ("add", "/items/0")]
    assert store.sref is None


def test_rollback_restores_the_cleared_references() -> None:
    store = Store.create({"owner": {"id": "a"}, "sref": "a", "srefs": ["a", "a"]})

    def fail(s: Store) -> None:
        detach(s.owner)
        raise RuntimeError("undo all of it")

    with pytest.raises(RuntimeError):
        store.run(fail)
    assert get_snapshot(store)["sref"] == "a" and get_snapshot(store)["srefs"] == ["a", "a"]
    assert store.sref is store.owner


def test_dangling_safe_references_are_dropped_at_creation() -> None:
    store = Store.create({"sref": "nobody", "srefs": ["a", "nobody", "a"],
                          "smap": {"x": "nobody", "y": "a"}, "items": [{"id": "a"}]})
    snapshot = get_snapshot(store)
    assert (snapshot["sref"], snapshot["srefs"], snapshot["smap"]) == (None, ["a", "a"], {"y": "a"})
    assert store.srefs[0] is store.items[0]


def test_a_dangling_write_is_dropped_at_the_end_of_its_action() -> None:
    store = Store.create({})
    patches = _patches(store)
    store.run(lambda s: s.srefs.append("nobody"))
    assert patches == [{"op": "add", "path": "/srefs/0", "value": "nobody"},
                       {"op": "replace", "path": "/srefs", "value": []}]


def test_one_dangling_write_at_a_time_in_the_order_written() -> None:
    store = Store.create({})
    patches = _patches(store)
    store.run(lambda s: s.srefs.extend(["d", "b", "d"]))
    assert [(p["op"], p["path"]) for p in patches[3:]] == [
        ("remove", "/srefs/0"), ("remove", "/srefs/0"), ("replace", "/srefs")]


def test_a_target_arriving_later_in_the_action_keeps_the_reference() -> None:
    store = Store.create({})

    def change(s: Store) -> None:
        s.sref = "a"  # type: ignore[assignment]  # an identifier
        s.items.append({"id": "a", "title": "A"})  # type: ignore[arg-type]  # a snapshot

    store.run(change)
    assert store.sref is store.items[0]
    apply_patch(store, [{"op": "add", "path": "/srefs/0", "value": "e"},
                        {"op": "add", "path": "/byid/e", "value": {"id": "e"}}])
    assert store.srefs[0] is store.byid["e"]


@pytest.mark.parametrize("run", range(20))
def test_clearing_order_is_msts_every_run(run: int) -> None:
    store = Store.create({"byid": {"a": {"id": "a"}}, "sref": "a", "srefs": ["a", "a"]})
    patches = _patches(store)
    store.run(lambda s: s.byid.clear())
    assert [(p["op"], p["path"]) for p in patches] == [
        ("replace", "/sref"), ("remove", "/srefs/0"), ("replace", "/srefs"), ("remove", "/byid/a")]


def test_apply_snapshot_moving_an_identifier_to_an_earlier_property() -> None:
    store = Store.create({"byid": {"a": {"id": "a", "title": "old"}}, "sref": "a"})
    patches = _patches(store)
    apply_snapshot(store, {"items": [{"id": "a", "title": "new"}], "byid": {}, "sref": "a"})
    assert get_snapshot(store)["items"] == [{"id": "a", "title": "new"}]
    # The reference followed the old node (cleared as it left), then was set again.
    assert [(p["op"], p["path"]) for p in patches] == [
        ("add", "/items/0"), ("replace", "/sref"), ("remove", "/byid/a"), ("replace", "/sref")]
    assert store.sref is store.items[0]


def test_a_snapshot_still_holding_an_identifier_twice_is_refused_whole() -> None:
    store = Store.create({"byid": {"a": {"id": "a"}}})
    with pytest.raises(IdentifierClashError, match="'a' of Item is used twice"):
        apply_snapshot(store, {"items": [{"id": "a"}], "byid": {"a": {"id": "a"}}})
    assert get_snapshot(store)["items"] == [] and "a" in store.byid


def test_a_patch_list_may_pass_through_a_duplicate_but_not_end_with_one() -> None:
    store = Store.create({"byid": {"a": {"id": "a"}}})
    apply_patch(store, [{"op": "add", "path": "/items/0", "value": {"id": "a"}},
                        {"op": "remove", "path": "/byid/a"}])
    assert get_snapshot(store)["byid"] == {}
    with pytest.raises(Exception, match="used twice"):
        apply_patch(store, [{"op": "add", "path": "/byid/a", "value": {"id": "a"}}])


def test_a_splice_giving_the_node_a_reference_already_refers_to_emits_it() -> None:
    store = Store.create({"items": [{"id": "a"}], "srefs": ["a"]})
    patches = _patches(store)
    store.run(lambda s: s.srefs.__setitem__(slice(0, 1), [s.items[0]]))
    assert patches == [{"op": "replace", "path": "/srefs", "value": ["a"]}]


def _watch(store: Store, name: str) -> tuple[list[str], Any]:
    seen: list[str] = []

    def track() -> None:
        try:
            seen.append(getattr(store, name))
        except InvalidReferenceError:
            seen.append("throws")

    return seen, autorun(track)


def test_a_computed_over_a_reference_follows_its_target() -> None:
    store = Store.create({"ref": "a"})
    seen, dispose = _watch(store, "ref_title")
    store.run(lambda s: s.items.append({"id": "a", "title": "A"}))  # appears after the ref

    def replace(s: Store) -> None:  # a new node with the same identifier, in one action
        del s.items[0]
        s.items.append({"id": "a", "title": "B"})  # type: ignore[arg-type]  # a snapshot

    store.run(replace)
    apply_patch(store, [{"op": "remove", "path": "/items/0"},  # what an MST peer sends
                        {"op": "add", "path": "/items/0", "value": {"id": "a", "title": "C"}}])
    store.run(lambda s: s.items.pop())  # removed
    dispose()
    assert seen == ["throws", "A", "B", "C", "throws"]


def test_a_computed_over_a_safe_reference_follows_its_target() -> None:
    store = Store.create({"items": [{"id": "a", "title": "A"}], "sref": "a"})
    seen, dispose = _watch(store, "sref_title")
    store.run(lambda s: setattr(s.items[0], "title", "A2"))
    store.run(lambda s: s.items.pop())  # removed: the safe reference is cleared
    store.run(lambda s: s.items.append({"id": "a", "title": "back"}))  # stays cleared
    dispose()
    assert seen == ["A", "A2", "none"]


def test_undoing_a_reference_set_before_its_target_arrived() -> None:
    """The inverse patches remove the target first (which clears the reference), then
    the reference's own slot: that patch is satisfied, as in MST."""
    store = Store.create({"srefs": ["x"], "byid": {"x": {"id": "x"}}})
    before = get_snapshot(store)
    recorder = record_patches(store)
    apply_patch(store, [{"op": "add", "path": "/srefs/1", "value": "e"},
                        {"op": "add", "path": "/owner", "value": {"id": "e"}}])
    recorder.stop()
    assert get_snapshot(store)["srefs"] == ["x", "e"]
    recorder.undo()
    assert get_snapshot(store) == before


def test_a_patch_far_past_the_end_is_still_refused() -> None:
    store = Store.create({"owner": {"id": "e"}, "srefs": ["e"]})
    with pytest.raises(Exception, match="out of range"):
        apply_patch(store, [{"op": "replace", "path": "/owner", "value": None},
                            {"op": "remove", "path": "/srefs/1"}])
    assert get_snapshot(store)["srefs"] == ["e"]


def test_undoing_several_references_set_before_their_target_arrived() -> None:
    """Undoing removes the target first, which clears both references to it at once:
    the later inverse patches name places past the end (``add`` appends, ``remove``
    is done already), as MST undoes the same stream."""
    store = Store.create({"byid": {"c": {"id": "c"}}})
    before = get_snapshot(store)
    recorder = record_patches(store)

    def change(s: Store) -> None:
        apply_snapshot(s.srefs, ["e", "e", "c"])
        apply_snapshot(s, {"owner": {"id": "b"}, "byid": {"e": {"id": "e"}}, "srefs": ["e", "e"]})

    store.run(change)
    recorder.stop()
    assert get_snapshot(store)["srefs"] == ["e", "e"]
    recorder.undo()
    assert get_snapshot(store) == before


def test_a_replace_past_the_end_after_clearing_only_appends_at_the_end() -> None:
    """MST's array ``replace`` past its end appends only at the end itself (further out
    it would fill the gap with ``undefined``): mstlite refuses that."""
    store = Store.create({"owner": {"id": "e"}, "srefs": ["e", "e"], "byid": {"x": {"id": "x"}}})
    apply_patch(store, [{"op": "replace", "path": "/owner", "value": None},
                        {"op": "replace", "path": "/srefs/0", "value": "x"}])
    assert get_snapshot(store)["srefs"] == ["x"]
    store = Store.create({"owner": {"id": "e"}, "srefs": ["e", "e"], "byid": {"x": {"id": "x"}}})
    with pytest.raises(Exception, match="out of range"):
        apply_patch(store, [{"op": "replace", "path": "/owner", "value": None},
                            {"op": "replace", "path": "/srefs/1", "value": "x"}])
    assert get_snapshot(store)["srefs"] == ["e", "e"]


# MST clears the references to a target in the order they started watching it (each
# registers its own hook on the target), whatever holder and position each is in. The
# expected streams below are MST 9.0.0's for the same steps (tests/differential's
# Root has the same sref / srefs / items properties; checked with its Node runner).
def _paths(patches: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(p["op"], p["path"]) for p in patches]


def test_references_are_cleared_in_the_order_they_were_set_across_holders() -> None:
    store = Store.create({"items": [{"id": "a"}], "srefs": ["a"]})
    store.run(lambda s: setattr(s, "sref", "a"))
    store.run(lambda s: s.srefs.insert(0, "a"))
    patches = _patches(store)
    store.run(lambda s: s.items.pop())
    assert _paths(patches) == [("remove", "/srefs/1"), ("replace", "/sref"),
                               ("replace", "/srefs"), ("replace", "/items")]


def test_a_splice_keeps_the_references_it_puts_back() -> None:
    """MST's reconciliation keeps an item given again (moved, too): its place in the
    order stays; position order would clear ``/srefs/0`` first."""
    store = Store.create({"items": [{"id": "a"}, {"id": "b"}], "srefs": ["a", "b"]})
    store.run(lambda s: s.srefs.insert(0, "a"))

    def swap(s: Store) -> None:
        s.srefs[1:3] = ["b", "a"]  # type: ignore[list-item]  # identifiers

    store.run(swap)
    patches = _patches(store)
    store.run(lambda s: s.items.pop(0))
    assert _paths(patches) == [("remove", "/srefs/2"), ("remove", "/srefs/0"),
                               ("remove", "/items/0")]


def test_writing_the_same_identifier_keeps_the_reference_and_its_place() -> None:
    store = Store.create({"items": [{"id": "a"}], "srefs": ["a"], "sref": "a"})
    store.run(lambda s: s.srefs.insert(0, "a"))
    store.run(lambda s: setattr(s, "sref", "a"))
    store.run(lambda s: s.srefs.replace(["a", "a"]))
    patches = _patches(store)
    store.run(lambda s: s.items.pop())
    assert _paths(patches) == [("replace", "/sref"), ("remove", "/srefs/1"),
                               ("replace", "/srefs"), ("replace", "/items")]


def test_a_reference_whose_target_arrives_later_watches_from_the_end_of_the_action() -> None:
    store = Store.create({})

    def change(s: Store) -> None:
        s.srefs.append("e")  # type: ignore[arg-type]  # not in the tree yet
        s.owner = {"id": "e"}  # type: ignore[assignment]  # a snapshot
        s.srefs.insert(1, "e")  # type: ignore[arg-type]  # watches now
        s.sref = "e"  # type: ignore[assignment]

    store.run(change)
    patches = _patches(store)
    store.run(lambda s: setattr(s, "owner", None))
    assert _paths(patches) == [("remove", "/srefs/1"), ("replace", "/sref"),
                               ("replace", "/srefs"), ("replace", "/owner")]


def test_setting_an_item_makes_a_new_reference() -> None:
    store = Store.create({"items": [{"id": "a"}, {"id": "b"}], "srefs": ["a", "b"]})
    store.run(lambda s: s.srefs.__setitem__(1, "a"))

    def twice(s: Store) -> None:
        s.srefs[0] = "b"  # type: ignore[call-overload]  # identifiers
        s.srefs[0] = "a"  # type: ignore[call-overload]

    store.run(twice)
    patches = _patches(store)
    store.run(lambda s: s.items.pop(0))
    assert _paths(patches) == [("remove", "/srefs/1"), ("replace", "/srefs"),
                               ("remove", "/items/0")]


def _ordered_store() -> Store:
    """srefs ``["a", "a"]`` set second first, and ``sref`` set in between."""
    store = Store.create({"items": [{"id": "a"}], "srefs": ["a"]})
    store.run(lambda s: setattr(s, "sref", "a"))
    store.run(lambda s: s.srefs.insert(0, "a"))
    return store


_ORDERED = [("remove", "/srefs/1"), ("replace", "/sref"), ("replace", "/srefs"),
            ("replace", "/items")]


def _renumber_all(s: Store) -> None:
    """New references everywhere, in another order (a live node is a new reference)."""
    s.srefs.clear()
    s.sref = None
    s.srefs.extend([s.items[0], s.items[0]])
    s.sref = s.items[0]
    s.smap["k"] = "a"  # type: ignore[assignment]  # an identifier


def test_a_rolled_back_action_leaves_the_order_as_it_was() -> None:
    store = _ordered_store()

    def fail(s: Store) -> None:
        _renumber_all(s)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        store.run(fail)
    patches = _patches(store)
    store.run(lambda s: s.items.pop())
    assert _paths(patches) == _ORDERED


def test_a_rolled_back_savepoint_leaves_the_order_as_it_was() -> None:
    store = _ordered_store()

    def inner(s: Store) -> None:
        _renumber_all(s)
        raise RuntimeError("boom")

    def outer(s: Store) -> None:
        with pytest.raises(RuntimeError):
            s.run(inner)
        s.items.pop()

    patches = _patches(store)
    store.run(outer)
    assert _paths(patches) == _ORDERED


def test_map_entries_take_their_place_in_the_order() -> None:
    """Creation numbers in declaration order (``srefs`` before ``smap``), as MST."""
    store = Store.create({"items": [{"id": "a"}], "smap": {"k": "a"}, "srefs": ["a"]})
    store.run(lambda s: s.smap.__setitem__("j", "a"))
    store.run(lambda s: s.smap.__setitem__("k", "a"))  # the same: kept, with its place
    store.run(lambda s: s.srefs.insert(0, "a"))
    patches = _patches(store)
    store.run(lambda s: s.items.pop())
    assert _paths(patches) == [("remove", "/srefs/1"), ("remove", "/smap/k"),
                               ("remove", "/smap/j"), ("replace", "/srefs"),
                               ("replace", "/items")]


def test_a_reference_waiting_for_its_target_is_decided_at_the_end_of_the_action() -> None:
    """Written while its target is missing, a reference watches nothing until the action
    ends (MST's retry): the target arriving and leaving again in the action does not
    clear it; the end of the action does, unless the target is back by then."""
    store = Store.create({})
    patches = _patches(store)

    def arrive_and_leave(s: Store, back: bool) -> None:
        s.srefs.append("d")  # type: ignore[arg-type]  # an identifier
        s.owner = {"id": "d"}  # type: ignore[assignment]  # a snapshot
        s.owner = None
        if back:
            s.items.append({"id": "d"})  # type: ignore[arg-type]

    store.run(lambda s: arrive_and_leave(s, False))
    assert _paths(patches) == [("add", "/srefs/0"), ("replace", "/owner"),
                               ("replace", "/owner"), ("replace", "/srefs")]
    patches.clear()
    store.run(lambda s: arrive_and_leave(s, True))
    assert _paths(patches) == [("add", "/srefs/0"), ("replace", "/owner"),
                               ("replace", "/owner"), ("add", "/items/0")]
    assert store.srefs[0] is store.items[0]


def test_an_adopted_tree_keeps_its_references_clearing_order_in_the_new_thread() -> None:
    import threading

    from mstlite import adopt, destroy

    for _ in range(5):  # this thread numbers some references first
        Store.create({"owner": {"id": "z"}, "srefs": ["z", "z"]})
    store = Store.create({"owner": {"id": "a"}})
    store.run(lambda s: s.srefs.append("a"))  # the older reference
    seen: list[Any] = []

    def worker() -> None:
        adopt(store)
        heard = _patches(store)
        store.run(lambda s: s.srefs.insert(0, "a"))  # a newer one, before it
        heard.clear()
        store.run(lambda s: destroy(s.owner))
        seen.extend(heard)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    # As MST: the reference set first is cleared first, wherever it sits.
    assert seen == [
        {"op": "remove", "path": "/srefs/1"},
        {"op": "replace", "path": "/srefs", "value": []},
        {"op": "replace", "path": "/owner", "value": None},
    ]
