"""Two processes, one models dir: one downloads, the other waits, fails clearly or deletes."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from llmstore import ModelStatus, create_llm_store_default_model
from llmstore.store import STATE_FILE_NAME

if TYPE_CHECKING:
    from conftest import Helpers, ServedModel, ThreadedServer, Worker, WorkerFactory

MB = 1024 * 1024
FILE_SIZE = 10 * MB + 4_321
#: a whole transfer takes about 1.3 s: long enough for a second process to start
RATE = 8 * MB


@pytest.fixture
def served(served_dir: Path, helpers: Helpers) -> ServedModel:
    return helpers.make_model(served_dir, "shared", size=FILE_SIZE, seed=3)


@pytest.fixture
def url(served: ServedModel, threaded_server: ThreadedServer) -> str:
    threaded_server.throttle(served.filename, bytes_per_second=RATE)
    return threaded_server.url_for(served.filename)


def wait_for_bytes(server: ThreadedServer, worker: Worker, name: str, count: int) -> None:
    deadline = time.monotonic() + 30
    while server.bytes_sent(name) < count:
        assert worker.process.poll() is None, f"worker ended early: {worker.stderr}"
        assert time.monotonic() < deadline, "the transfer did not start"
        time.sleep(0.005)


def assert_installed_once(models_dir: Path, served: ServedModel, helpers: Helpers) -> None:
    assert helpers.sha256_of(models_dir / served.filename) == served.sha256
    assert sorted(os.listdir(models_dir)) == sorted([served.filename, STATE_FILE_NAME])


def test_second_process_waits_then_finds_the_file_without_downloading_it(
    models_dir: Path,
    served: ServedModel,
    url: str,
    threaded_server: ThreadedServer,
    start_worker: WorkerFactory,
    helpers: Helpers,
) -> None:
    config = {
        "models_dir": str(models_dir),
        "catalog": [helpers.spec_data(served.spec(url))],
        "key": served.key,
    }
    first, second = start_worker(**config, gated=True), start_worker(**config, gated=True)
    first.go()
    wait_for_bytes(threaded_server, first, served.filename, 1)
    second.go()
    assert second.wait_for("initialized") is not None, second.stderr
    assert threaded_server.bytes_sent(served.filename) < served.size, "started too late"

    results = [first.result(), second.result()]
    for result in results:
        assert (result["status"], result.get("exception")) == ("ready", None)
        assert result["path"] == str(models_dir / served.filename)
    (request,) = threaded_server.requests_for(served.filename)
    assert (request.status, request.range) == (200, None)
    assert_installed_once(models_dir, served, helpers)


def test_second_process_not_waiting_gets_model_busy_then_ready_later(
    models_dir: Path,
    served: ServedModel,
    url: str,
    threaded_server: ThreadedServer,
    start_worker: WorkerFactory,
    helpers: Helpers,
) -> None:
    config = {
        "models_dir": str(models_dir),
        "catalog": [helpers.spec_data(served.spec(url))],
        "key": served.key,
        "wait_for_lock": False,
    }
    first, second = start_worker(**config, gated=True), start_worker(**config, gated=True)
    first.go()
    wait_for_bytes(threaded_server, first, served.filename, 1)
    second.go()
    busy = second.result()
    assert threaded_server.bytes_sent(served.filename) < served.size, "finished too early"
    assert busy["exception"] == "ModelBusyError"
    assert "being downloaded by another process" in busy["message"]
    assert served.filename in busy["message"]
    assert busy["status"] == "error" and busy["error"] is not None
    # The downloader's files, untouched, and nothing at the final name yet.
    name = served.filename
    assert set(busy["listing"]) == {
        name + ".part",
        name + ".part.json",
        name + ".lock",
        STATE_FILE_NAME,
    }

    assert first.result()["status"] == "ready"
    later = start_worker(**config).result()
    assert (later["status"], later.get("exception")) == ("ready", None)
    assert len(threaded_server.requests_for(served.filename)) == 1
    assert_installed_once(models_dir, served, helpers)


def test_waiting_process_resumes_the_part_of_a_holder_that_was_killed(
    models_dir: Path,
    served: ServedModel,
    url: str,
    threaded_server: ThreadedServer,
    start_worker: WorkerFactory,
    helpers: Helpers,
) -> None:
    config = {
        "models_dir": str(models_dir),
        "catalog": [helpers.spec_data(served.spec(url))],
        "key": served.key,
    }
    holder, waiter = start_worker(**config, gated=True), start_worker(**config, gated=True)
    holder.go()
    wait_for_bytes(threaded_server, holder, served.filename, 1)
    waiter.go()
    assert waiter.wait_for("initialized") is not None, waiter.stderr
    # The holder has sent at least one whole 4 MiB write batch to its .part.
    wait_for_bytes(threaded_server, holder, served.filename, 7 * MB)
    assert len(threaded_server.requests_for(served.filename)) == 1
    holder.kill()

    result = waiter.result()
    assert (result["status"], result.get("exception")) == ("ready", None)
    _, resumed = threaded_server.requests_for(served.filename)
    assert resumed.range is not None and resumed.status == 206
    start = int(resumed.range.removeprefix("bytes=").removesuffix("-"))
    assert 4 * MB <= start < 7 * MB
    assert_installed_once(models_dir, served, helpers)


def test_delete_in_one_process_while_another_downloads_corrupts_neither(
    models_dir: Path,
    served: ServedModel,
    url: str,
    threaded_server: ThreadedServer,
    start_worker: WorkerFactory,
    helpers: Helpers,
) -> None:
    # This process still has the previous catalog, whose file is installed; the
    # other has a new one (the file changed upstream), so it downloads it anew.
    dest = models_dir / served.filename
    previous = helpers.make_model(models_dir, served.key, size=FILE_SIZE - 1000, seed=99)
    spec = served.spec(url)

    async def delete_while_downloading() -> None:
        catalog = [previous.spec(url)]
        store = create_llm_store_default_model(
            models_dir=models_dir, catalog=catalog, connections=1
        )
        async with store:
            assert store.model(served.key).status is ModelStatus.READY
            worker = start_worker(
                models_dir=str(models_dir), catalog=[helpers.spec_data(spec)], key=served.key
            )
            while threaded_server.bytes_sent(served.filename) < 2 * MB:
                assert worker.process.poll() is None, worker.stderr
                await asyncio.sleep(0.005)
            await store.delete_model(served.key)
            assert store.model(served.key).status is ModelStatus.IDLE
            assert store.selected_model_key is None
            # Until the downloader ends, the final name never holds a partial file.
            while worker.process.poll() is None:
                try:
                    size = os.stat(dest).st_size
                except FileNotFoundError:
                    size = None
                assert size in (None, served.size)
                await asyncio.sleep(0.01)
            result = worker.result()
            assert (result["status"], result.get("exception")) == ("ready", None)

        store = create_llm_store_default_model(models_dir=models_dir, catalog=[spec], connections=1)
        async with store:
            assert store.model(served.key).status is ModelStatus.READY

    asyncio.run(delete_while_downloading())
    assert len(threaded_server.requests_for(served.filename)) == 1
    assert_installed_once(models_dir, served, helpers)
