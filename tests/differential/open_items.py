"""OPEN divergences from MST: the numbered items of issue 16 that are not fixed yet.

Each entry is a bug, not a difference: it is here only so that the
differential test can tell a known open item from a new divergence while the
fixes are pending. REMOVE AN ENTRY WHEN ITS ITEM IS FIXED (its test in
test_mst_divergences.py then passes and loses its xfail marker): from then on
that divergence fails the differential test like any unexplained one.

Each recogniser matches the op kind and the specific difference the issue
describes, nothing wider.
"""

from __future__ import annotations

import re
from typing import Any

from .case import Case, Difference, values_of
from .stream import clearing_order

__all__ = ["OPEN"]


def undo_trips_on_its_own_clearing(case: Case) -> bool:
    """New (part): mstlite cannot undo a step with its own inverse patches when the step
    wrote safe references before the nodes they point to arrived, and undoing clears
    more of them than a later inverse patch's index allows for.

    (Fixed for the simple case: a patch naming a place past the end of an array, by
    no more than the safe references the same patch list cleared from it, is
    satisfied there, as in MST.)

    Undoing removes the node first, which clears the reference at once; the
    inverse of the reference's ``add`` or ``replace`` then finds no item
    (``PatchError``, under RFC 6902) or removes another one. MST emits the same
    stream and undoes it. Seen with
    ``apply_patch([add /srefs/0 "e", add /owner {"id": "e"}])``.
    """
    if case.phase != "undo_mstlite" or case.found.detail is None:
        return False
    patches = case.py["patches"]
    for index, patch in enumerate(patches):
        if patch["op"] not in ("add", "replace") or not re.fullmatch(r"/srefs/[0-9]+",
                                                                    patch["path"]):
            continue
        later = [v for p in patches[index + 1 :] for v in values_of(p.get("value"))]
        if any(isinstance(v, dict) and v.get("id") == patch.get("value") for v in later):
            break
    else:
        return False
    got, expected = case.found.detail["got"], case.found.detail["expected"]
    if got.get("threw"):
        return re.search(r"PatchError: patch [0-9]+ \((add|remove|replace)\b.* at '/srefs",
                         got.get("error") or "") is not None
    rest: dict[str, Any] = {"srefs": []}
    return case.equal({**got["snapshot"], **rest}, {**expected, **rest})


#: OPEN items of issue 16, by number. REMOVE EACH ENTRY WHEN ITS ITEM IS FIXED: the
#: differential test must then fail on any reappearance of that divergence.
#: (Items 11, 14 and 15 cannot appear in these scripts: no computed views, shallow
#: trees, no plain-JSON patching. Item 12 can: ``plist`` is an array of unidentified
#: models, given its items' own snapshots with ``{"$own": path}``. Their tests, and one
#: per item, are in test_mst_divergences.py.)
OPEN: list[Difference] = [
    Difference("16.3 (part) one array's references to one target, set at different times, "
               "are cleared in position order, not in the order they were set",
               rewrite=clearing_order),
    # Found by this harness, not in the list (reported with issue 16):
    Difference("new (part): undoing a step with its inverse patches trips on references "
               "it cleared", undo_trips_on_its_own_clearing),
]
