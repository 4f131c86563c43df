"""What a run measures: workloads, the sides each one runs on, sizes and repeats."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import final

from benchmarks._runner import Job

__all__ = [
    "CAPPED_SIDES",
    "DOWNLOAD_SIDES",
    "DOWNLOAD_SUBJECTS",
    "FULL",
    "HASH_SIDES",
    "QUICK",
    "REFERENCES",
    "SUBJECT",
    "UNCAPPED_SIDES",
    "WORKLOADS",
    "Sizes",
    "build_plan",
    "missing_python_side",
]

SUBJECT = "mstlite"
"""The side every other side is compared with (``llmstore`` for the download)."""

REFERENCES: dict[str, tuple[str, ...]] = {
    "create": ("mst", "mst-typecheck", "pydantic", "deepcopy"),
    # Type checks run on writes, not on reading snapshots: plain MST suffices.
    "snapshot": ("mst", "pydantic", "deepcopy"),
    "actions": ("mst", "mst-typecheck"),  # each toggle's new value is type checked
    "apply_patch": ("mst", "mst-typecheck", "jsonpatch"),
    "computed": ("mst",),  # one type-checked toggle per 10,000 reads: it would not show
    "apply_snapshot": ("mst", "mst-typecheck"),
    "memory": ("mst", "pydantic", "deepcopy"),  # type checks add nothing to a built tree
    "fanout": ("mst", "mst-typecheck"),
    "middleware": (),  # mstlite against itself: bare, then with middleware and undo
    "map_snapshot": (),  # mstlite against its own targets: a 1,000,000-key map
    # mstlite against itself: applying a list[Model] snapshot (no identifiers) with one item
    # changed, against applying it unchanged: the cost must follow what changed.
    "unidentified": (),
}
"""Workload -> the references it runs against, in table order."""

_LARGEST_TREE: dict[tuple[str, str], int] = {
    # Four full copies per iteration, each costing seconds at 100,000 todos: they
    # would add minutes to a run to show again what the 10,000 row shows.
    ("snapshot", "pydantic"): 10_000,
    ("snapshot", "deepcopy"): 10_000,
}
"""(workload, reference) -> the largest tree it runs on."""

DOWNLOAD_SIDES = (
    "llmstore-auto",
    "llmstore",
    "llmstore-x4",
    "llmstore-x8",
    "aiohttp",
    "curl",
    "aria2c-x4",
    "aria2c-x8",
    "sha256sum",
    "hashlib",
)
#: the download sides that are llmstore (``--connections auto``, which starts with one stream
#: and splits over up to 4 connections when that stream idles; one stream; 4 connections from
#: the start, the default, or 8); the rest are references
DOWNLOAD_SUBJECTS = ("llmstore-auto", "llmstore", "llmstore-x4", "llmstore-x8")
#: the sides of the capped-connection run (every connection served at a fixed speed)
CAPPED_SIDES = (
    "llmstore-auto",
    "llmstore",
    "llmstore-x4",
    "llmstore-x8",
    "curl",
    "aria2c-x4",
    "aria2c-x8",
)
#: the uncapped run's sides
UNCAPPED_SIDES = (
    "llmstore-auto",
    "llmstore",
    "llmstore-x4",  # what `llmstore pull` does by default: the target is about this one
    "llmstore-x8",  # its peak RSS at full speed is the one the 100 MB target is about
    "aiohttp",
    "curl",
    "aria2c-x4",
    "sha256sum",
    "hashlib",
)
HASH_SIDES = ("sha256sum", "hashlib")
"""The download references that only hash the file: their phase is ``hash``."""
WORKLOADS = (*REFERENCES, "download")


@final
@dataclass(frozen=True, slots=True)
class Sizes:
    """The sizes and repeat counts of one kind of run (quick or full)."""

    create_todos: tuple[int, ...]  # create and snapshot run at each of these
    tree_todos: int  # actions, apply_patch, computed, apply_snapshot
    unidentified_items: int  # the list[Model] of the unidentified workload
    toggles: int  # actions and apply_patch
    computed_toggles: int
    memory_todos: int
    fanout_reactions: int
    fanout_commits: int
    map_keys: int  # map_snapshot
    download_bytes: int
    #: the capped-connection download run's file (0: no such run)
    capped_download_bytes: int
    capped_repeats: int  # runs of each side on the capped server (no warm-up)
    warmup: int  # enough for V8 to have compiled MST's hot paths
    repeats: int
    heavy_warmup: int  # for iterations of seconds (100k trees, computed)
    heavy_repeats: int


FULL = Sizes(
    create_todos=(1_000, 10_000, 100_000),
    tree_todos=10_000,
    unidentified_items=1_000_000,
    toggles=10_000,
    computed_toggles=1_000,
    memory_todos=100_000,
    fanout_reactions=1_000,
    fanout_commits=10_000,
    map_keys=1_000_000,
    download_bytes=1024**3,
    capped_download_bytes=256 * 1024**2,
    capped_repeats=3,
    warmup=2,
    repeats=5,
    heavy_warmup=1,
    heavy_repeats=5,
)

QUICK = Sizes(
    create_todos=(1_000,),
    tree_todos=1_000,
    unidentified_items=10_000,
    toggles=1_000,
    computed_toggles=200,
    memory_todos=1_000,
    fanout_reactions=100,
    fanout_commits=1_000,
    map_keys=10_000,
    download_bytes=32 * 1024**2,
    capped_download_bytes=32 * 1024**2,
    capped_repeats=1,
    warmup=1,
    repeats=2,
    heavy_warmup=1,
    heavy_repeats=2,
)


def _shapes(workload: str, sizes: Sizes) -> list[tuple[int, int]]:
    """The ``(n, count)`` pairs ``workload`` runs at."""
    if workload in ("create", "snapshot"):
        return [(n, 0) for n in sizes.create_todos]
    if workload in ("actions", "apply_patch", "middleware"):
        return [(sizes.tree_todos, sizes.toggles)]
    if workload == "computed":
        return [(sizes.tree_todos, sizes.computed_toggles)]
    if workload == "apply_snapshot":
        return [(sizes.tree_todos, 0)]
    if workload == "memory":
        return [(sizes.memory_todos, 0)]
    if workload == "fanout":
        return [(sizes.fanout_reactions, sizes.fanout_commits)]
    if workload == "map_snapshot":
        return [(sizes.map_keys, 0)]
    if workload == "unidentified":
        return [(sizes.unidentified_items, 0)]
    raise ValueError(f"unknown workload {workload!r}")


def build_plan(sizes: Sizes, workloads: tuple[str, ...]) -> list[Job]:
    """The jobs for ``workloads`` (the download excepted), the subject first each time."""
    jobs = []
    for workload in workloads:
        if workload == "download":
            continue
        for n, count in _shapes(workload, sizes):
            heavy = n >= 100_000 or workload == "computed"
            if workload == "map_snapshot":
                heavy = False  # a map snapshot takes milliseconds, at any size
            warmup, repeats = (
                (sizes.heavy_warmup, sizes.heavy_repeats)
                if heavy
                else (sizes.warmup, sizes.repeats)
            )
            if workload == "memory":
                warmup, repeats = 0, 1  # a warm-up would already have grown the heap
            for side in (SUBJECT, *REFERENCES[workload]):
                if n <= _LARGEST_TREE.get((workload, side), n):
                    jobs.append(Job(workload, side, n, count, warmup, repeats))
    return jobs


def missing_python_side(side: str) -> str | None:
    """Why the Python reference ``side`` cannot run here, or ``None``."""
    if side == "jsonpatch" and importlib.util.find_spec("jsonpatch") is None:
        return "jsonpatch skipped: the package is not installed (pip install -e '.[dev]')"
    return None
