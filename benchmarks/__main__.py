"""Command line: ``python -m benchmarks [--quick] [--json FILE] [--markdown FILE] [--only W]``.

Runs every workload on mstlite and on each reference available here, prints
the tables, and writes the results. A full run writes ``benchmarks/RESULTS.md``
and ``benchmarks/results.json`` unless told otherwise; ``--quick`` (the CI
smoke run) writes only what it is asked to. Exits 1 only when an mstlite or
llmstore workload failed; a missing or failing reference is a note.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _mst_js
from benchmarks._download import run_download
from benchmarks._machine import describe
from benchmarks._plan import FULL, QUICK, SUBJECT, WORKLOADS, Sizes, build_plan
from benchmarks._plan import missing_python_side as missing_side
from benchmarks._report import attach_stats, render, summary
from benchmarks._runner import Job, JobResult, run_job

__all__ = ["main"]

_HERE = Path(__file__).resolve().parent


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load_average() -> float | None:
    """The 1-minute load average, where the system tells it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _busy_note(loads: list[float | None]) -> str | None:
    """A warning when other work shared the CPUs: the figures are then noisier."""
    cpus = os.cpu_count() or 1
    busiest = max((load for load in loads if load is not None), default=0.0)
    if busiest <= cpus / 2:
        return None
    return (
        f"the machine was busy with other work (1-minute load average up to {busiest:.1f} "
        f"on {cpus} CPUs): absolute times are inflated and noisy; ratios suffer less"
    )


def _runnable(jobs: list[Job], notes: list[str]) -> list[Job]:
    """The jobs whose side can run here; a note for every side that cannot."""
    reasons: dict[str, str | None] = {}
    for side in dict.fromkeys(job.side for job in jobs):
        reasons[side] = missing_side(side)
    if {"mst", "mst-typecheck"} & reasons.keys():
        _log("preparing the MobX-State-Tree reference (npm ci when needed)")
        reasons["mst"] = reasons["mst-typecheck"] = _mst_js.prepare()
    notes.extend(dict.fromkeys(reason for reason in reasons.values() if reason))
    return [job for job in jobs if reasons[job.side] is None]


def _run_jobs(jobs: list[Job], timeout: float, notes: list[str]) -> list[JobResult]:
    results = []
    with tempfile.TemporaryDirectory(prefix="mstlite-bench-data-") as data_dir:
        for index, job in enumerate(jobs, 1):
            what = f"{job.workload} {job.side} n={job.n:,}" + (
                f" count={job.count:,}" if job.count else ""
            )
            _log(f"[{index}/{len(jobs)}] {what}")
            result = run_job(job, data_dir=Path(data_dir), timeout=timeout)
            if result["error"]:
                notes.append(f"{what} failed: {result['error']}")
                _log(f"    failed: {result['error']}")
            results.append(result)
    return results


def _protocol(sizes: Sizes) -> str:
    sentences = [
        "Each workload and side runs in a fresh process: untimed setup, "
        f"{sizes.warmup} warm-up iterations, then {sizes.repeats} timed ones "
        f"({sizes.heavy_warmup} and {sizes.heavy_repeats} for 100,000-todo trees, "
        "the computed workload and the download); tables give the median (min-max).",
        "Trees not under test are materialized first (every title read).",
        "Each reference runs in its best idiomatic form: MST on materialized trees in every "
        "workload that changes or reads a tree (apply_patch included: on a tree never read, "
        "MST builds every node lazily inside the timed call), with one batched `applyPatch` "
        "or `applySnapshot` call; `jsonpatch` in place on a plain dict; pydantic "
        "`model_validate`/`model_dump`.",
        "The garbage collector stays on; a full collection runs, untimed, before each "
        "iteration, on every side (on mstlite's, also before each timed phase of the "
        "actions and middleware workloads, so the bare and the listened phase alike start "
        "with the new tree collected).",
        "Memory is one build in a fresh process.",
        "MST runs the production builds of mobx and MST (`NODE_ENV=production`), and "
        'again with `ENABLE_TYPE_CHECK=true` ("MST typecheck"): mstlite always validates '
        "snapshots, so that column is the like-for-like one.",
        "Downloads: a fresh client process per run, the clients taking turns round after "
        "round, from nginx on loopback when installed (else the repository's aiohttp server, "
        "in its own process), and from the aiohttp server when every connection is capped "
        "(its cap is exact); before each run the previous file is deleted and `sync` run; "
        "the served file stays in the page cache.",
        "Data comes from fixed seeds; every side checks its end state (untimed).",
    ]
    return " ".join(sentences)


def _markdown(body: str, machine: dict[str, Any], sizes: Sizes, minutes: float) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    memory = machine.get("memory_bytes")
    ram = f", {memory / 2**30:.0f} GiB RAM" if memory else ""
    mode = "quick run" if sizes is QUICK else "full run"
    return (
        "# Benchmarks: mstlite and llmstore side by side with their references\n\n"
        f"Generated by `python -m benchmarks` on {machine['date']} ({mode}, "
        f"{minutes:.1f} min); rerun it to refresh this file rather than editing it.\n\n"
        f"- Machine: {machine['cpu']}, {machine['cpus']} CPUs{ram}, {machine['platform']}\n"
        f"- Versions: {versions}\n\n"
        f"{_protocol(sizes)}\n\n"
        f"{body}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks as the command line says; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 2 runs: a smoke test")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results here")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="write the tables here")
    parser.add_argument(
        "--only", action="append", choices=WORKLOADS, metavar="WORKLOAD",
        help=f"run only this workload (repeatable): {', '.join(WORKLOADS)}",
    )  # fmt: skip
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    workloads = tuple(args.only or WORKLOADS)
    full_run = not args.quick and args.only is None
    json_path = args.json or (_HERE / "results.json" if full_run else None)
    markdown_path = args.markdown or (_HERE / "RESULTS.md" if full_run else None)
    timeout = 120.0 if args.quick else 900.0

    started = time.perf_counter()
    loads = [_load_average()]
    notes: list[str] = []
    jobs = _runnable(build_plan(sizes, workloads), notes)
    results = _run_jobs(jobs, timeout, notes)
    if "download" in workloads:
        found, download_notes = run_download(
            sizes.download_bytes,
            warmup=sizes.heavy_warmup,
            repeats=sizes.heavy_repeats,
            timeout=timeout,
            log=_log,
            capped_size=sizes.capped_download_bytes,
            capped_repeats=sizes.capped_repeats,
        )
        results += found
        notes += download_notes
        notes += [f"download {r['side']} failed: {r['error']}" for r in found if r["error"]]
    minutes = (time.perf_counter() - started) / 60
    loads.append(_load_average())
    busy = _busy_note(loads)
    if busy is not None:
        notes.append(busy)

    attach_stats(results)
    body = render(results, notes)
    print(body)
    machine = describe()
    machine["load_average"] = {"start": loads[0], "end": loads[1]}
    if json_path is not None:
        document = {
            "machine": machine,
            "mode": "quick" if args.quick else "full",
            "protocol": _protocol(sizes),
            "minutes": minutes,
            "summary": summary(results),
            "notes": notes,
            "results": results,
        }
        json_path.write_text(json.dumps(document, indent=1) + "\n")
        _log(f"results written to {json_path}")
    if markdown_path is not None:
        markdown_path.write_text(_markdown(body, machine, sizes, minutes))
        _log(f"tables written to {markdown_path}")
    failed = [
        r for r in results if r["error"] and r["side"] in (SUBJECT, "llmstore", "llmstore-auto")
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
