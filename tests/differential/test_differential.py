"""The differential test: random op scripts on mstlite and on MST 9.0.0, compared step by step.

``test_random_scripts`` runs ``DIFFERENTIAL_SCRIPTS`` scripts (default 150)
for each of four seeds; every divergence must be explained by a documented
difference, an open item of issue 16 or a named MST defect, else the test
fails with the shrunk script. Thousands run on demand with
``python -m tests.differential --scripts 5000 --seed N``.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from .case import Case
from .compare import first_divergence, json_equal
from .differences import DOCUMENTED, MST_DEFECTS, classify
from .generator import generate, scripts
from .harness import Harness
from .node_side import in_ci, missing_node_outcome
from .open_items import OPEN
from .runner_py import run_script
from .shrink import shrink

SEEDS = [0, 1, 2, 3]
SCRIPTS_PER_SEED = int(os.environ.get("DIFFERENTIAL_SCRIPTS", "150"))


@pytest.mark.parametrize("seed", SEEDS)
def test_random_scripts(harness: Harness, seed: int) -> None:
    report = harness.run_many(scripts(seed, SCRIPTS_PER_SEED))
    assert report.scripts == SCRIPTS_PER_SEED
    assert report.clean > SCRIPTS_PER_SEED // 10, "almost no script ran clean: the runners disagree"
    if report.unexplained:
        lines = [f"{len(report.unexplained)} unexplained divergence(s) from MST (seed {seed}):"]
        for finding in report.unexplained:
            lines += [f"  shrunk script: {finding.script}", "  " + finding.divergence.describe()]
        pytest.fail("\n".join(lines))


#: A smallest script showing each named divergence (found by the harness, shrunk).
EXAMPLES: dict[str, dict[str, Any]] = {
    "actions are transactions": {"init": {}, "steps": [[
        {"k": "set", "t": [], "p": "s", "v": "x"}, {"k": "set", "t": [], "p": "i", "v": 1.5}]]},
    "identifiers are unique per type in a tree": {"init": {}, "steps": [[
        {"k": "push", "t": ["items"], "v": [{"id": "d"}, {"id": "d"}]}]]},
    "apply_patch is RFC 6902-strict": {"init": {}, "steps": [[
        {"k": "patch", "t": ["smap"], "v": [{"op": "remove", "path": "/a"}]}]]},
    "map keys keep insertion order": {"init": {}, "steps": [[
        {"k": "merge", "t": ["smap"], "v": {"b": "y", "1": ""}}]]},
    "unknown keys in a snapshot are rejected": {"init": {}, "steps": [[
        {"k": "set", "t": [], "p": "owner", "v": {"id": "a", "zz": 1}}]]},
    "stream limit: a move inside an array replays as destroy + create": {
        "init": {"items": [{"id": "a"}, {"id": "c"}, {"id": "b"}], "srefs": ["c", "b", "a"]},
        "steps": [[{"k": "splice", "t": ["items"], "i": 1, "n": 2,
                    "v": [{"$node": ["items", 2]}]}]]},
    "stream limit: MST's own undo of the same inverse patches fails alike": {
        "init": {"owner": {"id": "b", "n": 1}, "srefs": ["b", "b"]},
        "steps": [[{"k": "patch", "t": [], "v": [{"op": "add", "path": "/srefs/1", "value": "e"}]},
                   {"k": "mset", "t": ["imap"], "key": "e", "v": {"id": "e", "name": "y"}}]]},
    "MST defect: a failed write leaves a tree its patches do not describe": {"init": {}, "steps": [[
        {"k": "patch", "t": ["imap"], "v": [
            {"op": "remove", "path": "/b"},
            {"op": "replace", "path": "/b", "value": {"id": "b", "name": "x", "n": 1}},
            {"op": "add", "path": "/b", "value": {"id": "a"}}]}]]},
    "MST defect: a write that threw leaves ghost nodes in its identifier cache": {
        "init": {"items": [{"id": "c"}, {"id": "a"}], "srefs": ["a", "a", "a"]},
        "steps": [[{"k": "replace", "t": ["srefs"], "v": []}],
                  [{"k": "mset", "t": ["imap"], "key": "b", "v": {"id": "a", "name": "y"}}]]},
    "MST defect: writing over a reference to a missing target throws": {
        "init": {"ref": "c", "items": [{"id": "d"}]},
        "steps": [[{"k": "set", "t": [], "p": "ref", "v": {"$node": ["items", 0]}}]]},
    "MST defect: it cannot undo a move of an identifier to an earlier property": {
        "init": {"imap": {"a": {"id": "a"}}, "srefs": ["a"]},
        "steps": [[{"k": "snap", "t": [], "v": {"owner": {"id": "a"}}}]]},
    "MST defect: an array write can put a node twice into its own array": {
        "init": {"items": [{"id": "d"}, {"id": "c"}, {"id": "b"}]},
        "steps": [[{"k": "splice", "t": ["items"], "i": 0, "n": 2,
                    "v": [{"$node": ["items", 2]}]}]]},
}


def test_every_name_has_an_example() -> None:
    names = {d.name for d in (*DOCUMENTED, *OPEN, *MST_DEFECTS)}
    assert names == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_is_recognised_by_its_name(harness: Harness, name: str) -> None:
    """Each example diverges and is explained by its own name, first.

    When an open item is fixed its example stops diverging and this fails:
    remove the item from open_items.OPEN and its example from here.
    """
    script = EXAMPLES[name]
    found = harness.divergence(script)
    assert found is not None, f"{name!r} no longer diverges: remove it from the registry"
    assert harness.explain(script, found) == [name]


def _tampered(harness: Harness, script: dict[str, Any], change: Any) -> Case | None:
    py = run_script(script)
    js = harness.node.run(script)
    assert first_divergence(py, js) is None
    change(py["steps"][0])
    found = first_divergence(py, js)
    return None if found is None else Case(script, found)


TAMPERINGS = {
    "a patch missing": lambda step: (step["patches"].pop(), step["inverses"].pop()),
    "a patch value changed": lambda step: step["patches"][0].update(value="changed"),
    "two patches swapped": lambda step: step["patches"].reverse(),
    "a throw": lambda step: step.update(threw=True, error="TreeError: x", failed=0, patches=[],
                                         inverses=[]),
    "a snapshot value changed": lambda step: step["snapshot"].update(s="changed"),
    "a boolean for a number": lambda step: step["snapshot"].update(i=True),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
def test_an_invented_divergence_is_not_explained(harness: Harness, tampering: str) -> None:
    """The recognisers are precise: a divergence no difference explains stays unexplained."""
    script = {"init": {"items": [{"id": "a"}], "i": 1},
              "steps": [[{"k": "set", "t": [], "p": "s", "v": "x"},
                         {"k": "set", "t": ["items", 0], "p": "name", "v": "y"}]]}
    case = _tampered(harness, script, TAMPERINGS[tampering])
    assert case is not None
    assert classify(case) is None


def test_json_equal_tells_booleans_from_numbers() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal(True, 1)
    assert not json_equal({"a": 0}, {"a": False})
    assert not json_equal([1, 2], [2, 1])
    assert json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})


def test_generator_is_deterministic_and_json() -> None:
    import json

    assert generate(5, 17) == generate(5, 17)
    assert generate(5, 17) != generate(5, 18)
    assert json.loads(json.dumps(scripts(3, 20))) == scripts(3, 20)


def test_shrink_finds_a_smallest_script() -> None:
    script = {"init": {"a": 1, "b": 2}, "steps": [[{"k": "x"}, {"k": "y"}], [{"k": "z"}],
                                                  [{"k": "y"}, {"k": "w"}]]}

    def fails(candidate: dict[str, Any]) -> bool:
        ops = [op["k"] for step in candidate["steps"] for op in step]
        return "y" in ops and "b" in candidate["init"]

    smallest = shrink(copy.deepcopy(script), fails)
    assert smallest["init"] == {"b": 2}
    assert [[op["k"] for op in step] for step in smallest["steps"]] == [["y"]]


def test_missing_node_fails_under_ci_and_skips_locally() -> None:
    assert missing_node_outcome("no node", {"CI": "true"}) == "fail"
    assert missing_node_outcome("no node", {"CI": "1"}) == "fail"
    assert missing_node_outcome("no node", {}) == "skip"
    assert missing_node_outcome("no node", {"CI": "false"}) == "skip"
    assert in_ci({"CI": "yes"}) and not in_ci({"CI": ""})
