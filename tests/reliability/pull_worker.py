"""Pull one model with a fresh store, in a child process of the reliability tests.

Usage: ``python pull_worker.py CONFIG``, CONFIG a JSON object:

- ``models_dir``, ``catalog`` (a list of ModelSpec objects), ``key``;
- ``wait_for_lock`` (default true);
- ``connections`` (default 1: one stream);
- ``gated``: announce ``waiting`` and start only after a line on stdin;
- ``loader_seconds``: run a loader hook that announces itself and sleeps;
- ``fsize_limit``: cap the size of any file this process writes
  (``RLIMIT_FSIZE``, with ``SIGXFSZ`` ignored so writes fail with EFBIG),
  set after the store is initialized;
- ``pause``: ``{"at": "fsync" | "replace", "kind": KIND, "nth": N}``: at the
  N-th ``os.fsync``/``os.replace`` of a file of KIND (``state``: a temporary
  state file; ``part``: the download's ``.part``; ``sidecar``: the sidecar's
  ``.tmp``; ``dir``: a directory; ``installed``: the models dir right after
  the ``.part`` was renamed onto the model's name), announce it and sleep
  until killed.

Prints one JSON object a line: ``{"event": "waiting"}`` (gated),
``{"event": "initialized"}``, ``{"event":
"pause", ...}``, ``{"event": "loader", ...}``, then ``{"event": "result",
...}`` with the model's final status and error, or the exception raised.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from llmstore import LLMStoreError, ModelSpec, create_llm_store_default_model

PAUSE_SECONDS = 600.0


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def kind_of(path: str) -> str:
    name = os.path.basename(path)
    if name.startswith(".llmstore-state.json."):
        return "state"
    if name.endswith(".part.json.tmp"):
        return "sidecar"
    if name.endswith(".part"):
        return "part"
    if os.path.isdir(path):
        return "dir"
    return "other"


def install_pause(at: str, kind: str, nth: int) -> None:
    """Make the ``nth`` fsync or replace of a ``kind`` file announce itself and hang.

    ``installed`` is the models dir's fsync right after the ``.part`` file was
    renamed onto the model's name (the rename is done, the bookkeeping not).
    """
    seen: Counter[str] = Counter()
    real_fsync, real_replace = os.fsync, os.replace
    real_fdatasync = getattr(os, "fdatasync", os.fsync)
    renamed: list[str] = []

    def hang(path: str) -> None:
        seen[kind] += 1
        if seen[kind] == nth:
            emit("pause", at=at, kind=kind, path=path)
            time.sleep(PAUSE_SECONDS)

    def pause_at_sync(fd: Any) -> None:
        if at == "fsync":
            number = fd if isinstance(fd, int) else fd.fileno()
            path = os.readlink(f"/proc/self/fd/{number}")
            found = kind_of(path)
            if found == "dir" and renamed and threading.current_thread() is threading.main_thread():
                found = "installed"
                renamed.clear()
            if found == kind:
                hang(path)

    def fsync(fd: Any) -> None:
        pause_at_sync(fd)
        real_fsync(fd)

    def fdatasync(fd: Any) -> None:  # what a download's final sync is
        pause_at_sync(fd)
        real_fdatasync(fd)

    def replace(src: Any, dst: Any, **options: Any) -> None:
        found = kind_of(os.fspath(src))
        if at == "replace" and found == kind:
            hang(os.fspath(src))
        real_replace(src, dst, **options)
        if found == "part":
            renamed.append(os.fspath(dst))

    os.fsync = fsync
    if hasattr(os, "fdatasync"):
        os.fdatasync = fdatasync
    os.replace = replace


async def main(config: dict[str, Any]) -> None:
    if config.get("gated"):
        # Python and the imports are slow to start: the test starts us early and
        # lets us go (a line on stdin) at the moment it wants.
        emit("waiting")
        await asyncio.to_thread(sys.stdin.readline)
    pause = config.get("pause")
    if pause:
        install_pause(pause["at"], pause["kind"], pause["nth"])
    loader_seconds = float(config.get("loader_seconds", 0.0))

    async def loader(path: Path) -> None:
        emit("loader", path=str(path))
        await asyncio.sleep(loader_seconds)

    store = create_llm_store_default_model(
        models_dir=config["models_dir"],
        catalog=[ModelSpec.model_validate(spec) for spec in config["catalog"]],
        wait_for_lock=config.get("wait_for_lock", True),
        loader=loader if loader_seconds else None,
        # One stream unless told: the request counts of most tests are the single
        # stream's (the crash matrix runs both).
        connections=int(config.get("connections", 1)),
    )
    key = config["key"]
    result: dict[str, Any] = {}
    try:
        await store.initialize()
        emit("initialized")
        limit = config.get("fsize_limit")
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        try:
            await store.start_model_download(key)
        except LLMStoreError as error:
            result.update(exception=type(error).__name__, message=str(error))
        model = store.model(key)
        result.update(status=model.status.value, error=model.error, path=model.path)
        result.update(warnings=store.warnings, store_error=store.error)
    finally:
        await store.aclose()
    result["listing"] = sorted(os.listdir(config["models_dir"]))
    emit("result", **result)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
