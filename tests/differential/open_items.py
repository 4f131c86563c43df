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

from .case import (
    Case,
    Difference,
    equal_but_references,
    has_duplicate_ids,
    is_clash,
    item_ids,
    values_of,
)
from .differences import _mstlite_failed_alone
from .stream import (
    clearing_order,
    dangling_clearings,
    detach_clearings,
    equal_reference_splice,
)

__all__ = ["OPEN"]


def dangling_at_creation(case: Case) -> bool:
    """16.2 at creation: mstlite keeps safe references to absent identifiers; MST drops them."""
    if case.phase != "create" or case.py["threw"] or case.js["threw"]:
        return False
    mine, theirs = case.py["snapshot"], case.js["snapshot"]
    ids = set(item_ids(theirs))
    kept = [r for r in mine["srefs"] if r in ids]
    sref = mine["sref"] if mine["sref"] in ids else None
    return equal_but_references(mine, theirs) and kept == theirs["srefs"] and sref == theirs["sref"]


def undo_trips_on_its_own_clearing(case: Case) -> bool:
    """New: mstlite cannot undo a step with its own inverse patches when the step wrote a
    safe reference before the node it points to arrived.

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


def identifier_moves_earlier(case: Case) -> bool:
    """16.13: apply_snapshot refuses a valid snapshot moving an identifier to an earlier prop."""
    op = _mstlite_failed_alone(case)
    if op is None or op["k"] != "snap" or op["t"] != []:
        return False
    if not is_clash(case.py["error"]):
        return False
    # Valid as a whole, and MST ends without duplicates (it may pass through one
    # while it applies the properties in order: that is the point of the item).
    return not has_duplicate_ids(op["v"]) and not has_duplicate_ids(case.js["snapshot"])


#: OPEN items of issue 16, by number. REMOVE EACH ENTRY WHEN ITS ITEM IS FIXED: the
#: differential test must then fail on any reappearance of that divergence.
#: (Items 11, 14 and 15 cannot appear in these scripts: no computed views, shallow
#: trees, no plain-JSON patching. Item 12 can: ``plist`` is an array of unidentified
#: models, given its items' own snapshots with ``{"$own": path}``. Their tests, and one
#: per item, are in test_mst_divergences.py.)
OPEN: list[Difference] = [
    Difference("16.1 detach does not clear safe references", rewrite=detach_clearings),
    Difference("16.2 a safe reference to a missing identifier is kept",
               dangling_at_creation, rewrite=dangling_clearings),
    Difference("16.3 safe references are cleared in another order", rewrite=clearing_order),
    Difference("16.13 apply_snapshot refuses an identifier moving to an earlier property",
               identifier_moves_earlier),
    # Found by this harness, not in the list (reported with issue 16):
    Difference("new: undoing a step with its inverse patches trips on a reference it cleared",
               undo_trips_on_its_own_clearing),
    Difference("new: a splice of srefs re-writing a live node it refers to emits nothing",
               rewrite=equal_reference_splice),
]
