"""Comparing the two sides' result documents: the first divergence of a script.

Values are compared as parsed JSON, strictly: ``True`` is not ``1`` (Python's
``==`` says it is), ``1`` equals ``1.0`` (JSON has one number type), objects
compare without regard to key order, arrays in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Divergence", "first_divergence", "json_equal", "replay_divergence",
           "undo_divergence"]


def json_equal(a: Any, b: Any) -> bool:
    """Equality of two parsed JSON values, telling booleans from numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class Divergence:
    """Where the two sides first disagree.

    ``phase`` is ``create``, ``step`` (running the script), ``replay_on_mst`` /
    ``replay_on_mstlite`` (the other side's patch stream applied to a fresh tree
    of this side) or ``undo_mst`` / ``undo_mstlite`` (a side undoing each step
    with its own inverse patches, last step first) or ``unobserved_mstlite``
    (mstlite run again with nobody observing it). ``step`` indexes the
    script's steps (``-1`` for create); ``field`` names what differs.
    ``mstlite`` and ``mst`` are the two sides' results of that step (of
    creation for ``create``); ``detail`` is what a replay or undo gave
    (``got``) against the snapshot it had to give (``expected``).
    """

    phase: str
    step: int
    field: str
    mstlite: Any
    mst: Any
    detail: dict[str, Any] | None = None

    def describe(self) -> str:
        """What each side did, one line each."""
        where = "create" if self.phase == "create" else f"{self.phase} of step {self.step}"
        if self.detail is not None:
            return (f"{where}: {self.field} differs\n  got:      {self.detail['got']!r}\n"
                    f"  expected: {self.detail['expected']!r}")
        return (f"{where}: {self.field} differ\n  mstlite: {self.mstlite!r}\n"
                f"  mst:     {self.mst!r}")


_STEP_FIELDS = ("threw", "failed", "skips", "patches", "inverses", "snapshot")


def first_divergence(py: dict[str, Any], js: dict[str, Any]) -> Divergence | None:
    """The first difference between two ``run`` results, creation first, then step by step."""
    for field in ("threw", "snapshot"):
        if not json_equal(py["create"][field], js["create"][field]):
            return Divergence("create", -1, field, py["create"], js["create"])
    for index, (mine, theirs) in enumerate(zip(py["steps"], js["steps"], strict=True)):
        for field in _STEP_FIELDS:
            if not json_equal(mine[field], theirs[field]):
                return Divergence("step", index, field, mine, theirs)
    return None


def replay_divergence(
    phase: str, py: dict[str, Any], js: dict[str, Any], replayed: dict[str, Any]
) -> Divergence | None:
    """Where a replay of one side's stream on the other stops giving that side's snapshots.

    ``phase`` ``replay_on_mst`` replays mstlite's stream (``py``) on MST.
    """
    source = py if phase == "replay_on_mst" else js
    for index, step in enumerate(source["steps"]):
        got = replayed["steps"][index] if index < len(replayed["steps"]) else None
        if got is None or got["threw"] or not json_equal(got["snapshot"], step["snapshot"]):
            detail = {"got": got or replayed, "expected": step["snapshot"]}
            return Divergence(phase, index, "replayed snapshot", py["steps"][index],
                              js["steps"][index], detail)
    return None


def undo_divergence(phase: str, py: dict[str, Any], js: dict[str, Any]) -> Divergence | None:
    """Where a side's undo (inverse patches, last step first) stops restoring its snapshots."""
    result = py if phase == "undo_mstlite" else js
    steps = result["steps"]
    before = [result["create"]["snapshot"]] + [s["snapshot"] for s in steps[:-1]]
    for position, got in enumerate(result["undo"]):
        index = len(steps) - 1 - position
        if got["threw"] or not json_equal(got["snapshot"], before[index]):
            other = (js if phase == "undo_mstlite" else py)["undo"]
            # What the other side's undo gave at that step (a limit of the stream itself
            # when both sides, having emitted the same inverses, fail alike).
            detail = {"got": got, "expected": before[index],
                      "other": other[position] if position < len(other) else None}
            return Divergence(phase, index, "undone snapshot", py["steps"][index],
                              js["steps"][index], detail)
    return None
