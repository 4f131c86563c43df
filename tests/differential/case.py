"""What a recogniser looks at: a divergence, its script, and facts derived from them.

Recognisers (``differences.py``, ``open_items.py``) are predicates on a
``Case``. The facts they need beyond the two sides' results (the snapshot
before the step, what mstlite did with the ops before the failing one) are
computed by re-running a prefix of the script on mstlite, which agrees with
MST up to the divergence.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from mstlite.patch import apply as apply_json_patch

from . import runner_py
from .compare import Divergence, json_equal

__all__ = [
    "Case",
    "Difference",
    "Pair",
    "equal_but_references",
    "has_duplicate_ids",
    "is_clash",
    "is_clearing",
    "item_ids",
    "js_key_rank",
    "multiset",
    "references_dropped",
    "values_of",
]

#: A patch and its inverse, as a listener hears them.
Pair = tuple[dict[str, Any], dict[str, Any]]
#: A rewrite of the two sides' (patch, inverse) lists that takes out what one difference explains.
Rewrite = Callable[["Case", list[Pair], list[Pair]], tuple[list[Pair], list[Pair]]]


@dataclass(frozen=True)
class Difference:
    """A named difference from MST and how it is recognised.

    ``recognise`` explains a whole step (a throw on one side only, a refused
    snapshot), with its own name or the list of names it returns; ``rewrite``
    takes out of the two patch streams of a step exactly the patches (or the
    order) the difference accounts for, so that several
    differences met by one op (a root ``apply_snapshot``) are each named.
    """

    name: str
    recognise: Callable[[Case], bool | list[str]] | None = None
    rewrite: Rewrite | None = None
    #: True when the difference leaves mstlite with no snapshot to compare (a crash).
    spoils_snapshot: Callable[[Case], bool] | None = None

_INTEGER_KEY = re.compile(r"0|[1-9][0-9]*")


def js_key_rank(key: str) -> tuple[int, int]:
    """Where JavaScript puts ``key`` among an object's own keys: array indices first, ascending."""
    if _INTEGER_KEY.fullmatch(key) and int(key) < 2**32 - 1:
        return (0, int(key))
    return (1, 0)


def item_ids(snapshot: Any) -> list[str]:
    """The identifiers of every Item in a root snapshot (owner, items, imap), with repeats."""
    if not isinstance(snapshot, dict) or "$error" in snapshot:
        return []
    ids = [item["id"] for item in snapshot.get("items", [])]
    ids += [item["id"] for item in snapshot.get("imap", {}).values()]
    if snapshot.get("owner"):
        ids.append(snapshot["owner"]["id"])
    return ids


def is_clash(error: str | None) -> bool:
    """``error`` is mstlite refusing a second node with an identifier already in the tree."""
    text = error or ""
    return any(m in text for m in ("used twice", "already used", "IdentifierClashError"))


def has_duplicate_ids(snapshot: Any) -> bool:
    """True when two Items of ``snapshot`` share an identifier."""
    ids = item_ids(snapshot)
    return len(ids) != len(set(ids))


def is_clearing(patch: dict[str, Any]) -> bool:
    """A patch of the kind MST emits when it clears a safe reference."""
    path, op = patch["path"], patch["op"]
    if path == "/sref":
        return op == "replace" and patch.get("value") is None
    if path == "/srefs":
        return op == "replace" and patch.get("value") == []
    return op == "remove" and re.fullmatch(r"/srefs/[0-9]+", path) is not None


_NO_REFERENCES: dict[str, Any] = {"sref": None, "srefs": []}


def equal_but_references(a: Any, b: Any) -> bool:
    """Two root snapshots are equal but for ``sref`` and ``srefs``."""
    if not isinstance(a, dict) or not isinstance(b, dict) or "$error" in a or "$error" in b:
        return False
    return json_equal({**a, **_NO_REFERENCES}, {**b, **_NO_REFERENCES})


def references_dropped(kept: dict[str, Any], full: dict[str, Any]) -> bool:
    """``kept`` holds some of ``full``'s safe references and no other (``sref`` too)."""
    left = Counter(full["srefs"])
    left.subtract(kept["srefs"])
    return min(left.values(), default=0) >= 0 and kept["sref"] in (None, full["sref"])


def values_of(spec: Any) -> Iterator[Any]:
    """Every JSON value nested in ``spec`` (dicts and lists walked)."""
    yield spec
    if isinstance(spec, dict):
        for value in spec.values():
            yield from values_of(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from values_of(value)


def multiset(patches: list[Any]) -> Counter[str]:
    """Patches as a multiset (canonical JSON each)."""
    return Counter(json.dumps(p, sort_keys=True) for p in _numbers_as_floats(patches))


def _numbers_as_floats(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    return {k: _numbers_as_floats(v) for k, v in value.items()}


@dataclass
class Case:
    """A divergence of ``script``, for the recognisers."""

    script: dict[str, Any]
    found: Divergence

    @property
    def phase(self) -> str:
        return self.found.phase

    @property
    def py(self) -> dict[str, Any]:
        """mstlite's result of the step (of creation for phase ``create``)."""
        return self.found.mstlite  # type: ignore[no-any-return]

    @property
    def js(self) -> dict[str, Any]:
        """MST's result of the step (of creation for phase ``create``)."""
        return self.found.mst  # type: ignore[no-any-return]

    @property
    def ops(self) -> list[dict[str, Any]]:
        """The ops of the diverging step ([] for creation)."""
        if self.found.step < 0:
            return []
        ops: list[dict[str, Any]] = self.script["steps"][self.found.step]
        return ops

    def op(self, index: int | None) -> dict[str, Any] | None:
        """Op ``index`` of the step, or ``None``."""
        return None if index is None else self.ops[index]

    def prefix(self, count: int) -> dict[str, Any]:
        """mstlite's result of a step made of the first ``count`` ops of this one."""
        steps = [*self.script["steps"][: self.found.step], self.ops[:count]]
        result = runner_py.run_script({"init": self.script["init"], "steps": steps})
        return result["steps"][-1]  # type: ignore[no-any-return]

    @cached_property
    def before(self) -> Any:
        """The snapshot before the step (the two sides agree on it)."""
        return self.prefix(0)["snapshot"]

    def states(self, side: dict[str, Any]) -> Iterator[Any]:
        """Every state a side's tree went through in the step: its patches one at a time."""
        state = self.before
        yield state
        for patch in side["patches"]:
            try:
                state = apply_json_patch(state, [patch])
            except Exception:
                return
            yield state

    @cached_property
    def js_pairs(self) -> list[Pair]:
        """MST's (patch, inverse) pairs of the step, in order."""
        return list(zip(self.js["patches"], self.js["inverses"], strict=True))

    @cached_property
    def py_pairs(self) -> list[Pair]:
        """mstlite's (patch, inverse) pairs of the step, in order."""
        return list(zip(self.py["patches"], self.py["inverses"], strict=True))

    def js_state_before(self, pair: Pair) -> Any:
        """MST's tree (as JSON) just before it emitted ``pair`` (one of ``js_pairs``)."""
        index = next(i for i, p in enumerate(self.js_pairs) if p is pair)
        state = self.before
        for patch, _ in self.js_pairs[:index]:
            state = apply_json_patch(state, [patch])
        return state

    def equal(self, a: Any, b: Any) -> bool:
        """JSON equality (booleans are not numbers)."""
        return json_equal(a, b)
