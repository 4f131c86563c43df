"""Shrinking a diverging script: delta debugging over its steps, its ops, its initial snapshot.

``shrink(script, fails)`` returns a smallest script (no step, op or top-level
key of ``init`` can be taken out) for which ``fails`` still holds. Chunks of
halving size are tried first (Zeller's ddmin), then single elements.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

__all__ = ["shrink"]

Script = dict[str, Any]


def _ddmin(items: list[Any], fails: Callable[[list[Any]], bool]) -> list[Any]:
    """A 1-minimal sublist of ``items`` (in order) on which ``fails`` holds."""
    chunk = max(len(items) // 2, 1)
    while items:
        progressed = False
        start = 0
        while start < len(items):
            candidate = items[:start] + items[start + chunk :]
            if fails(candidate):
                items, progressed = candidate, True
            else:
                start += chunk
        if not progressed:
            if chunk == 1:
                break
            chunk = max(chunk // 2, 1)
    return items


def shrink(script: Script, fails: Callable[[Script], bool]) -> Script:
    """The smallest variant of ``script`` that still ``fails`` (``fails(script)`` must hold)."""
    current = copy.deepcopy(script)

    def with_steps(steps: list[Any]) -> Script:
        return {**current, "steps": steps}

    current = with_steps(_ddmin(current["steps"], lambda steps: fails(with_steps(steps))))
    for index in range(len(current["steps"])):
        base = current

        def with_ops(ops: list[Any], base: Script = base, index: int = index) -> Script:
            steps = list(base["steps"])
            steps[index] = ops
            return {**base, "steps": steps}

        current = with_ops(_ddmin(base["steps"][index], lambda o: bool(o) and fails(with_ops(o))))
    if isinstance(current["init"], dict):

        def with_init(keys: list[str]) -> Script:
            return {**current, "init": {k: current["init"][k] for k in keys}}

        keys = _ddmin(list(current["init"]), lambda keys: fails(with_init(keys)))
        current = with_init(keys)
    return current
