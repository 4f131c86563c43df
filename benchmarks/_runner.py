"""The subprocess protocol: one fresh process per workload and side, results as JSON.

Every side (a Python worker, node running ``mst_js/bench.js``, curl,
sha256sum) runs as a child process; the runner reads the JSON it prints and
adds what only the parent can see: wall time and peak RSS (sampled from ``/proc``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

from benchmarks import _mst_js
from benchmarks._data import dataset

__all__ = ["Finished", "Job", "JobResult", "run_job", "run_process"]

_POLL_SECONDS = 0.01

JobResult = dict[str, Any]
"""A worker's JSON document plus ``peak_rss_bytes``, ``wall_seconds`` and ``error``."""


@final
@dataclass(frozen=True, slots=True)
class Job:
    """One workload on one side at one size: one child process."""

    workload: str
    side: str
    n: int
    count: int
    warmup: int
    repeats: int


@final
@dataclass(frozen=True, slots=True)
class Finished:
    """How a child process ended, and what it cost."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_rss_bytes: int | None

    def failure(self) -> str | None:
        """A one-line reason when the process failed, else ``None``."""
        if self.returncode == 0:
            return None
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return f"exit {self.returncode}: {lines[-1] if lines else 'no error output'}"


def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Finished:
    """Run ``argv`` to completion (killed after ``timeout`` seconds) and describe it.

    Output goes to temporary files, not pipes, so waiting cannot deadlock.
    The peak RSS is the child's ``VmHWM``, sampled while it runs: the
    ``wait4`` figure would be wrong, since Linux carries the parent's
    high-water mark across fork and exec.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        peak: int | None = None
        timed_out = False
        try:
            while True:
                peak = _high_water_mark(process.pid) or peak
                try:
                    process.wait(timeout=_POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if time.perf_counter() - start > timeout:
                        timed_out = True
                        process.kill()
        except BaseException:
            process.kill()
            process.wait()
            raise
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if timed_out:
            stderr += f"\nkilled after the {timeout:.0f} s time limit"
        return Finished(process.returncode, out.read().decode(errors="replace"), stderr, wall, peak)


def _high_water_mark(pid: int) -> int | None:
    """The peak RSS of a running process in bytes, where ``/proc`` tells it."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _data_file(data_dir: Path, job: Job) -> Path:
    """The job's dataset as JSON for the node side, written once per size."""
    path = data_dir / f"{job.workload}-{job.n}-{job.count}.json"
    if not path.exists():
        path.write_text(json.dumps(dataset(job.workload, job.n, job.count)))
    return path


def _command(job: Job, data_dir: Path) -> tuple[list[str], dict[str, str]]:
    options = ["--count", str(job.count), "--warmup", str(job.warmup)]
    options += ["--repeats", str(job.repeats)]
    if job.side in ("mst", "mst-typecheck"):
        return _mst_js.command(
            job.workload,
            job.n,
            [*options, "--data", str(_data_file(data_dir, job))],
            typecheck=job.side == "mst-typecheck",
        )
    argv = [sys.executable, "-m", "benchmarks._worker", job.side, job.workload, str(job.n)]
    return argv + options, dict(os.environ)


def run_job(job: Job, *, data_dir: Path, timeout: float) -> JobResult:
    """Run ``job`` in a fresh process; failures come back as a result with ``error`` set."""
    argv, env = _command(job, data_dir)
    # The package must be importable from the child whatever the caller's cwd.
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    finished = run_process(argv, timeout=timeout, env=env)
    result: JobResult = {
        "side": job.side,
        "workload": job.workload,
        "n": job.n,
        "count": job.count,
        "samples": {},
        "values": {},
    }
    error = finished.failure()
    if error is None:
        try:
            result.update(json.loads(finished.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            error = f"no JSON result in the output: {finished.stdout[-200:]!r}"
    result["error"] = error
    result["wall_seconds"] = finished.wall_seconds
    if finished.peak_rss_bytes is not None:
        result["values"]["peak_rss_bytes"] = finished.peak_rss_bytes
    return result
