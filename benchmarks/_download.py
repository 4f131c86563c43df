"""The download benchmark: one file on a loopback server, fetched by each client in turn.

Clients: llmstore's downloader (sha256 + progress + fsync) with 4 connections
from the start, as a user gets it by default (``llmstore-x4``), with 8
(``-x8``), with one stream (``llmstore``) and with ``--connections auto``
(``llmstore-auto``: one stream, split over up to 4 connections when that
stream leaves the CPU idle), a bare aiohttp loop
(no hashing), ``curl -o``, ``aria2c -x4 -s4`` (4 connections); and, as
hashing floors, ``sha256sum`` and Python's ``hashlib`` (what llmstore hashes
with) over the served file. The uncapped run is served by nginx when it is
installed (else by the repository's aiohttp server); the capped run always
by the aiohttp server, whose cap is exact (see ``_nginx``).
Each run is a fresh process; before each one the previous download is
deleted and ``sync`` run, so no run flushes another's dirty pages. The
clients take turns, round after round, so a burst of load on the shared
machine hits all of them rather than one.
Two phases: ``download`` (bytes in the file, as the client leaves it) and
``download_fsync`` (bytes durable: curl, aria2c and aiohttp are followed by an fsync).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._nginx import Nginx, find_nginx
from benchmarks._plan import CAPPED_SIDES, HASH_SIDES, UNCAPPED_SIDES
from benchmarks._runner import Finished, JobResult, run_process
from benchmarks._timing import BenchmarkError, check

__all__ = ["run_download"]

_SEED = 20240612
_BLOCK = 16 * 1024 * 1024
_FILENAME = "model.bin"


def _write_file(path: Path, size: int) -> str:
    """Write ``size`` seeded pseudo-random bytes (incompressible) and return their sha256."""
    rng = random.Random(_SEED)
    digest = hashlib.sha256()
    with path.open("wb") as file:
        left = size
        while left:
            block = rng.randbytes(min(_BLOCK, left))
            digest.update(block)
            file.write(block)
            left -= len(block)
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _fsync_seconds(path: Path) -> float:
    """How long making ``path``'s written bytes durable takes."""
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - start


def _child_env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


