"""Deterministic benchmark data: todo snapshots, toggles, and what they should produce.

Every side (mstlite, the Python references, MobX-State-Tree through a JSON
file) works on exactly these values, so results are comparable and each side
can check its end state against the expected one.
"""

from __future__ import annotations

import copy
import random
from typing import Any, TypeAlias

__all__ = [
    "Dataset",
    "Snapshot",
    "dataset",
    "edited_snapshot",
    "expected_after_toggles",
    "todo_snapshot",
    "toggle_indices",
    "toggle_patches",
]

Snapshot: TypeAlias = dict[str, Any]
"""A plain-JSON ``Store`` snapshot: ``{"todos": [...]}``."""

Dataset: TypeAlias = dict[str, Any]
"""What one workload needs; see :func:`dataset` for the keys."""

SEED = 20240611
_WORDS = (
    "buy milk", "write report", "call mum", "fix bike", "book flights", "water plants",
    "pay rent", "review pull request", "renew passport", "clean kitchen", "plan sprint",
    "read paper", "walk dog", "update resume", "backup laptop", "order parts",
)  # fmt: skip
_TAGS = ("home", "work", "urgent", "later", "errand", "idea", "health", "money")
_NOTES = ("ask Sam first", "before Friday", "see the email thread", "low effort")


def todo_snapshot(n: int, *, seed: int = SEED) -> Snapshot:
    """A ``Store`` snapshot of ``n`` todos, the same for the same ``n`` and ``seed``."""
    rng = random.Random(seed)
    todos = []
    for index in range(n):
        todos.append(
            {
                "id": f"todo-{index}",
                "title": f"#{index} {rng.choice(_WORDS)}",
                "done": rng.random() < 0.25,
                "tags": rng.sample(_TAGS, rng.randint(0, 3)),
                "meta": {
                    "priority": rng.randint(0, 3),
                    "note": rng.choice(_NOTES) if rng.random() < 0.3 else None,
                },
            }
        )
    return {"todos": todos}


def toggle_indices(count: int, n: int, *, seed: int = SEED + 1) -> list[int]:
    """Which todo each of ``count`` toggles flips, among ``n`` todos (seeded)."""
    rng = random.Random(seed)
    return [rng.randrange(n) for _ in range(count)]


def toggle_patches(snapshot: Snapshot, toggles: list[int]) -> list[dict[str, Any]]:
    """The RFC 6902 patches MST emits for ``toggles`` applied in order to ``snapshot``."""
    done = [todo["done"] for todo in snapshot["todos"]]
    patches = []
    for index in toggles:
        done[index] = not done[index]
        patches.append({"op": "replace", "path": f"/todos/{index}/done", "value": done[index]})
    return patches


def expected_after_toggles(snapshot: Snapshot, toggles: list[int]) -> Snapshot:
    """``snapshot`` after flipping ``done`` of each todo in ``toggles``, in order."""
    result = copy.deepcopy(snapshot)
    todos = result["todos"]
    for index in toggles:
        todos[index]["done"] = not todos[index]["done"]
    return result


def edited_snapshot(
    snapshot: Snapshot, *, fraction: float = 0.01, seed: int = SEED + 2
) -> Snapshot:
    """``snapshot`` with ``fraction`` of its todos changed (title, done, priority).

    Unchanged todos are the same objects as in ``snapshot``, as a reconciling
    store would see them when a server sends back a mostly equal state.
    """
    rng = random.Random(seed)
    todos = list(snapshot["todos"])
    for index in rng.sample(range(len(todos)), max(1, int(len(todos) * fraction))):
        todo = copy.deepcopy(todos[index])
        todo["title"] += " (edited)"
        todo["done"] = not todo["done"]
        todo["meta"]["priority"] = (todo["meta"]["priority"] + 1) % 4
        todos[index] = todo
    return {"todos": todos}


def dataset(workload: str, n: int, count: int) -> Dataset:
    """The inputs and expected outputs of ``workload`` over ``n`` todos.

    Keys: ``snapshot`` always; ``toggles``, ``patches`` and ``final`` for the
    workloads that flip todos (``count`` of them); ``edited`` for
    ``apply_snapshot``; for ``snapshot``, ``changed_indices`` (two todos flipped
    one after the other) and ``after_changes`` (the snapshot after each flip);
    for ``map_snapshot`` only ``entries`` (``n`` keys) and ``changed_keys``.
    """
    if workload == "map_snapshot":  # a map of n scalar entries, no todos
        keys = [f"key-{index}" for index in range(n)]
        entries = dict(zip(keys, range(n), strict=True))
        return {"entries": entries, "changed_keys": [keys[n // 2], keys[n // 4]]}
    if workload == "unidentified":
        return {"n": n}  # the items are the tree's own snapshots: the workload makes them
    snapshot = todo_snapshot(n)
    data: Dataset = {"snapshot": snapshot}
    if workload in ("actions", "apply_patch", "computed", "fanout", "middleware"):
        toggles = toggle_indices(count, n)
        data["toggles"] = toggles
        data["final"] = expected_after_toggles(snapshot, toggles)
        if workload in ("actions", "apply_patch"):
            data["patches"] = toggle_patches(snapshot, toggles)
    elif workload == "apply_snapshot":
        data["edited"] = edited_snapshot(snapshot)
    elif workload == "snapshot":
        indices = [n // 2, n // 4]
        data["changed_indices"] = indices
        data["after_changes"] = [
            expected_after_toggles(snapshot, indices[:1]),
            expected_after_toggles(snapshot, indices),
        ]
    return data
