"""In-process measurement: timed phases over repeated iterations, and memory probes."""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeAlias, final

from benchmarks._data import Dataset

__all__ = [
    "BenchmarkError",
    "Iteration",
    "Recorder",
    "WorkloadFactory",
    "check",
    "clock",
    "current_rss",
    "measure_growth",
    "peak_rss",
    "result",
    "run_iterations",
]

clock = time.perf_counter
"""The clock every Python side times with (monotonic, sub-microsecond)."""


class BenchmarkError(Exception):
    """A workload did not produce what it should: its figures would be meaningless."""


def check(condition: object, message: str) -> None:
    """Raise :class:`BenchmarkError` with ``message`` unless ``condition`` holds.

    Not ``assert``: the checks must survive ``python -O``.
    """
    if not condition:
        raise BenchmarkError(message)


@final
class Recorder:
    """Collects the seconds each named phase took, ignoring warm-up iterations."""

    __slots__ = ("recording", "samples", "values")

    def __init__(self) -> None:
        self.recording = False
        self.samples: dict[str, list[float]] = {}
        self.values: dict[str, float] = {}

    def record(self, phase: str, seconds: float) -> None:
        """Keep ``seconds`` as one sample of ``phase`` (dropped during warm-up)."""
        if self.recording:
            self.samples.setdefault(phase, []).append(seconds)

    def value(self, name: str, amount: float) -> None:
        """Keep a single figure that is not a time (bytes, counts)."""
        if self.recording:
            self.values[name] = amount


Iteration: TypeAlias = Callable[[Recorder], None]
"""One repetition of a workload: untimed setup, timed phases, untimed checks."""

WorkloadFactory: TypeAlias = Callable[[Dataset], Iteration]
"""Prepares a workload from its dataset (untimed) and returns the iteration to repeat."""


def run_iterations(
    iteration: Callable[[Recorder], None], recorder: Recorder, *, warmup: int, repeats: int
) -> None:
    """Run ``iteration`` ``warmup`` times unrecorded, then ``repeats`` times recorded.

    A full collection before each iteration (untimed) keeps garbage from one
    iteration from being collected inside the next one's timed phase; the
    collector itself stays enabled, as in real programs.
    """
    for index in range(warmup + repeats):
        recorder.recording = index >= warmup
        gc.collect()
        iteration(recorder)


def current_rss() -> int:
    """This process's resident set size in bytes, now."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the peak is the best figure available
        return peak_rss()


def peak_rss() -> int:
    """This process's peak resident set size in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


def measure_growth(build: Callable[[], object], recorder: Recorder, count: int) -> None:
    """Record the memory that what ``build()`` returns adds, in total and per item.

    RSS is measured on a first build without tracemalloc (whose bookkeeping is
    resident too); the heap figure comes from a second build under tracemalloc,
    which counts exactly the bytes Python allocated and still holds after a
    collection. The builder's input stays alive throughout: it is not counted.
    """
    gc.collect()
    before = current_rss()
    kept = build()
    gc.collect()
    rss_growth = current_rss() - before
    del kept
    gc.collect()
    tracemalloc.start()
    try:
        kept = build()
        gc.collect()
        heap_growth = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del kept
    recorder.value("rss_growth_bytes", rss_growth)
    recorder.value("heap_growth_bytes", heap_growth)
    recorder.value("heap_bytes_per_item", heap_growth / count)


def result(side: str, workload: str, n: int, count: int, recorder: Recorder) -> dict[str, Any]:
    """The JSON document a worker prints for the runner."""
    return {
        "side": side,
        "workload": workload,
        "n": n,
        "count": count,
        "samples": recorder.samples,
        "values": recorder.values,
    }
