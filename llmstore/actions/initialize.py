"""initialize(): scan the models dir, restore the persisted state, let the disk win."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from llmstore._files import ensure_models_dir, remove_file_in_dir, scan_models_dir
from llmstore._persist import DebouncedSaver, StateFile
from llmstore.actions.add_model import restore_entries
from mstlite import get_env, on_snapshot

if TYPE_CHECKING:
    from llmstore._env import StoreEnv
    from llmstore.store import LLMStore

__all__ = ["initialize"]

logger = logging.getLogger("llmstore")


async def initialize(store: LLMStore) -> None:
    """Create and scan the models dir, restore the selection, start persisting.

    Idempotent. A corrupt state file is moved aside and reported in
    ``store.warnings``, never fatal. Raises ``LLMStoreError`` when the models
    dir cannot be used (after ``store.error`` is set).
    """
    env: StoreEnv = get_env(store)
    if store.is_initialized:
        return
    try:
        await asyncio.to_thread(ensure_models_dir, env.models_dir)
    except Exception as error:
        store.set_error(str(error))
        raise
    # The state first: it holds the models added from the Hub, which the scan must know.
    state = env.state = StateFile(env.state_file)
    persisted = await asyncio.to_thread(state.load)
    if state.warning:
        env.warnings.append(state.warning)
    restore_entries(env, persisted)
    try:
        scan = await asyncio.to_thread(scan_models_dir, env.models_dir, list(env.catalog.values()))
    except Exception as error:
        store.set_error(str(error))
        raise
    for stale in scan.stale:
        await asyncio.to_thread(remove_file_in_dir, env.models_dir, stale)
    env.warnings.extend(scan.warnings)
    store.apply_scan(scan, persisted or {})
    env.semaphore = asyncio.Semaphore(env.max_concurrent_downloads)
    env.saver = DebouncedSaver(lambda snapshot: state.save(_persistable(snapshot)))
    env.disposers.append(on_snapshot(store, env.saver.schedule))
    env.saver.schedule(store.snapshot())


def _persistable(snapshot: Any) -> dict[str, Any]:
    return dict(snapshot)