class _Download:
    """One benchmark session: the served file, the server process, the destination."""

    def __init__(
        self,
        workdir: Path,
        size: int,
        timeout: float,
        cap: float | None = None,
        nginx: str | None = None,
    ) -> None:
        self.size = size
        self.timeout = timeout
        self.cap = cap
        served = workdir / "served"
        served.mkdir()
        self.source = served / _FILENAME
        self.dest = workdir / _FILENAME
        self.sha256 = _write_file(self.source, size)
        self.env = _child_env()
        self.server: subprocess.Popen[str] | None = None
        self.nginx: Nginx | None = None
        if nginx is not None and cap is None:
            self.nginx = Nginx(nginx, served, workdir)
            self.url = f"{self.nginx.base_url}/{_FILENAME}"
            return
        self.server = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._serve", str(served)]
            + ([str(cap)] if cap is not None else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        assert self.server.stdout is not None
        self.url = f"{self.server.stdout.readline().strip()}/{_FILENAME}"
        check(self.url.startswith("http://"), f"the server did not start ({self.url!r})")

    @property
    def served_by(self) -> str:
        """Which server this session runs: ``nginx`` or ``aiohttp``."""
        return "nginx" if self.nginx is not None else "aiohttp"

    def close(self) -> None:
        """Stop the server (closing its stdin asks ours to) and forget the download."""
        if self.nginx is not None:
            self.nginx.close()
        if self.server is not None:
            assert self.server.stdin is not None
            self.server.stdin.close()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.dest.unlink(missing_ok=True)

    def once(self, side: str, verify: bool) -> tuple[dict[str, float], int | None, float]:
        """Run ``side`` once: its phase timings, its peak RSS and its process wall time."""
        self.dest.unlink(missing_ok=True)
        os.sync()
        argv, parse = self._command(side)
        finished = run_process(argv, timeout=self.timeout, env=self.env)
        failure = finished.failure()
        if failure is not None:
            raise BenchmarkError(f"{side}: {failure}")
        phases = parse(finished)
        if side == "sha256sum":
            check(finished.stdout.split()[0] == self.sha256, "sha256sum disagrees on the digest")
        elif side != "hashlib":
            check(self.dest.stat().st_size == self.size, f"{side} wrote a file of another size")
            if verify:
                check(_file_sha256(self.dest) == self.sha256, f"{side} wrote other bytes")
        if side == "curl" or side.startswith("aria2c"):
            phases["download_fsync"] = phases["download"] + _fsync_seconds(self.dest)
        return phases, finished.peak_rss_bytes, finished.wall_seconds

    def _command(self, side: str) -> tuple[list[str], Callable[[Finished], dict[str, float]]]:
        """The argv of ``side`` and how to read its phase timings from how it ended."""

        def from_json(finished: Finished) -> dict[str, float]:
            report: dict[str, Any] = json.loads(finished.stdout.strip().splitlines()[-1])
            if "sha256" in report:
                check(report["sha256"] == self.sha256, f"{side} reported another digest")
            return {
                phase: report[phase]
                for phase in ("download", "download_fsync", "hash")
                if phase in report
            }

        fetch = [sys.executable, "-m", "benchmarks._fetch"]
        tool, _, connections = side.partition("-x")
        if side == "llmstore-auto":  # one stream, split when it idles
            tool, connections = "llmstore", "auto"
        if tool == "llmstore":
            options = ["--size", str(self.size), "--sha256", self.sha256]
            options += ["--connections", connections or "1"]
            argv = [*fetch, "llmstore", self.url, "--dest", str(self.dest), *options]
            return argv, from_json
        if tool == "aria2c":
            n = connections
            argv = ["aria2c", "-q", f"-x{n}", f"-s{n}", "-k1M", "--file-allocation=none"]
            argv += [
                "--allow-overwrite=true",
                "--auto-file-renaming=false",
                "--check-certificate=false",
            ]
            argv += ["-d", str(self.dest.parent), "-o", self.dest.name, self.url]
            # aria2c prints no timing: its process wall time (start-up included, ~10 ms).
            return argv, lambda finished: {"download": finished.wall_seconds}
        if side == "aiohttp":
            return [*fetch, side, self.url, "--dest", str(self.dest)], from_json
        if side == "hashlib":
            return [*fetch, side, str(self.source)], from_json
        if side == "curl":
            argv = ["curl", "-sS", "--fail", "-o", str(self.dest), "-w", "%{time_total}"]
            return [*argv, self.url], lambda finished: {"download": float(finished.stdout)}
        if side == "sha256sum":
            # Only the process's wall time exists; starting sha256sum costs a millisecond.
            return ["sha256sum", str(self.source)], lambda finished: {"hash": finished.wall_seconds}
        raise ValueError(f"unknown download side {side!r}")


class _Samples:
    """What the runs of one side gathered: phase timings, peak RSS, the first failure."""

    def __init__(self, side: str) -> None:
        self.side = side
        self.phases: dict[str, list[float]] = {}
        self.peaks: list[int] = []
        self.error: str | None = None
        self.seconds = 0.0

    def run(self, session: _Download, *, timed: bool, verify: bool) -> None:
        """One run of the side; a failure is kept and ends the side's runs."""
        if self.error is not None:
            return
        started = time.perf_counter()
        try:
            phases, peak, wall = session.once(self.side, verify=verify)
        except (BenchmarkError, OSError, ValueError, KeyError) as failure:
            self.error = str(failure)
            return
        finally:
            self.seconds += time.perf_counter() - started
        if timed:
            for phase, seconds in {**phases, "process": wall}.items():
                self.phases.setdefault(phase, []).append(seconds)
            if peak is not None:
                self.peaks.append(peak)

    def result(self, size: int, count: int, served_by: str) -> JobResult:
        values: dict[str, float] = {}
        if self.peaks:
            values["peak_rss_bytes"] = max(self.peaks)
        main_phase = "hash" if self.side in HASH_SIDES else "download"
        if self.phases.get(main_phase):
            values["mib_per_s"] = size / statistics.median(self.phases[main_phase]) / 2**20
        return {
            "side": self.side,
            "workload": "download",
            "n": size,
            "count": count,
            "samples": self.phases,
            "values": values,
            "error": self.error,
            "wall_seconds": self.seconds,
            "served_by": served_by,
        }


def _measure(
    session: _Download, sides: list[str], warmup: int, repeats: int, count: int,
    log: Callable[[str], None],
) -> list[JobResult]:  # fmt: skip
    """Run every side ``warmup`` + ``repeats`` times, taking turns round after round."""
    samples = [_Samples(side) for side in sides]
    for index in range(warmup + repeats):
        log(
            f"download round {index + 1}/{warmup + repeats}"
            + (" (warm-up)" if index < warmup else "")
        )
        for sample in samples:
            # Hashing a whole download costs seconds: check the bytes on the first run only.
            sample.run(session, timed=index >= warmup, verify=index == 0)
    return [sample.result(session.size, count, session.served_by) for sample in samples]


def run_download(
    size: int,
    *,
    warmup: int,
    repeats: int,
    timeout: float,
    log: Callable[[str], None],
    capped_size: int = 0,
    cap: float = 25e6,
    capped_repeats: int = 1,
) -> tuple[list[JobResult], list[str]]:
    """Benchmark every available download client on a ``size``-byte file.

    With ``capped_size``, also fetch a file of that size from a server capping
    every connection at ``cap`` bytes a second (``capped_repeats`` runs each,
    no warm-up: it is slow by design); those results have ``count`` = the cap
    in MB/s. Every result says which server it ran against (``served_by``).
    Returns the results and notes about clients that were skipped.
    """
    notes: list[str] = []
    results = []
    runs: list[tuple[int, float | None, tuple[str, ...], int, int]] = [
        (size, None, UNCAPPED_SIDES, warmup, repeats)
    ]
    if capped_size:
        runs.append((capped_size, cap, CAPPED_SIDES, 0, capped_repeats))
    nginx = find_nginx()
    if nginx is None:
        notes.append(
            "download served by the repository's aiohttp server: nginx is not installed "
            "(Debian: apt-get install nginx-light)"
        )
    with tempfile.TemporaryDirectory(prefix="mstlite-bench-") as workdir:
        for index, (bytes_, limit, wanted, warm, times) in enumerate(runs):
            sides = []
            for side in wanted:
                tool = side.split("-")[0]
                if tool in ("curl", "sha256sum", "aria2c") and shutil.which(tool) is None:
                    note = f"{side} skipped: {tool} is not on PATH (Debian: apt-get install "
                    notes.append(note + ("aria2)" if tool == "aria2c" else f"{tool})"))
                else:
                    sides.append(side)
            where = Path(workdir) / str(index)
            where.mkdir()
            capped = f", every connection capped at {limit / 1e6:g} MB/s" if limit else ""
            log(f"download: writing a {bytes_ / 2**20:,.0f} MiB file to serve{capped}")
            session = _Download(where, bytes_, timeout, cap=limit, nginx=nginx)
            try:
                log(f"download from {session.served_by}: {', '.join(sides)}")
                count = int(limit / 1e6) if limit else 0
                results += _measure(session, sides, warm, times, count, log)
            finally:
                session.close()
    return results, notes
