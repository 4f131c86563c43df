"""Fixtures of the differential test: the MST side, skipped locally without ``node``.

Under CI (``CI=true``) a missing ``node`` or a failed ``npm ci`` fails the
tests that need MST instead of skipping them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Harness
from .node_side import NodeSide, missing_node_outcome, unavailable


def _require_mst() -> None:
    reason = unavailable()
    if reason is None:
        return
    if missing_node_outcome(reason) == "fail":
        pytest.fail(f"{reason} (CI must run the differential test against MST)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def harness() -> Iterator[Harness]:
    """Both sides, with one node process for the whole session."""
    _require_mst()
    with Harness() as running:
        yield running


@pytest.fixture(scope="session")
def node(harness: Harness) -> NodeSide:
    """The MST side alone."""
    return harness.node
