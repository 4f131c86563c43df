"""The mstlite side of the differential test: runs op scripts as mst_runner.js does.

Ops are data (see ``generator.py``); this module turns each into the call a
Python user of mstlite writes (``a[1:3] = [...]`` for a splice, ``m.pop(k, None)``
for MST's ``map.delete``), with the same index rules as the Node runner: a
position is taken modulo the length, and an op whose target is missing is
recorded as skipped on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mstlite import (
    ArrayNode,
    MapNode,
    Model,
    apply_patch,
    apply_snapshot,
    destroy,
    detach,
    get_snapshot,
    on_patch,
)

from .schema import Root

__all__ = ["replay", "run_script", "run_unobserved"]


class _Skip(Exception):
    """The op's target (or a node its value names) is not in the tree."""


def _resolve(root: Any, parts: list[Any]) -> Any:
    node = root
    for part in parts:
        if node is None:
            raise _Skip
        if isinstance(part, int):
            if not isinstance(node, ArrayNode) or len(node) == 0:
                raise _Skip
            node = node[part % len(node)]
        elif isinstance(node, MapNode):
            if part not in node:
                raise _Skip
            node = node[part]
        else:
            node = getattr(node, part)
    if node is None:
        raise _Skip
    return node


def _value(root: Any, spec: Any) -> Any:
    if isinstance(spec, Mapping):
        if "$node" in spec:
            return _resolve(root, spec["$node"])
        if "$detach" in spec:
            return detach(_resolve(root, spec["$detach"]))
        if "$snap" in spec:
            return spec["$snap"]
        if "$own" in spec:
            return get_snapshot(_resolve(root, spec["$own"]))
    return spec


def _snapshot_value(root: Any, spec: Any) -> Any:
    """A snapshot to apply or assign: an array's items (also in a property of the
    snapshot) may each be ``{"$own": parts}``, the current snapshot object of the node there."""
    if isinstance(spec, list):
        return _values(root, spec)
    if isinstance(spec, Mapping) and not any(key.startswith("$") for key in spec):
        return {k: _values(root, v) if isinstance(v, list) else v for k, v in spec.items()}
    return _value(root, spec)


def _values(root: Any, specs: list[Any]) -> list[Any]:
    return [_value(root, spec) for spec in specs]


def _run_op(root: Model, op: Mapping[str, Any]) -> None:
    target = _resolve(root, op["t"])
    kind = op["k"]
    if kind == "set":
        setattr(target, op["p"], _snapshot_value(root, op["v"]))
    elif kind == "push":
        target.extend(_values(root, op["v"]))
    elif kind == "insert":
        target.insert(op["i"] % (len(target) + 1), _value(root, op["v"]))
    elif kind in ("pop", "del", "setitem") and len(target) == 0:
        raise _Skip
    elif kind == "pop":
        target.pop()
    elif kind == "del":
        del target[op["i"] % len(target)]
    elif kind == "setitem":
        at = op["i"] % len(target)  # before the value: taking it may detach an item
        target[at] = _value(root, op["v"])
    elif kind == "splice":
        start = op["i"] % (len(target) + 1)
        end = min(start + op["n"], len(target))
        target[start:end] = _values(root, op["v"])
    elif kind == "replace":
        target[:] = _values(root, op["v"])
    elif kind == "remove":
        if op["v"] not in list(target):
            raise _Skip
        target.remove(op["v"])
    elif kind == "clear":
        target.clear()
    elif kind == "mset":
        target[op["key"]] = _value(root, op["v"])
    elif kind == "mdel":
        target.pop(op["key"], None)
    elif kind == "merge":
        target.update(op["v"])
    elif kind == "snap":
        apply_snapshot(target, _snapshot_value(root, op["v"]))
    elif kind == "patch":
        apply_patch(target, op["v"])
    elif kind == "detach":
        detach(target)
    elif kind == "destroy":
        destroy(target)
    else:
        raise ValueError(f"unknown op kind {kind!r}")


def _message(error: BaseException) -> str:
    return " | ".join(f"{type(error).__name__}: {error}".splitlines())[:600]


def _json(value: Any) -> Any:
    """``value`` as parsed JSON: what the Node side's JSON round trip gives."""
    return json.loads(json.dumps(value))


def _snap(root: Model) -> Any:
    # A snapshot that cannot be taken is a result too (issue 16 item 5).
    try:
        return _json(get_snapshot(root))
    except Exception as error:
        return {"$error": _message(error)}


def _create(init: Any) -> tuple[Root | None, str | None]:
    try:
        return Root.create(init), None
    except Exception as error:
        return None, _message(error)


def _apply_batches(root: Model, batches: list[list[Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for batch in batches:
        error = None
        try:
            apply_patch(root, batch)
        except Exception as caught:
            error = _message(caught)
        out.append({"threw": error is not None, "error": error, "snapshot": _snap(root)})
        if error is not None:
            break
    return out


def _run_step(root: Root, step: list[Any]) -> tuple[str | None, int | None, list[bool]]:
    """Run one step as one action: (error message, index of the op that raised, skips)."""
    skips: list[bool] = []
    current: list[int] = []

    def run() -> None:
        for op in step:
            current[:] = [len(skips)]
            try:
                _run_op(root, op)
                skips.append(False)
            except _Skip:
                skips.append(True)

    try:
        root.batch(run)
    except Exception as caught:
        return _message(caught), current[0] if current else None, skips
    return None, None, skips


def run_unobserved(script: Mapping[str, Any]) -> Any:
    """The final snapshot of ``script`` run with no listener and no snapshot read before the end.

    Observing a tree must not change it: the harness compares this with the
    observed run's last snapshot (issue 16 item 5 shows only here).
    """
    root, _ = _create(script["init"])
    if root is None:
        return None
    for step in script["steps"]:
        _run_step(root, step)
    return _snap(root)


def run_script(script: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``script`` on mstlite: the same result document as the Node runner's ``run``."""
    root, error = _create(script["init"])
    result: dict[str, Any] = {
        "create": {
            "threw": root is None,
            "error": error,
            "snapshot": None if root is None else _snap(root),
        },
        "steps": [],
        "undo": [],
    }
    if root is None:
        return result
    patches: list[Any] = []
    inverses: list[Any] = []

    def listen(patch: Any, inverse: Any) -> None:
        patches.append(_json(patch))
        inverses.append(_json(inverse))

    dispose = on_patch(root, listen)
    for step in script["steps"]:
        patches, inverses = [], []
        error, failed, skips = _run_step(root, step)
        result["steps"].append(
            {
                "threw": error is not None,
                "error": error,
                "failed": failed,
                "skips": skips,
                "patches": patches,
                "inverses": inverses,
                "snapshot": _snap(root),
            }
        )
    dispose()
    undo = [list(reversed(step["inverses"])) for step in reversed(result["steps"])]
    result["undo"] = _apply_batches(root, undo)
    return result


def replay(init: Any, batches: list[list[Any]]) -> dict[str, Any]:
    """Apply each batch of patches (one ``apply_patch`` each) to a fresh tree from ``init``."""
    root, error = _create(init)
    if root is None:
        return {"threw": True, "error": error, "steps": []}
    return {"threw": False, "error": None, "steps": _apply_batches(root, batches)}
