"""initialize(): scan the models dir, restore the persisted state, let the disk win."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from llmstore._files import ScanResult, ensure_models_dir, remove_file_in_dir, scan_models_dir
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
    dir cannot be used (after ``store.error`` is set). A read-only store
    (``env.read_only``) writes nothing: a missing models dir is an empty one,
    leftovers stay where they are, and nothing is saved.
    """
    env: StoreEnv = get_env(store)
    if store.is_initialized:
        return
    read_only = env.read_only
    try:
        if not read_only:
            await asyncio.to_thread(ensure_models_dir, env.models_dir)
    except Exception as error:
        store.set_error(str(error), operation="initialize")
        raise
    # The state first: it holds the models added from the Hub, which the scan must know.
    state = env.state = StateFile(env.state_file)
    persisted = await asyncio.to_thread(state.load, read_only=read_only)
    if state.warning:
        env.warnings.append(state.warning)
    restore_entries(env, persisted)
    try:
        if read_only and not env.models_dir.exists():
            scan = ScanResult()
        else:
            scan = await asyncio.to_thread(
                scan_models_dir, env.models_dir, list(env.catalog.values()), read_only=read_only
            )
    except Exception as error:
        store.set_error(str(error), operation="initialize")
        raise
    if not read_only:
        for stale in scan.stale:
            await asyncio.to_thread(remove_file_in_dir, env.models_dir, stale)
    env.warnings.extend(scan.warnings)
    store.apply_scan(scan, persisted or {})
    env.semaphore = asyncio.Semaphore(env.max_concurrent_downloads)
    if read_only:
        return
    env.saver = DebouncedSaver(lambda snapshot: state.save(_persistable(snapshot)))
    env.disposers.append(on_snapshot(store, env.saver.schedule))
    env.saver.schedule(store.snapshot())


def _persistable(snapshot: Any) -> dict[str, Any]:
    return dict(snapshot)
