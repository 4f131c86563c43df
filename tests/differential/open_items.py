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

from .case import Difference

__all__ = ["OPEN"]


#: OPEN items of issue 16, by number. REMOVE EACH ENTRY WHEN ITS ITEM IS FIXED: the
#: differential test must then fail on any reappearance of that divergence.
#: (Items 11, 14 and 15 cannot appear in these scripts: no computed views, shallow
#: trees, no plain-JSON patching. Item 12 can: ``plist`` is an array of unidentified
#: models, given its items' own snapshots with ``{"$own": path}``. Their tests, and one
#: per item, are in test_mst_divergences.py.) None is open now: every item is fixed.
OPEN: list[Difference] = []
