"""Models added from the Hub as a state machine: add, pull, rm (with or without the entry), restart.

As in ``test_store_stateful``, each rule drives the machine's own event loop;
the loopback Hub and the store live for one example.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from llmstore import LLMStore, ModelStatus, create_llm_store_default_model
from llmstore._gguf import write_gguf_file
from llmstore.store import STATE_FILE_NAME
from llmstore.testing_hub import HubServer

T = TypeVar("T")

REPO = "bartowski/Tiny-GGUF"
SPLIT_REPO = "unsloth/Split-GGUF"
#: name as typed -> the key it gets
NAMES = {
    f"hf.co/{REPO}:q4_k_m": f"{REPO}:Q4_K_M",
    f"{REPO}:Q4_K_M": f"{REPO}:Q4_K_M",
    f"huggingface.co/{REPO}/Tiny-Q8_0.gguf": f"{REPO}/Tiny-Q8_0.gguf",
    f"{SPLIT_REPO}:Q2_K": f"{SPLIT_REPO}:Q2_K",
}

names = st.sampled_from(sorted(NAMES))


class HubStoreMachine(RuleBasedStateMachine):
    """One store over a loopback Hub, and the entries and statuses it should hold."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.root = Path(tempfile.mkdtemp(prefix="llmstore-hub-stateful-"))
        self.models_dir = self.root / "models"
        self.hub = HubServer(self.root / "cdn")
        self.run(self.hub.start())
        files = [(REPO, "Tiny-Q4_K_M.gguf"), (REPO, "Tiny-Q8_0.gguf")]
        files += [(SPLIT_REPO, f"Split-Q2_K-0000{i}-of-00002.gguf") for i in (1, 2)]
        for seed, (repo, path) in enumerate(files):
            data = write_gguf_file(self.root / f"{seed}.gguf", size_bytes=90_000 + seed, seed=seed)
            self.hub.add_file(repo, path, data.read_bytes())
        self.store: LLMStore | None = self.run(self._open())
        #: key -> "idle" or "ready", in the order the store lists them
        self.expected: dict[str, str] = {}

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    async def _open(self) -> LLMStore:
        store = create_llm_store_default_model(
            models_dir=self.models_dir, catalog=[], endpoint=self.hub.endpoint
        )
        await store.initialize()
        return store

    @property
    def live(self) -> LLMStore:
        assert self.store is not None
        return self.store

    @rule(name=names)
    def add(self, name: str) -> None:
        key = self.run(self.live.add_model(name))
        assert key == NAMES[name]
        self.expected.setdefault(key, "idle")

    @rule(name=names)
    def pull(self, name: str) -> None:
        key = NAMES[name]
        if key not in self.expected:
            key = self.run(self.live.add_model(name))
        self.run(self.live.start_model_download(key))
        self.expected[key] = "ready"

    @rule(name=names, keep_entry=st.booleans())
    def remove(self, name: str, keep_entry: bool) -> None:
        key = NAMES[name]
        if key not in self.expected:
            return
        self.run(self.live.delete_model(key, keep_entry=keep_entry))
        if keep_entry:
            self.expected[key] = "idle"
        else:
            del self.expected[key]

    @rule()
    def restart(self) -> None:
        self.run(self.live.aclose())
        self.store = self.run(self._open())

    @invariant()
    def store_disk_and_model_agree(self) -> None:
        store = self.live
        assert [m.key for m in store.models] == list(self.expected)
        assert {m.key: m.status.value for m in store.models} == self.expected
        assert sorted(store.env.added) == sorted(self.expected)
        ready = [m for m in store.models if m.status is ModelStatus.READY]
        wanted = sorted(f.filename for m in ready for f in store.env.catalog[m.key].files)
        on_disk = sorted(n for n in os.listdir(self.models_dir) if not _state_file(n))
        assert on_disk == wanted  # every file of every ready model, and nothing else
        if store.selected_model_key is not None:
            assert self.expected[store.selected_model_key] == "ready"

    def teardown(self) -> None:
        try:
            if self.store is not None:
                self.run(self.store.aclose())
            self.run(self.hub.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.root, ignore_errors=True)


def _state_file(name: str) -> bool:
    """The state file, or the temporary file the saver thread writes it through
    (renamed over it a moment later): the persistence layer's, not a model's."""
    return name == STATE_FILE_NAME or (
        name.startswith(f".{STATE_FILE_NAME}.") and name.endswith(".tmp")
    )


HubStoreMachine.TestCase.settings = settings(max_examples=12, stateful_step_count=12, deadline=None)
test_hub_store_machine = HubStoreMachine.TestCase
