"""Run the differential test on demand: ``python -m tests.differential --scripts 5000 --seed 7``.

Prints how many scripts ran, how many matched MST exactly, how often each
documented difference, open item and MST defect explained a divergence, and
every unexplained divergence with its shrunk script (exit status 1 then).
``--examples`` also prints the smallest script met for each name, shrunk.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .generator import scripts
from .harness import Harness, Report
from .node_side import unavailable
from .shrink import shrink

__all__ = ["main"]


def _print_report(report: Report, harness: Harness, *, examples: bool) -> None:
    print(f"scripts: {report.scripts}, identical to MST: {report.clean}")
    for name, count in sorted(report.explained.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:6d}  {name}")
        if examples:
            finding = report.examples[name]

            def same(candidate: dict[str, object], name: str = name) -> bool:
                found = harness.divergence(candidate)
                return found is not None and name in (harness.explain(candidate, found) or [])

            print(f"          {json.dumps(shrink(finding.script, same))}")
    for finding in report.unexplained:
        print(f"UNEXPLAINED divergence, shrunk script:\n  {json.dumps(finding.script)}")
        print("  " + finding.divergence.describe().replace("\n", "\n  "))


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tests.differential", description=__doc__)
    parser.add_argument("--scripts", type=int, default=1000, help="scripts per seed")
    parser.add_argument("--seed", type=int, action="append", help="a seed (repeatable; default 0)")
    parser.add_argument("--examples", action="store_true", help="print a shrunk example per name")
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    unexplained = 0
    with Harness() as harness:
        print(f"versions: {harness.node.versions}")
        for seed in args.seed or [0]:
            started = time.perf_counter()
            report = harness.run_many(scripts(seed, args.scripts))
            print(f"seed {seed}: {time.perf_counter() - started:.1f} s")
            _print_report(report, harness, examples=args.examples)
            unexplained += len(report.unexplained)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
