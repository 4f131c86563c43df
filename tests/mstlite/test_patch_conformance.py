"""``mstlite.patch.apply`` passes the public RFC 6902 test suite (json-patch-tests).

The records live in ``conformance/json-patch-tests/`` (Apache License 2.0, see
the README there). Every enabled record runs: one with ``expected`` must give
exactly it, one with ``error`` must raise ``PatchError`` and nothing else, and
the input document must be unchanged either way.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import mstlite.patch
from mstlite.errors import PatchError

SUITE = Path(__file__).parent / "conformance" / "json-patch-tests"


def _record_id(source: str, position: int, record: dict[str, Any]) -> str:
    """``tests-012-<comment>``: the position keeps ids unique, the comment makes them readable."""
    label = record.get("comment") or record.get("error") or json.dumps(record["patch"])
    label = " ".join(str(label).split())
    if len(label) > 60:
        label = label[:57] + "..."
    return f"{source}-{position:03d}-{label}"


def _records() -> list[Any]:
    params = []
    for name in ("tests.json", "spec_tests.json"):
        records = json.loads((SUITE / name).read_text(encoding="utf-8"))
        for position, record in enumerate(records):
            if "patch" not in record or record.get("disabled"):
                continue  # A note, or a record the suite itself disables.
            params.append(pytest.param(record, id=_record_id(name[:-5], position, record)))
    return params


RECORDS = _records()


def test_suite_is_present_and_mostly_enabled() -> None:
    assert len(RECORDS) >= 100


@pytest.mark.parametrize("record", RECORDS)
def test_record(record: dict[str, Any]) -> None:
    document = record["doc"]
    pristine = copy.deepcopy(document)
    if "error" in record:
        with pytest.raises(PatchError):
            mstlite.patch.apply(document, record["patch"])
    else:
        result = mstlite.patch.apply(document, record["patch"])
        if "expected" in record:
            assert result == record["expected"]
            # == alone would accept True for 1 and 1 for 1.0.
            assert json.dumps(result, sort_keys=True) == json.dumps(
                record["expected"], sort_keys=True
            )
    assert document == pristine
    assert json.dumps(document, sort_keys=True) == json.dumps(pristine, sort_keys=True)
