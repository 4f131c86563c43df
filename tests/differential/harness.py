"""Running a script on both sides and explaining where they differ.

``Harness.check(script)`` runs the script on mstlite and on MST, compares
creation and every step (throw or not, skipped ops, patches, inverse patches,
snapshot), then replays each side's patch stream on a fresh tree of the other
side and undoes each step with its inverse patches on both, and finally
runs the script on mstlite once more with nobody observing the tree (no
listener, no snapshot read until the end) for the same final snapshot. The first
divergence is handed to the classifiers (``differences.py``: the documented
differences, then the open items of issue 16); when one explains it, the step
is dropped and the rest of the script is checked again, so one explained
divergence does not hide the ops after it. An unexplained divergence ends the
check; ``shrink`` then reduces the script to a smallest one that still has one.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from . import runner_py
from .case import Case
from .compare import (
    Divergence,
    first_divergence,
    json_equal,
    replay_divergence,
    undo_divergence,
)
from .differences import classify
from .node_side import NodeSide

__all__ = ["Finding", "Harness", "Report"]

#: How many explained divergences one script may drop before it is considered checked.
MAX_DROPS = 6


@dataclass(frozen=True)
class Finding:
    """A divergence, the script it appeared in, and the names explaining it (``None``: none)."""

    names: list[str] | None
    divergence: Divergence
    script: dict[str, Any]


@dataclass
class Report:
    """Counts over many scripts."""

    scripts: int = 0
    clean: int = 0
    explained: Counter[str] = field(default_factory=Counter)
    unexplained: list[Finding] = field(default_factory=list)
    examples: dict[str, Finding] = field(default_factory=dict)


class Harness:
    """Both sides, ready to run scripts (owns a node process; close it)."""

    def __init__(self) -> None:
        self.node = NodeSide()

    def close(self) -> None:
        """End the node process."""
        self.node.close()

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def divergence(self, script: dict[str, Any]) -> Divergence | None:
        """The first divergence of ``script`` over all phases, or ``None``."""
        py = runner_py.run_script(script)
        js = self.node.run(script)
        found = first_divergence(py, js)
        if found is not None or py["create"]["threw"]:
            return found
        py_stream = [step["patches"] for step in py["steps"]]
        js_stream = [step["patches"] for step in js["steps"]]
        replayed_on_mst = self.node.replay(script["init"], py_stream)
        found = replay_divergence("replay_on_mst", py, js, replayed_on_mst)
        if found is not None:
            return found
        replayed_on_py = runner_py.replay(script["init"], js_stream)
        found = replay_divergence("replay_on_mstlite", py, js, replayed_on_py)
        if found is not None:
            return found
        found = undo_divergence("undo_mstlite", py, js) or undo_divergence("undo_mst", py, js)
        if found is not None or not py["steps"]:
            return found
        unobserved = runner_py.run_unobserved(script)
        last = py["steps"][-1]
        if not json_equal(unobserved, last["snapshot"]):
            detail = {"got": {"snapshot": unobserved}, "expected": last["snapshot"]}
            index = len(py["steps"]) - 1
            return Divergence("unobserved_mstlite", index, "final snapshot", last,
                              js["steps"][index], detail)
        return None

    def explain(self, script: dict[str, Any], found: Divergence) -> list[str] | None:
        """The name explaining ``found``; a step of several ops is cut at its first diverging op.

        Recognisers read one op's effect; when the step has more ops, the
        smallest prefix of them that already diverges is what gets explained.
        """
        ops = script["steps"][found.step] if found.step >= 0 else []
        for count in range(1, len(ops)):
            cut = {**script, "steps": [*script["steps"][: found.step], ops[:count]]}
            earlier = self.divergence(cut)
            if earlier is not None:
                return self.explain(cut, earlier)
        return classify(Case(script, found))

    def check(self, script: dict[str, Any]) -> list[Finding]:
        """Every divergence of ``script``, explained ones first; an unexplained one ends it."""
        findings: list[Finding] = []
        current = script
        for _ in range(MAX_DROPS + 1):
            found = self.divergence(current)
            if found is None:
                break
            names = self.explain(current, found)
            findings.append(Finding(names, found, current))
            if names is None:
                break
            current = copy.deepcopy(current)
            if found.step >= 0:
                del current["steps"][found.step]
                continue
            # Creation: go on from what MST built, when that is a new start.
            created = found.mst
            if created["threw"] or created["snapshot"] == current["init"]:
                break
            current["init"] = created["snapshot"]
        return findings

    def run_many(self, scripts: list[dict[str, Any]], *, shrink: bool = True) -> Report:
        """Check every script; unexplained findings are shrunk when ``shrink``."""
        report = Report()
        for script in scripts:
            report.scripts += 1
            findings = self.check(script)
            if not findings:
                report.clean += 1
            for finding in findings:
                if finding.names is None:
                    if shrink:
                        finding = self.shrink_finding(finding)
                    report.unexplained.append(finding)
                    continue
                for name in finding.names:
                    report.explained[name] += 1
                    previous = report.examples.get(name)
                    if previous is None or _size(finding.script) < _size(previous.script):
                        report.examples[name] = finding
        return report

    def shrink_finding(self, finding: Finding) -> Finding:
        """``finding`` with its script shrunk to a smallest one still unexplained."""
        from .shrink import shrink

        def unexplained(candidate: dict[str, Any]) -> bool:
            found = self.divergence(candidate)
            return found is not None and self.explain(candidate, found) is None

        smallest = shrink(finding.script, unexplained)
        found = self.divergence(smallest)
        assert found is not None
        return Finding(None, found, smallest)


def _size(script: dict[str, Any]) -> int:
    return sum(len(step) for step in script["steps"]) * 1000 + len(str(script))
