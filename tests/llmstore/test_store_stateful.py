"""The LLM store as a state machine: random sequences of operations against a real server.

Hypothesis has no async rules, so each rule drives the machine's own event
loop with ``run_until_complete``; the loop, the server and the store live for
one example and are closed in ``teardown``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from llmstore import (
    DownloadCancelledError,
    HTTPStatusError,
    LLMStore,
    LLMStoreError,
    ModelSpec,
    create_llm_store_default_model,
)
from llmstore._gguf import write_gguf_file
from llmstore.store import STATE_FILE_NAME
from llmstore.testing import Fault, ModelServer

T = TypeVar("T")

GOOD = ("a", "b")
BAD = "c"  # not on the server: every download of it is a 404
KEYS = (*GOOD, BAD)
SIZE = 1024 * 1024 + 333
TEMP_SUFFIXES = (".part", ".part.json", ".part.json.tmp", ".lock")

keys = st.sampled_from(KEYS)
stoppers = st.sampled_from(["cancel", "delete", "background"])


@functools.cache
def model_bytes(key: str) -> bytes:
    directory = Path(tempfile.mkdtemp(prefix="llmstore-model-"))
    try:
        return write_gguf_file(directory / "m.gguf", size_bytes=SIZE, seed=ord(key)).read_bytes()
    finally:
        shutil.rmtree(directory)


def filename(key: str) -> str:
    return f"{key}.gguf"


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.002)


class StoreMachine(RuleBasedStateMachine):
    """Drives one store and keeps a model of what it should hold.

    ``status`` and ``selected`` are the expected state; every rule updates
    them from the operation's documented outcome, and the invariants compare
    the store, the disk and the model after each step.
    """

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.root = Path(tempfile.mkdtemp(prefix="llmstore-stateful-"))
        self.served_dir = self.root / "served"
        self.models_dir = self.root / "models"
        self.served_dir.mkdir()
        for key in GOOD:
            (self.served_dir / filename(key)).write_bytes(model_bytes(key))
        self.server = ModelServer(self.served_dir)
        self.run(self.server.start())
        self.catalog = [self._spec(key) for key in KEYS]
        self.store: LLMStore | None = None
        self.status = dict.fromkeys(KEYS, "idle")
        self.selected: str | None = None

    def _spec(self, key: str) -> ModelSpec:
        good = key in GOOD
        return ModelSpec(
            key=key,
            display_name=f"Model {key}",
            url=self.server.url_for(filename(key)),
            filename=filename(key),
            size_bytes=SIZE if good else None,
            sha256=hashlib.sha256(model_bytes(key)).hexdigest() if good else None,
            min_size_bytes=1024,
        )

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    async def _open(self) -> LLMStore:
        store = create_llm_store_default_model(models_dir=self.models_dir, catalog=self.catalog)
        await store.initialize()
        return store

    @property
    def live(self) -> LLMStore:
        assert self.store is not None
        return self.store

    def _became_ready(self, key: str) -> None:
        # Starting a ready model is a no-op: only a fresh download selects.
        if self.status[key] != "ready" and self.selected is None:
            self.selected = key
        self.status[key] = "ready"

    def _deleted(self, key: str) -> None:
        self.status[key] = "idle"
        if self.selected == key:
            self.selected = None

    # ---------------------------------------------------------------- rules
    @initialize()
    def open_store(self) -> None:
        self.store = self.run(self._open())
        assert self.live.is_initialized

    @rule(key=keys)
    def download(self, key: str) -> None:
        async def attempt() -> BaseException | None:
            try:
                await self.live.start_model_download(key)
            except LLMStoreError as error:
                return error
            return None

        error = self.run(attempt())
        if key == BAD:
            assert isinstance(error, HTTPStatusError) and error.status == 404
            self.status[key] = "error"
            assert self.live.model(key).error is not None
        else:
            assert error is None
            self._became_ready(key)

    @rule()
    def download_all_at_once(self) -> None:
        async def attempt() -> list[Any]:
            starts = [self.live.start_model_download(key) for key in KEYS]
            return await asyncio.gather(*starts, return_exceptions=True)

        fresh = [key for key in GOOD if self.status[key] != "ready"]
        results = dict(zip(KEYS, self.run(attempt()), strict=True))
        assert isinstance(results[BAD], HTTPStatusError)
        self.status[BAD] = "error"
        for key in GOOD:
            assert results[key] is None
            self.status[key] = "ready"
        if self.selected is None and fresh:
            # Whichever finished first was selected.
            assert self.live.selected_model_key in fresh
            self.selected = self.live.selected_model_key

    @rule(key=keys, stopper=stoppers)
    def download_then_stop(self, key: str, stopper: str) -> None:
        store, name = self.live, filename(key)
        was_ready = self.status[key] == "ready"
        if key in GOOD and not was_ready:
            # Slow this transfer down so the stop lands in the middle of it.
            self.server.add_fault(name, Fault(bytes_per_second=1024 * 1024))
        requests_before = len(self.server.requests_for(name))

        async def attempt() -> BaseException | None:
            starter = asyncio.ensure_future(store.start_model_download(key))

            def started() -> bool:
                if starter.done():
                    return True
                records = self.server.requests_for(name)[requests_before:]
                return bool(records) and (records[0].bytes_sent > 0 or key == BAD)

            await wait_until(started)
            if stopper == "cancel":
                await store.cancel_model_download(key)
            elif stopper == "delete":
                await store.delete_model(key)
            else:
                store.set_app_state("background")
            try:
                await starter
            except LLMStoreError as error:
                return error
            return None

        error = self.run(attempt())
        self.server.clear_faults(name)
        if was_ready:
            # Already there: starting is a no-op, so only a delete changes anything.
            assert error is None
            assert len(self.server.requests_for(name)) == requests_before
        elif key in GOOD:
            assert isinstance(error, DownloadCancelledError)
            self.status[key] = "idle"
        elif isinstance(error, HTTPStatusError):
            self.status[key] = "error"  # the 404 came back before the stop
        else:
            assert isinstance(error, DownloadCancelledError)
            self.status[key] = "idle"
        if stopper == "delete":
            self._deleted(key)

    @rule(key=keys)
    def cancel_when_idle(self, key: str) -> None:
        before = self.live.snapshot()
        self.run(self.live.cancel_model_download(key))
        assert self.live.snapshot() is before

    @rule(key=keys)
    def delete(self, key: str) -> None:
        self.run(self.live.delete_model(key))
        self._deleted(key)

    @rule(key=st.none() | keys)
    def select(self, key: str | None) -> None:
        if key is None or self.status[key] == "ready":
            self.live.select_model(key)
            self.selected = key
            return
        before = self.live.snapshot()
        with pytest.raises(LLMStoreError, match="not ready"):
            self.live.select_model(key)
        assert self.live.snapshot() is before

    @rule()
    def go_to_background(self) -> None:
        before = self.live.snapshot()
        self.live.set_app_state("background")
        self.run(asyncio.sleep(0))
        assert self.live.snapshot() is before

    @rule()
    def reopen(self) -> None:
        old = self.live
        self.run(old.aclose())
        assert self.run(asyncio.to_thread(self._saved_state)) == old.snapshot()
        self.store = self.run(self._open())
        # What is restored: everything, except what the disk or initialize
        # decide: a failed download left no file (idle again), and a ready
        # model is selected when none is.
        for key in KEYS:
            if self.status[key] == "error":
                self.status[key] = "idle"
        if self.selected is None:
            ready = [key for key in KEYS if self.status[key] == "ready"]
            self.selected = ready[0] if ready else None
        expected = self._summary(old)
        for item in expected["models"]:
            if item["status"] == "error":
                item["status"] = "idle"
        expected["selected"] = self.selected
        assert self._summary(self.live) == expected

    def _saved_state(self) -> Any:
        document = json.loads((self.models_dir / STATE_FILE_NAME).read_text(encoding="utf-8"))
        return document["state"]

    @staticmethod
    def _summary(store: LLMStore) -> dict[str, Any]:
        return {
            "models": [
                {"key": m.key, "status": m.status.value, "path": m.path} for m in store.models
            ],
            "selected": store.selected_model_key,
        }

    # ----------------------------------------------------------- invariants
    @invariant()
    def store_matches_the_model(self) -> None:
        if self.store is None:
            return
        store = self.store
        assert [m.key for m in store.models] == list(KEYS)
        assert {m.key: m.status.value for m in store.models} == self.status
        assert store.selected_model_key == self.selected
        assert store.has_ready_model == ("ready" in self.status.values())
        assert store.downloading_model is None

    @invariant()
    def path_is_set_exactly_when_ready(self) -> None:
        if self.store is None:
            return
        for model in self.store.models:
            ready = model.status.value == "ready"
            assert (model.path is not None) == ready, model
            assert model.progress == (100.0 if ready else 0.0), model
            assert (model.error is not None) == (model.status.value == "error"), model
            if ready:
                assert model.path == str(self.models_dir / filename(model.key))

    @invariant()
    def selection_is_ready_or_none(self) -> None:
        if self.store is None:
            return
        selected = self.store.selected_model
        assert selected is None or selected.status.value == "ready"

    @invariant()
    def disk_holds_one_complete_file_per_ready_model_and_no_leftovers(self) -> None:
        if self.store is None:
            return
        # The state file (and the temporary file of a save in flight) aside.
        names = {
            name
            for name in os.listdir(self.models_dir)
            if name != STATE_FILE_NAME and not name.startswith(f".{STATE_FILE_NAME}.")
        }
        assert not [name for name in names if name.endswith(TEMP_SUFFIXES)], names
        ready = {filename(key) for key, status in self.status.items() if status == "ready"}
        assert names == ready
        for key in KEYS:
            if self.status[key] == "ready":
                assert (self.models_dir / filename(key)).read_bytes() == model_bytes(key)

    def teardown(self) -> None:
        try:
            if self.store is not None:
                self.run(self.store.aclose())
            self.run(self.server.close())
            self.run(self.loop.shutdown_asyncgens())
            self.run(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()
            shutil.rmtree(self.root, ignore_errors=True)


StoreMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)
test_store_state_machine = StoreMachine.TestCase
