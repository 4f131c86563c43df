"""Crash recovery: a pull killed with SIGKILL at random points leaves a consistent store.

A child process pulls a throttled model from a loopback server running in
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
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from llmstore import ModelStatus, create_llm_store_default_model
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


async def _recover_and_finish(
    models_dir: Path, served: ServedModel, server: ThreadedServer, helpers: Helpers
) -> None:
    spec = served.spec(server.url_for(served.filename))
    name = served.filename
    store = create_llm_store_default_model(models_dir=models_dir, catalog=[spec], connections=1)
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

        before = len(server.requests_for(name))
        await store.start_model_download(served.key)
        assert model.status is ModelStatus.READY
        assert helpers.sha256_of(models_dir / name) == served.sha256
        requests = server.requests_for(name)[before:]
        if kept is None and name in names:
            assert requests == [], "an installed file was downloaded again"
        else:
            assert len(requests) == 1
            expected = f"bytes={kept}-" if kept else None
            assert requests[0].range == expected, "the kept .part was not resumed"
    assert sorted(os.listdir(models_dir)) == sorted([name, STATE_FILE_NAME])
    _check_state_file(models_dir)


@pytest.mark.parametrize(
    ("pause", "loader_seconds", "kill_at"),
    [point[1:] for point in KILL_POINTS],
    ids=[point[0] for point in KILL_POINTS],
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
    )
    if kill_at is not None:
        deadline = time.monotonic() + 30
        while threaded_server.bytes_sent(served.filename) < kill_at:
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
    asyncio.run(_recover_and_finish(models_dir, served, threaded_server, helpers))
