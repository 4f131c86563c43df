"""Soak: hundreds of download, cancel and delete cycles leak nothing.

One store runs 500 cycles (after a warm-up) against a loopback server on its
own thread: full downloads then deletes, throttled downloads cancelled or
deleted part-way, downloads watched through ``store.progress``. Open file
descriptors, asyncio tasks, threads and traced memory must not grow beyond a
small bound, and no listener, channel or task may be left behind.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import threading
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from llmstore import (
    DownloadCancelledError,
    LLMStore,
    ModelStatus,
    ProgressEvent,
    create_llm_store_default_model,
)
from llmstore.store import STATE_FILE_NAME

if TYPE_CHECKING:
    from conftest import Helpers, ServedModel, ThreadedServer

KB = 1024
CYCLES = 500
WARM_UP = 40
SEED = 5_150
MEMORY_BOUND = 2 * 1024 * KB
#: the throttled model needs about 0.25 s, so a cancel lands mid-way
SLOW_RATE = 1024 * KB


@pytest.fixture
def models(served_dir: Path, helpers: Helpers) -> dict[str, ServedModel]:
    sizes = {"small": 64 * KB + 11, "medium": 160 * KB + 3, "slow": 256 * KB - 5}
    return {
        key: helpers.make_model(served_dir, key, size=size, seed=index)
        for index, (key, size) in enumerate(sizes.items())
    }


class Cycles:
    """The cycle kinds, each checking its own outcome."""

    def __init__(
        self, store: LLMStore, models: dict[str, ServedModel], models_dir: Path, seed: int
    ) -> None:
        self.store = store
        self.models = models
        self.models_dir = models_dir
        self.rng = random.Random(seed)

    async def run(self, count: int) -> None:
        kinds = [self.download_then_delete] * 3 + [
            self.cancel_mid_way,
            self.delete_mid_way,
            self.watch_progress,
        ]
        for _ in range(count):
            await self.rng.choice(kinds)()
            # A save may be under way (its temporary file); nothing else is left.
            names = {n for n in os.listdir(self.models_dir) if not n.startswith(".llmstore-")}
            assert names <= {STATE_FILE_NAME}, names

    async def download_then_delete(self) -> None:
        key = self.rng.choice(["small", "medium"])
        await self.store.start_model_download(key)
        model = self.store.model(key)
        assert model.status is ModelStatus.READY
        assert os.stat(self.models_dir / f"{key}.gguf").st_size == self.models[key].size
        await self.store.delete_model(key)
        assert model.status is ModelStatus.IDLE and model.path is None

    async def _start_slow(self) -> asyncio.Task[None]:
        task = asyncio.create_task(self.store.start_model_download("slow"))
        model = self.store.model("slow")
        deadline = time.monotonic() + 10
        while model.status is not ModelStatus.DOWNLOADING:
            assert not task.done(), task
            assert time.monotonic() < deadline, "the slow download never started"
            await asyncio.sleep(0.001)
        # The whole transfer takes about 0.25 s: this lands before, in or after its start.
        await asyncio.sleep(self.rng.uniform(0.0, 0.05))
        assert not task.done()
        return task

    async def cancel_mid_way(self) -> None:
        task = await self._start_slow()
        await self.store.cancel_model_download("slow")
        with pytest.raises(DownloadCancelledError):
            await task
        assert self.store.model("slow").status is ModelStatus.IDLE

    async def delete_mid_way(self) -> None:
        task = await self._start_slow()
        await self.store.delete_model("slow")
        with pytest.raises(DownloadCancelledError):
            await task
        assert self.store.model("slow").status is ModelStatus.IDLE

    async def watch_progress(self) -> None:
        events: list[ProgressEvent] = []
        ended: list[Any] = []
        subscription = self.store.progress("small").subscribe(
            on_next=events.append,
            on_error=ended.append,
            on_completed=lambda: ended.append("completed"),
        )
        try:
            await self.store.start_model_download("small")
        finally:
            subscription.dispose()
        assert ended == ["completed"]
        assert events and events[-1].done and events[-1].bytes_done == self.models["small"].size
        await self.store.delete_model("small")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle(store: LLMStore) -> None:
    """Let the debounced save, the worker threads and the closed sockets finish."""
    assert store.env.saver is not None
    await store.env.saver.flush()
    deadline = time.monotonic() + 5
    threads = threading.active_count()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        now = threading.active_count()
        if now == threads:
            break
        threads = now
    gc.collect()


def test_download_cancel_delete_cycles_leak_nothing(
    models_dir: Path,
    models: dict[str, ServedModel],
    threaded_server: ThreadedServer,
) -> None:
    threaded_server.throttle("slow.gguf", bytes_per_second=SLOW_RATE)
    catalog = [served.spec(threaded_server.url_for(served.filename)) for served in models.values()]

    async def soak() -> dict[str, tuple[int, int]]:
        store = create_llm_store_default_model(models_dir=models_dir, catalog=catalog)
        async with store:
            cycles = Cycles(store, models, models_dir, SEED)
            await cycles.run(WARM_UP)
            threaded_server.clear_requests()
            await settle(store)
            tree = store._tree
            before = {
                "fds": open_fds(),
                "tasks": len(asyncio.all_tasks()),
                "threads": threading.active_count(),
                "snapshot listeners": len(tree.snapshot_listeners),
                "patch listeners": tree.patch_listener_count,
            }
            tracemalloc.start()
            try:
                for _ in range(CYCLES // 50):
                    await cycles.run(50)
                    threaded_server.clear_requests()  # the server's log is not ours
                await settle(store)
                memory = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
            after = {
                "fds": open_fds(),
                "tasks": len(asyncio.all_tasks()),
                "threads": threading.active_count(),
                "snapshot listeners": len(tree.snapshot_listeners),
                "patch listeners": tree.patch_listener_count,
            }
            assert store.env.tasks == {} and store.env.channels == {}
            assert all(m.status is ModelStatus.IDLE for m in store.models)
        growth = {name: (before[name], after[name]) for name in before}
        growth["memory"] = (0, memory)
        return growth

    growth = asyncio.run(soak())
    fds, tasks, threads = growth["fds"], growth["tasks"], growth["threads"]
    assert fds[1] <= fds[0] + 4, f"file descriptors grew: {growth}"
    assert tasks[1] <= tasks[0], f"asyncio tasks grew: {growth}"
    assert threads[1] <= threads[0] + 2, f"threads grew: {growth}"
    assert growth["snapshot listeners"][1] == growth["snapshot listeners"][0]
    assert growth["patch listeners"] == (0, 0)
    assert growth["memory"][1] < MEMORY_BOUND, f"memory grew: {growth}"
    assert sorted(os.listdir(models_dir)) == [STATE_FILE_NAME]
