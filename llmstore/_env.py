"""What the store gets from outside, through the tree's env: dirs, catalog, HTTP, clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp
    from reactivex.subject import Subject

    from llmstore._persist import DebouncedSaver, StateFile
    from llmstore.catalog import ModelSpec
    from llmstore.progress import ProgressEvent

__all__ = ["StoreEnv"]


@dataclass(eq=False)
class StoreEnv:
    """Injected dependencies and the running store's resources (tasks, sessions)."""

    models_dir: Path
    #: the catalog, with the models added from the Hub (their keys are in ``added``)
    catalog: dict[str, ModelSpec]
    state_file: Path
    max_concurrent_downloads: int = 2
    token: str | None = None
    #: the mirror configured for the Hugging Face host (None: ``$HF_ENDPOINT`` or the Hub)
    endpoint: str | None = None
    #: an optional async hook run on a verified file before the model is ready
    loader: Callable[[Path], Awaitable[None]] | None = None
    clock: Callable[[], float] = time.monotonic
    #: wait for another process holding the model's lock (else fail at once)
    wait_for_lock: bool = True
    session: aiohttp.ClientSession | None = None
    owns_session: bool = True
    tasks: dict[str, asyncio.Task[Any]] = field(default_factory=dict)
    channels: dict[str, Subject[ProgressEvent]] = field(default_factory=dict)
    semaphore: asyncio.Semaphore | None = None
    state: StateFile | None = None
    saver: DebouncedSaver[Any] | None = None
    disposers: list[Callable[[], None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: keys of the catalog entries added from the Hub (persisted in the state)
    added: set[str] = field(default_factory=set)
