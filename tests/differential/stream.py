"""Explaining a step whose two patch streams differ, difference by difference.

Each rewrite takes out of the two sides' (patch, inverse) lists exactly what
one difference accounts for: the safe-reference clearings MST emits and
mstlite does not, MST's no-op frozen ``replace``, an order of map keys or of
clearings. ``explain_stream`` applies them in turn and names those without
which the streams would still differ; the streams must end up equal, and the
snapshots too (modulo the references MST cleared, when it cleared some).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .case import (
    Case,
    Difference,
    Pair,
    equal_but_references,
    is_clearing,
    item_ids,
    js_key_rank,
    references_dropped,
    values_of,
)

__all__ = [
    "dangling_clearings",
    "detach_clearings",
    "explain_stream",
    "map_key_order",
]

MAPS = ("smap", "imap", "pmap")
Pairs = list[Pair]
#: Both sides' (patch, inverse) lists, mstlite's first.
Streams = tuple[Pairs, Pairs]


def _extra_clearings(mine: list[Pair], theirs: list[Pair]) -> list[Pair]:
    """MST's clearing pairs dropping identifiers that mstlite's clearings do not drop."""
    available = Counter(i for p in mine if is_clearing(p[0]) for i in _cleared_ids(p))
    extra = []
    for pair in theirs:
        if not is_clearing(pair[0]):
            continue
        ids = Counter(_cleared_ids(pair))
        if all(available[i] >= n for i, n in ids.items()):
            available.subtract(ids)
        else:
            extra.append(pair)
    return extra


def _cleared_ids(pair: Pair) -> list[str]:
    """The identifiers a clearing pair drops (read from its inverse)."""
    value = pair[1].get("value")
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def _target_in_tree(case: Case, pair: Pair) -> bool:
    """The identifier MST's clearing dropped was still in its tree when it cleared it."""
    return set(_cleared_ids(pair)) <= set(item_ids(case.js_state_before(pair)))


def _detaches(ops: list[dict[str, Any]]) -> bool:
    """The step detaches a node (``detach``, or a ``$detach`` value: a move)."""
    return any(
        op["k"] == "detach" or any(isinstance(v, dict) and "$detach" in v for v in values_of(op))
        for op in ops
    )


def detach_clearings(case: Case, mine: Pairs, theirs: Pairs) -> Streams:
    """16.1: MST clears safe references to a node as it is detached (the node still in the tree)."""
    if not _detaches(case.ops):
        return mine, theirs
    extra = [p for p in _extra_clearings(mine, theirs) if _target_in_tree(case, p)]
    return mine, [p for p in theirs if not any(p is e for e in extra)]


def _written_dangling(case: Case) -> set[str]:
    """Identifiers MST's step wrote into a safe reference while no such node was in its tree."""
    written = set()
    for pair in case.js_pairs:
        patch = pair[0]
        if patch["op"] in ("add", "replace") and re.fullmatch(r"/sref|/srefs/[0-9]+",
                                                              patch["path"]):
            value = patch.get("value")
            if isinstance(value, str) and value not in item_ids(case.js_state_before(pair)):
                written.add(value)
    return written


def dangling_clearings(case: Case, mine: Pairs, theirs: Pairs) -> Streams:
    """16.2: MST drops a safe reference written with an identifier not in the tree.

    And such a reference, if its target arrives later in the step, is cleared
    by MST after the target's removal rather than before it: the adjacent pair
    is put in MST's order.
    """
    extra = [p for p in _extra_clearings(mine, theirs) if not _target_in_tree(case, p)]
    theirs = [p for p in theirs if not any(p is e for e in extra)]
    late = _written_dangling(case)
    mine = list(mine)
    for i in range(min(len(mine), len(theirs)) - 1):
        first, second = mine[i], mine[i + 1]
        if (is_clearing(first[0]) and set(_cleared_ids(first)) <= late
                and _same(case, [second, first], theirs[i : i + 2])):
            mine[i], mine[i + 1] = second, first
    return mine, theirs


def _map_key(pair: Pair) -> tuple[str, str] | None:
    """(map, key) when ``pair`` is about one key of a map, else ``None``."""
    parts = pair[0]["path"].split("/")[1:]
    return (parts[0], parts[1]) if len(parts) >= 2 and parts[0] in MAPS else None


def _sorted_runs(pairs: Pairs, same_run: Any, rank: Any) -> Pairs:
    """Each maximal run of map pairs that ``same_run`` groups, stably sorted by ``rank``."""
    out: Pairs = []
    run: Pairs = []
    for pair in [*pairs, None]:
        if pair is not None and _map_key(pair) and (not run or same_run(run[0], pair)):
            run.append(pair)
            continue
        out.extend(sorted(run, key=rank))
        run = [pair] if pair is not None and _map_key(pair) else []
        if pair is not None and not run:
            out.append(pair)
    return out


def _same_map(first: Pair, pair: Pair) -> bool:
    """Both pairs are about keys of the same map (the key itself or inside its value)."""
    first_key, key = _map_key(first), _map_key(pair)
    return first_key is not None and key is not None and first_key[0] == key[0]


def _js_rank(pair: Pair) -> tuple[int, int]:
    key = _map_key(pair)
    assert key is not None
    return js_key_rank(key[1])


def map_key_order(case: Case, mine: Pairs, theirs: Pairs) -> Streams:
    """Documented: where integer-like keys go in a map differs (JavaScript puts them first).

    MST's maps keep insertion order, but the keys of a snapshot object come
    integer-like first, so a map built or filled from a snapshot holds its
    keys in another order than mstlite's (and a merge visits them in that
    order). In each run of patches on one map's keys, both sides' patches on
    integer-like keys are put first, ascending (a key's own patches keep
    their order); every other key must already be in the same order.
    """
    return (_sorted_runs(mine, _same_map, _js_rank),
            _sorted_runs(theirs, _same_map, _js_rank))


def _same(case: Case, mine: Sequence[Pair], theirs: Sequence[Pair]) -> bool:
    return case.equal([list(p) for p in mine], [list(p) for p in theirs])


def _snapshots_agree(case: Case, cleared: bool) -> bool:
    mine, theirs = case.py["snapshot"], case.js["snapshot"]
    if not cleared:
        return case.equal(mine, theirs)
    return equal_but_references(mine, theirs) and references_dropped(theirs, mine)


def explain_stream(case: Case, differences: Sequence[Difference]) -> list[str] | None:
    """The names of the rewrites that make the step's streams equal, or ``None``."""
    if case.phase != "step":
        return None
    for field in ("threw", "failed", "skips"):
        if not case.equal(case.py.get(field), case.js.get(field)):
            return None
    rewrites = [d for d in differences if d.rewrite is not None]
    spoilers = [d for d in differences if d.spoils_snapshot is not None and d.spoils_snapshot(case)]

    def outcome(using: list[Difference]) -> bool:
        mine, theirs = case.py_pairs, case.js_pairs
        for difference in using:
            assert difference.rewrite is not None
            mine, theirs = difference.rewrite(case, mine, theirs)
        cleared = any(d.rewrite in (detach_clearings, dangling_clearings) for d in using)
        return _same(case, mine, theirs) and (bool(spoilers) or _snapshots_agree(case, cleared))

    for size in range(1, len(rewrites) + 1):  # the fewest differences that explain it all
        for using in itertools.combinations(rewrites, size):
            if outcome(list(using)):
                return [d.name for d in [*using, *spoilers]]
    return None
