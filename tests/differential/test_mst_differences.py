"""The documented differences from MobX-State-Tree, each pinned: mstlite's side and MST's.

These are kept on purpose (README, "Differences from MobX-State-Tree"); the
differential test recognises each by name. Every scenario records what MST
9.0.0 did, and ``test_recorded_mst_behaviour`` re-runs it on MST.
"""

from __future__ import annotations

from typing import Any

import pytest

from mstlite import Model, TreeError, ValidationError, action, get_snapshot
from mstlite._types.depth import MAX_DEPTH

from .node_side import NodeSide
from .runner_py import run_script
from .schema import Root

#: Scripts (one step each) and MST's outcome of the step: threw, patches, snapshot props.
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    # name: (script, MST, mstlite)
    "actions are transactions": (
        {"init": {}, "steps": [[{"k": "set", "t": [], "p": "s", "v": "x"},
                                {"k": "set", "t": [], "p": "i", "v": 1.5}]]},
        {"threw": True, "patches": [{"op": "replace", "path": "/s", "value": "x"}],
         "snapshot": {"s": "x", "i": 0}},
        {"threw": True, "patches": [], "snapshot": {"s": "", "i": 0}}),
    "identifiers are unique per type": (
        {"init": {"items": [{"id": "a"}]},
         "steps": [[{"k": "set", "t": [], "p": "owner", "v": {"id": "a"}}]]},
        {"threw": False,
         "patches": [{"op": "replace", "path": "/owner", "value": {"id": "a", "name": "", "n": 0}}],
         "snapshot": {"owner": {"id": "a", "name": "", "n": 0}}},
        {"threw": True, "patches": [], "snapshot": {"owner": None}}),
    "apply_patch: remove of a missing key": (
        {"init": {}, "steps": [[{"k": "patch", "t": [],
                                 "v": [{"op": "remove", "path": "/smap/a"}]}]]},
        {"threw": False, "patches": [], "snapshot": {"smap": {}}},
        {"threw": True, "patches": [], "snapshot": {"smap": {}}}),
    "apply_patch: replace of an undeclared property": (
        {"init": {}, "steps": [[{"k": "patch", "t": [],
                                 "v": [{"op": "replace", "path": "/zz", "value": 1}]}]]},
        {"threw": False, "patches": [], "snapshot": {}},
        {"threw": True, "patches": [], "snapshot": {}}),
    "apply_patch: add past the end": (
        {"init": {"tags": ["x"]},
         "steps": [[{"k": "patch", "t": [],
                     "v": [{"op": "add", "path": "/tags/5", "value": "y"}]}]]},
        {"threw": False, "patches": [{"op": "add", "path": "/tags/1", "value": "y"}],
         "snapshot": {"tags": ["x", "y"]}},
        {"threw": True, "patches": [], "snapshot": {"tags": ["x"]}}),
}


def _step_outcome(result: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    step = result["steps"][-1]
    return {"threw": step["threw"], "patches": step["patches"],
            "snapshot": {k: step["snapshot"][k] for k in expected["snapshot"]}}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_mstlite_side_of_the_difference(name: str) -> None:
    script, _, mine = SCENARIOS[name]
    assert _step_outcome(run_script(script), mine) == mine


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_recorded_mst_behaviour(node: NodeSide, name: str) -> None:
    script, mst, _ = SCENARIOS[name]
    assert _step_outcome(node.run(script), mst) == mst


def test_map_keys_keep_insertion_order() -> None:
    """JavaScript puts integer-like keys first, ``["1", "b"]``; mstlite keeps ``["b", "1"]``."""
    store = Root.create({"smap": {"b": "1", "1": "2"}})
    smap: Any = get_snapshot(store)["smap"]  # a JSON value: iterated as the dict it is
    assert list(smap) == ["b", "1"]
    assert list(store.smap) == ["b", "1"]


def test_mst_puts_integer_like_keys_first(node: NodeSide) -> None:
    created = node.run({"init": {"smap": {"b": "1", "1": "2"}}, "steps": []})["create"]
    assert list(created["snapshot"]["smap"]) == ["1", "b"]  # JSON object order as MST wrote it


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="zz"):
        Root.create({"owner": {"id": "a", "zz": 2}})


def test_mst_drops_unknown_keys(node: NodeSide) -> None:
    created = node.run({"init": {"zz": 1, "owner": {"id": "a", "zz": 2}}, "steps": []})["create"]
    assert not created["threw"]
    assert created["snapshot"]["owner"] == {"id": "a", "name": "", "n": 0}
    assert "zz" not in created["snapshot"]


def test_a_model_can_opt_to_drop_unknown_keys() -> None:

    class Lenient(Model, unknown_keys="drop"):
        name: str = ""

    node = Lenient.create({"name": "x", "added_by_a_newer_schema": 1})
    assert get_snapshot(node) == {"name": "x"}


class Deep(Model):
    kids: list[Deep] = []

    @action
    def grow(self, levels: int) -> None:
        node = self
        for _ in range(levels):
            node.kids.append({})  # type: ignore[arg-type]  # a snapshot
            node = node.kids[0]


#: Levels of Deep (a model and its array each) past mstlite's limit, within MST's stack.
PAST_THE_LIMIT = MAX_DEPTH // 2 + 50


def test_trees_nest_at_most_max_depth_levels() -> None:
    root = Deep.create({})
    with pytest.raises(TreeError, match="depth limit"):
        root.grow(PAST_THE_LIMIT)
    assert get_snapshot(root) == {"kids": []}


def test_mst_has_no_depth_limit_below_its_stack(node: NodeSide) -> None:
    outcome = node.probe("depth", PAST_THE_LIMIT)
    assert outcome == {"build": "ok", "snapshot": "ok", "clone": "ok", "create": "ok",
                       "apply": "ok"}
