"""Download, cancel, delete: long operations written as async functions calling small actions.

An exception inside an action rolls it back, so every error state is committed
by its own action before the exception leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from reactivex.subject import Subject

from llmstore._download import download_file, open_session
from llmstore._files import model_path, remove_file_in_dir
from llmstore._gguf import verify_gguf
from llmstore._lock import LockBusyError, hold_lock, lock_path
from llmstore.errors import (
    DownloadCancelledError,
    LLMStoreError,
    ModelBusyError,
    UnknownModelError,
    VerificationError,
)
from llmstore.progress import ProgressEvent, ProgressTracker
from llmstore.types import ModelStatus
from mstlite import get_env

if TYPE_CHECKING:
    from llmstore._env import StoreEnv
    from llmstore.catalog import ModelFile
    from llmstore.store import LLMStore
    from llmstore.types import ModelInfo
    from llmstore.views import ErrorOperation

__all__ = ["cancel_model_download", "delete_model", "start_model_download"]


async def start_model_download(store: LLMStore, key: str) -> None:
    """Download, verify and select (if none is) the model ``key``.

    A second call for the same key joins the running download. Raises
    ``UnknownModelError``, ``DownloadCancelledError`` when cancelled, or the
    download's ``LLMStoreError`` after the ``error`` status is committed.
    """
    env: StoreEnv = get_env(store)
    _require_writable(store, f"download {key!r}")
    spec = env.catalog.get(key)
    if spec is None:
        raise UnknownModelError(
            f"unknown model {key!r}: not in the catalog ({', '.join(env.catalog)})"
        )
    task = env.tasks.get(key)
    joining = task is not None and not task.done()
    if not joining and _is_installed(store.model(key)):
        # Nothing to do; re-running the download would flip a ready (maybe
        # selected) model to downloading, and a cancel would leave it idle.
        return
    if task is None or task.done():
        task = asyncio.ensure_future(_download(store, key))
        env.tasks[key] = task
    try:
        # The starter's cancellation cancels the download; a joiner's leaves it running.
        await (asyncio.shield(task) if joining else task)
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise  # we were cancelled ourselves
        raise DownloadCancelledError(f"the download of {key!r} was cancelled") from None


async def _download(store: LLMStore, key: str) -> None:
    env: StoreEnv = get_env(store)
    spec = env.catalog[key]
    model = store.model(key)
    channel = _channel(env, key)
    model.set_status(ModelStatus.DOWNLOADING, progress=0.0)
    dest = model_path(env.models_dir, spec.filename)
    files = [(file, model_path(env.models_dir, file.filename)) for file in spec.files]
    tracker = ProgressTracker(key, spec.total_size, clock=env.clock)
    offset = 0  # bytes of the parts (of a split model) already in place

    def on_stall(seconds: float) -> None:
        # Called by the stall watch about once a second while no byte arrives.
        channel.on_next(tracker.stalled(seconds))

    def on_progress(done: int, total: int | None) -> None:
        # Called per chunk: cheap, and throttled to ~10 events (and actions) a second.
        # A split model's parts make one stream: offset by the parts before this one.
        done += offset
        if spec.parts:
            total = spec.total_size or (None if total is None else offset + total)
        event = tracker.update(done, total=total)
        if tracker.should_emit(event):
            channel.on_next(event)
            model.set_progress(event.percent)
        if total is not None and done >= total and model.status is ModelStatus.DOWNLOADING:
            # Every byte is in: the downloader now verifies the file.
            model.set_status(ModelStatus.INITIALIZING, progress=100.0)

    installed = False
    try:
        assert env.semaphore is not None
        async with env.semaphore, _model_lock(env, dest):
            if env.session is None:
                env.session = open_session()
            verify = verify_gguf if dest.suffix == ".gguf" else None
            try:
                for file, file_dest in files:
                    if await asyncio.to_thread(
                        _already_installed, file_dest, file, spec.min_size_bytes, verify
                    ):
                        # Another process finished this file while we waited for its lock
                        # (or an earlier pull of a split model got this part).
                        size = file_dest.stat().st_size
                        on_progress(size, size)
                    else:
                        await download_file(
                            env.session,
                            file.url,
                            file_dest,
                            expected_size=file.size_bytes,
                            sha256=file.sha256,
                            min_size=spec.min_size_bytes,
                            on_progress=on_progress,
                            on_stall=on_stall,
                            token=env.token if spec.auth == "hf" else None,
                            token_withheld=env.token is not None and spec.auth != "hf",
                            verify=verify,
                            stall_timeout=env.stall_timeout,
                            connections=env.connections,
                        )
                    offset += file_dest.stat().st_size
            except asyncio.CancelledError:
                # A cancelled split model leaves nothing, as a cancelled file does:
                # its parts already verified go too (under the lock, so no other
                # process is using them).
                for _, file_dest in files if spec.parts else ():
                    with contextlib.suppress(OSError):
                        remove_file_in_dir(env.models_dir, file_dest)
                raise
            installed = True
            model.set_status(ModelStatus.INITIALIZING, progress=100.0)
            if env.loader is not None:
                await env.loader(dest)
        size = _installed_size(files)
        channel.on_next(tracker.update(size, total=size, done=True))
        store.finish_download(key, str(dest), size)
        _succeeded(store, ("download", "verify"), key)
        channel.on_completed()
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            for _, file_dest in files:
                remove_file_in_dir(env.models_dir, file_dest.with_name(file_dest.name + ".part"))
                remove_file_in_dir(
                    env.models_dir, file_dest.with_name(file_dest.name + ".part.json")
                )
        if installed:
            # Cancelled in the loader hook: the verified file is in place, and the
            # state says what the disk says (as the next initialize would).
            store.finish_download(key, str(dest), _installed_size(files))
        else:
            model.set_status(ModelStatus.IDLE)
        channel.on_error(DownloadCancelledError(f"download of {key!r} was cancelled"))
        raise
    except Exception as error:
        message = _describe(key, error)
        model.set_status(ModelStatus.ERROR, error=message)
        operation: ErrorOperation = "verify" if isinstance(error, VerificationError) else "download"
        store.set_error(message, operation=operation, key=key)
        failure = error if isinstance(error, LLMStoreError) else LLMStoreError(message)
        channel.on_error(failure)
        if failure is error:
            raise
        raise failure from error
    finally:
        env.channels.pop(key, None)
        if env.tasks.get(key) is asyncio.current_task():
            env.tasks.pop(key, None)


def _installed_size(files: list[tuple[ModelFile, Path]]) -> int:
    return sum(file_dest.stat().st_size for _, file_dest in files)


@contextlib.asynccontextmanager
async def _model_lock(env: StoreEnv, dest: Path) -> AsyncIterator[None]:
    """Hold ``<file>.lock`` so two processes never download the same file at once."""
    try:
        async with hold_lock(lock_path(dest), wait=env.wait_for_lock):
            yield
    except LockBusyError:
        raise ModelBusyError(
            f"{dest.name} is being downloaded by another process; wait for it or try again"
        ) from None


def _already_installed(
    dest: Path, file: ModelFile, min_size: int, verify: Callable[[Path], None] | None
) -> bool:
    """True when ``dest`` is already a complete, verified copy of ``file``."""
    try:
        size = os.lstat(dest).st_size
    except OSError:
        return False
    if size < min_size or file.size_bytes not in (None, size):
        return False
    try:
        if file.sha256 is not None and sha256_file(dest) != file.sha256:
            return False
        if verify is not None:
            verify(dest)
    except (OSError, LLMStoreError):
        return False
    return True


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _describe(key: str, error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"download of {key!r} failed: {text}"


def _channel(env: StoreEnv, key: str) -> Subject[ProgressEvent]:
    channel = env.channels.get(key)
    if channel is None:
        channel = env.channels[key] = Subject()
    return channel


async def cancel_model_download(store: LLMStore, key: str) -> None:
    """Stop the download of ``key``; its temporary file is deleted and status is idle."""
    env: StoreEnv = get_env(store)
    store.model(key)  # UnknownModelError for an unknown key
    task = env.tasks.get(key)
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, LLMStoreError):
        await task


async def delete_model(store: LLMStore, key: str, *, keep_entry: bool = False) -> None:
    """Remove the model's files (cancelling its download first) and clear the selection.

    A model added from the Hub also leaves the catalog, unless ``keep_entry``.
    Raises ``LLMStoreError`` when a file cannot be removed, after
    ``store.error`` is set.
    """
    env: StoreEnv = get_env(store)
    model = store.model(key)
    _require_writable(store, f"delete {key!r}")
    await cancel_model_download(store, key)
    spec = env.catalog.get(key)
    paths = [Path(model.path)] if model.path is not None else []
    if spec is not None and spec.parts:
        # Every part, also those a failed pull of a split model left verified.
        paths = [model_path(env.models_dir, file.filename) for file in spec.files]
    for path in paths:
        try:
            await asyncio.to_thread(remove_file_in_dir, env.models_dir, path)
        except (OSError, LLMStoreError) as error:
            if isinstance(error, OSError):
                message = (
                    f"cannot delete {key!r} ({path}): {error.strerror or error}; check the "
                    f"permissions of {env.models_dir} and delete it again"
                )
            else:
                message = f"cannot delete {key!r}: {error}"
            store.set_error(message, operation="delete", key=key)
            raise LLMStoreError(message) from error
    if key in env.added and not keep_entry:
        store.remove_entry(key)
        env.catalog.pop(key, None)
        env.added.discard(key)
    else:
        store.forget_file(key)
    _succeeded(store, ("delete",), key)


def _succeeded(store: LLMStore, operations: tuple[ErrorOperation, ...], key: str) -> None:
    """Clear ``store.error`` when it reports one of ``operations`` failing on ``key``."""
    if store.error is not None and store.error_operation in operations and store.error_key == key:
        store.clear_error()


def _is_installed(model: ModelInfo) -> bool:
    """True when ``model`` is ready and its file is still a regular file on disk."""
    if model.status is not ModelStatus.READY or model.path is None:
        return False
    try:
        return stat.S_ISREG(os.lstat(model.path).st_mode)
    except OSError:
        return False


def _require_writable(store: LLMStore, what: str) -> None:
    if not store.is_initialized:
        raise LLMStoreError("the store is not initialized: await store.initialize() first")
    if get_env(store).read_only:
        raise LLMStoreError(
            f"cannot {what}: the store was opened read-only; create it without read_only=True"
        )
