"""One workload on one Python side, in a fresh process; prints its result as JSON.

    python -m benchmarks._worker mstlite create 10000 [--count C] [--warmup W] [--repeats R]

The runner starts one such process per workload, side and size, so no side
inherits another's heap, caches or garbage.
"""

from __future__ import annotations

import argparse
import json
import sys

from benchmarks._data import dataset
from benchmarks._timing import (
    BenchmarkError,
    Recorder,
    WorkloadFactory,
    result,
    run_iterations,
)

__all__ = ["main"]


def _factories(side: str) -> dict[str, WorkloadFactory]:
    # Imported on demand: a reference side must not pay for importing mstlite.
    if side == "mstlite":
        from benchmarks._workloads_mstlite import WORKLOADS

        return dict(WORKLOADS)
    from benchmarks._workloads_refs import WORKLOADS as REFERENCES

    return dict(REFERENCES.get(side, {}))


def main(argv: list[str] | None = None) -> int:
    """Run the workload named on the command line; 1 when it failed its checks."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._worker")
    parser.add_argument("side", help="mstlite, pydantic, deepcopy or jsonpatch")
    parser.add_argument("workload")
    parser.add_argument("n", type=int, help="todos in the tree")
    parser.add_argument("--count", type=int, default=0, help="toggles or commits, if any")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    factory = _factories(args.side).get(args.workload)
    if factory is None:
        parser.error(f"side {args.side!r} has no workload {args.workload!r}")
    data = dataset(args.workload, args.n, args.count)
    recorder = Recorder()
    try:
        iteration = factory(data)
        run_iterations(iteration, recorder, warmup=args.warmup, repeats=args.repeats)
    except BenchmarkError as error:
        print(f"{args.side} {args.workload}: check failed: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result(args.side, args.workload, args.n, args.count, recorder)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
