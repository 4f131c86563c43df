"""Crash recovery: a pull killed with SIGKILL at random points leaves a consistent store.

A child process pulls a throttled model (in one stream, and in pieces over 4
connections) from a loopback server running in
this process; it is killed during the transfer (at a random byte), while the
finished ``.part`` is fsynced before verification, right before and right
after the rename, while the sidecar or the state file is being replaced, or
while the loader hook runs. A new store on the same directory must then
initialize to a consistent state, and a later pull must finish the job.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from llmstore import ModelStatus, create_llm_store_default_model
from llmstore._partial import read_sidecar
from llmstore._persist import FORMAT
from llmstore.store import STATE_FILE_NAME

if TYPE_CHECKING:
    from conftest import Helpers, ServedModel, ThreadedServer, WorkerFactory

MB = 1024 * 1024
#: three of the download's 4 MiB write batches, and a bit: a kill can leave 0 to 12 MiB behind
FILE_SIZE = 12 * MB + 12_345
#: a whole transfer takes about 0.75 s
RATE = 16 * MB
SEED = 20_240_611

_rng = random.Random(SEED)
# (id, pause, loader_seconds, kill at this many body bytes sent)
KILL_POINTS: list[tuple[str, dict[str, Any] | None, float, int | None]] = [
    *(
        (f"transfer-{at // 1000}k", None, 0.0, at)
        for at in sorted(_rng.randrange(MB, FILE_SIZE - MB) for _ in range(3))
    ),
    ("fsync-before-verify", {"at": "fsync", "kind": "part", "nth": 1}, 0.0, None),
    ("rename", {"at": "replace", "kind": "part", "nth": 1}, 0.0, None),
    ("after-rename", {"at": "fsync", "kind": "installed", "nth": 1}, 0.0, None),
    ("first-sidecar-write", {"at": "replace", "kind": "sidecar", "nth": 1}, 0.0, None),
    ("sidecar-update", {"at": "replace", "kind": "sidecar", "nth": 2}, 0.0, None),
    ("state-rename", {"at": "replace", "kind": "state", "nth": _rng.randint(1, 2)}, 0.0, None),
    ("state-fsync", {"at": "fsync", "kind": "state", "nth": _rng.randint(1, 2)}, 0.0, None),
    ("loader", None, 60.0, None),
]


@pytest.fixture
def served(served_dir: Path, helpers: Helpers) -> ServedModel:
    return helpers.make_model(served_dir, "crashy", size=FILE_SIZE, seed=7)


async def _save_initial_state(models_dir: Path, served: ServedModel, url: str) -> None:
    store = create_llm_store_default_model(models_dir=models_dir, catalog=[served.spec(url)])
    async with store:
        pass


def _check_state_file(models_dir: Path) -> None:
    """The state file is whole: the old one or a new one, never a torn write."""
    document = json.loads((models_dir / STATE_FILE_NAME).read_bytes())
    assert document["format"] == FORMAT
    assert isinstance(document["state"], dict)


def _missing(models_dir: Path, name: str, size: int) -> list[tuple[int, int]]:
    """The byte spans (inclusive) the kept ``.part`` lacks, as its sidecar says."""
    state = read_sidecar(models_dir / (name + ".part.json"))
    assert state is not None
    if state.pieces is None:  # one stream: the file's first bytes
        return [((models_dir / (name + ".part")).stat().st_size, size - 1)]
    return [(done, end - 1) for _, end, done in state.pieces if done < end]


def _check_pieces_asked(requests: list[Any], missing: list[tuple[int, int]], size: int) -> None:
    """Only missing bytes were asked for, and all of them (a split piece: two requests)."""
    asked = []
    for request in requests:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", request.range or "")
        assert match is not None, f"a request without a Range: {request.range!r}"
        asked.append((int(match[1]), int(match[2]) if match[2] else size - 1))
    asked.sort()
    assert all(any(a <= x and y <= b for a, b in missing) for x, y in asked), (asked, missing)
    for a, b in missing:
        reach = a
        for x, y in asked:
            if x <= reach <= y:
                reach = max(reach, min(y, b) + 1)
        assert reach == b + 1, f"bytes {reach}-{b} were never asked for"


async def _recover_and_finish(
    models_dir: Path,
    served: ServedModel,
    server: ThreadedServer,
    helpers: Helpers,
    connections: int = 1,
) -> None:
    spec = served.spec(server.url_for(served.filename))
    name = served.filename
    store = create_llm_store_default_model(
        models_dir=models_dir, catalog=[spec], connections=connections
    )
    async with store:
        assert store.warnings == [], "a torn state file or a stray file was found"
        model = store.model(served.key)
        assert model.status in (ModelStatus.IDLE, ModelStatus.READY)
        if model.status is ModelStatus.READY:
            assert model.path is not None
            assert helpers.sha256_of(Path(model.path)) == served.sha256, "ready but incomplete"
        names = set(os.listdir(models_dir))
        resumable = {name + suffix for suffix in (".part", ".part.json")}
        allowed = {name, STATE_FILE_NAME} | (resumable if resumable <= names else set())
        assert names <= allowed, f"orphan files kept: {sorted(names - allowed)}"
        assert (name in names) == (model.status is ModelStatus.READY)
        kept = (models_dir / (name + ".part")).stat().st_size if resumable <= names else None
        missing = _missing(models_dir, name, served.size) if kept is not None else None

        before = len(server.requests_for(name))
        await store.start_model_download(served.key)
        assert model.status is ModelStatus.READY
        assert helpers.sha256_of(models_dir / name) == served.sha256
        requests = server.requests_for(name)[before:]
        if kept is None and name in names:
            assert requests == [], "an installed file was downloaded again"
        elif connections > 1:
            # In pieces: a kept .part resumes every piece where its sidecar says.
            whole = [(0, served.size - 1)]
            _check_pieces_asked(requests, whole if missing is None else missing, served.size)
        else:
            assert len(requests) == 1
            expected = f"bytes={kept}-" if kept else None
            assert requests[0].range == expected, "the kept .part was not resumed"
    assert sorted(os.listdir(models_dir)) == sorted([name, STATE_FILE_NAME])
    _check_state_file(models_dir)


def _sent(server: ThreadedServer, name: str) -> int:
    """Body bytes sent for ``name`` over every request (pieces come in many)."""
    return sum(record.bytes_sent for record in server.requests_for(name))


#: the points where a download in pieces differs from one stream (the state file's
#: and the loader's do not depend on how the bytes came)
_PIECES_POINTS = [point for point in KILL_POINTS if not point[0].startswith(("state-", "loader"))]


@pytest.mark.parametrize(
    ("pause", "loader_seconds", "kill_at", "connections"),
    [(*point[1:], 1) for point in KILL_POINTS] + [(*point[1:], 4) for point in _PIECES_POINTS],
    ids=[point[0] for point in KILL_POINTS] + [f"{p[0]}-pieces" for p in _PIECES_POINTS],
)
def test_sigkill_leaves_a_consistent_store_that_a_later_pull_completes(
    models_dir: Path,
    served: ServedModel,
    threaded_server: ThreadedServer,
    start_worker: WorkerFactory,
    helpers: Helpers,
    pause: dict[str, Any] | None,
    loader_seconds: float,
    kill_at: int | None,
    connections: int,
) -> None:
    url = threaded_server.url_for(served.filename)
    asyncio.run(_save_initial_state(models_dir, served, url))
    threaded_server.throttle(served.filename, bytes_per_second=RATE)
    worker = start_worker(
        models_dir=str(models_dir),
        catalog=[helpers.spec_data(served.spec(url))],
        key=served.key,
        pause=pause,
        loader_seconds=loader_seconds,
        connections=connections,
    )
    if kill_at is not None:
        deadline = time.monotonic() + 30
        while _sent(threaded_server, served.filename) < kill_at:
            assert worker.process.poll() is None, f"worker ended early: {worker.stderr}"
            assert time.monotonic() < deadline, "the transfer did not reach the kill point"
            time.sleep(0.002)
    else:
        reached = worker.wait_for("pause" if pause else "loader")
        assert reached is not None, f"the kill point was never reached: {worker.stderr}"
    worker.kill()
    assert worker.process.returncode == -9
    assert not any(event["event"] == "result" for event in worker.events)

    _check_state_file(models_dir)
    threaded_server.clear_faults()
    asyncio.run(_recover_and_finish(models_dir, served, threaded_server, helpers, connections))
