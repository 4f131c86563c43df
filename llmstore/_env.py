"""What the store gets from outside, through the tree's env: dirs, catalog, HTTP, clock."""

from __future__ import annotations

import asyncio
import math
import os
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

from llmstore.errors import ConfigError

__all__ = ["DEFAULT_STALL_TIMEOUT", "STALL_TIMEOUT_VARIABLE", "StoreEnv", "resolve_stall_timeout"]

STALL_TIMEOUT_VARIABLE = "LLMSTORE_STALL_TIMEOUT"
DEFAULT_STALL_TIMEOUT = 20.0


def resolve_stall_timeout(value: float | None) -> float:
    """``value``, else ``$LLMSTORE_STALL_TIMEOUT``, else 20 seconds; ``ConfigError`` if unusable."""
    origin = "stall_timeout"
    if value is None:
        text = os.environ.get(STALL_TIMEOUT_VARIABLE, "").strip()
        if not text:
            return DEFAULT_STALL_TIMEOUT
        origin = f"${STALL_TIMEOUT_VARIABLE}"
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(
                f"{origin} must be a number of seconds like 20 (got {text!r}); fix or unset it"
            ) from None
    if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{origin} must be a positive number of seconds (got {value!r})")
    return float(value)


@dataclass(eq=False)
class StoreEnv:
    """Injected dependencies and the running store's resources (tasks, sessions)."""

    models_dir: Path
    #: the catalog, with the models added from the Hub (their keys are in ``added``)
    catalog: dict[str, ModelSpec]
    state_file: Path
    max_concurrent_downloads: int = 2
    token: str | None = None
    #: seconds without a byte before a connection is dropped and the download resumed
    stall_timeout: float = DEFAULT_STALL_TIMEOUT
    #: connections per download (pieces in parallel when the server does Range); 1: one
    #: stream; None: one stream, split over up to 4 when it leaves the machine idle
    connections: int | None = 4
    #: never write: no models dir created, no state saved, no downloads or deletions
    read_only: bool = False
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
