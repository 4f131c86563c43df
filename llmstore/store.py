"""The LLM store: state, views and actions, and ``create_llm_store_default_model``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import reactivex
from reactivex import Observable

from llmstore._env import StoreEnv, resolve_stall_timeout
from llmstore._files import resolve_models_dir
from llmstore.actions import add_model as _add_model
from llmstore.actions import initialize as _initialize
from llmstore.actions import model_management as _management
from llmstore.catalog import DEFAULT_CATALOG, ModelSpec, resolve_endpoint, with_endpoint
from llmstore.errors import ConfigError, LLMStoreError, UnknownModelError
from llmstore.progress import ProgressEvent
from llmstore.types import ModelInfo, ModelStatus
from llmstore.views import ErrorOperation, StoreState
from mstlite import action, get_env, get_snapshot

__all__ = ["LLMStore", "create_llm_store_default_model"]

STATE_FILE_NAME = "llmstore-state.json"


class LLMStore(StoreState):
    """Manages local language-model files: catalog, download, cancel, delete, select.

    Create it with ``create_llm_store_default_model()``; use it as an async
    context manager (or call ``aclose()``) so downloads stop and state is saved.
    """

    # ------------------------------------------------------------ async API
    async def initialize(self) -> None:
        """Scan the models dir, restore the persisted selection, start persisting."""
        await _initialize.initialize(self)

    async def add_model(self, name: str) -> str:
        """Add a model from Hugging Face by name; return its key for the other methods.

        ``name`` is ``hf.co/OWNER/REPO:QUANT``, ``OWNER/REPO:QUANT`` or
        ``OWNER/REPO/FILE.gguf`` (``hf.co/`` or ``huggingface.co/`` in front
        or not). The repo's files, sizes and SHA-256 come from the Hub API
        (``$HF_ENDPOINT`` or the store's endpoint; ``$HF_TOKEN`` or the
        store's token); the entry is kept in the persisted state, so
        ``start_model_download(key)``, ``delete_model`` and a restart know it.
        A name (or key) already known gives its key without asking the Hub.
        Raises ``HubNameError`` (an ``UnknownModelError``) when the name is
        bad or matches no single GGUF model (the message lists the repo's),
        ``HubError`` when the Hub cannot be asked (offline mode included).
        """
        return await _add_model.add_model(self, name)

    async def start_model_download(self, key: str) -> None:
        """Download and verify ``key``; raises on failure after the error state commits.

        A model added from the Hub is refused (``HubError``) in offline mode
        (``$HF_HUB_OFFLINE``) unless it is already downloaded.
        """
        _add_model.check_offline(self, key)
        await _management.start_model_download(self, key)

    async def cancel_model_download(self, key: str) -> None:
        """Cancel the download of ``key`` (no-op if none runs)."""
        await _management.cancel_model_download(self, key)

    async def delete_model(self, key: str, *, keep_entry: bool = False) -> None:
        """Delete the files of ``key`` (cancelling its download first).

        A model added with ``add_model`` is removed from the store too, unless
        ``keep_entry`` (then it stays, idle, ready to be downloaded again).
        """
        await _management.delete_model(self, key, keep_entry=keep_entry)

    def set_app_state(self, state: Literal["active", "background"]) -> None:
        """``background`` cancels every running download, as the mobile app does."""
        if state not in ("active", "background"):
            raise ValueError(f"app state must be 'active' or 'background', not {state!r}")
        if state == "background":
            for task in list(self.env.tasks.values()):
                task.cancel()

    def progress(self, key: str) -> Observable[ProgressEvent]:
        """Progress events of the running (or next) download of ``key``.

        At most ~10 a second plus the final one; completes when the download
        ends and errors when it fails or is cancelled.
        """
        self.model(key)
        env = self.env
        from llmstore.actions.model_management import _channel

        return reactivex.defer(lambda _scheduler: _channel(env, key))

    async def aclose(self) -> None:
        """Cancel downloads, save the state now, close the HTTP session."""
        env = self.env
        tasks = [t for t in env.tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for dispose in env.disposers:
            dispose()
        env.disposers.clear()
        if env.saver is not None:
            env.saver.schedule(self.snapshot())
            await env.saver.aclose()
        if env.session is not None and env.owns_session:
            await env.session.close()
            env.session = None

    async def __aenter__(self) -> LLMStore:
        await self.initialize()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -------------------------------------------------------------- helpers
    @property
    def env(self) -> StoreEnv:
        """The injected dependencies (models dir, catalog, session, ...)."""
        return get_env(self)  # type: ignore[no-any-return]

    @property
    def warnings(self) -> list[str]:
        """Problems found and worked around (e.g. a corrupt state file moved aside)."""
        return list(self.env.warnings)

    def snapshot(self) -> Any:
        """The store's snapshot (what is persisted)."""
        return get_snapshot(self)

    def model(self, key: str) -> ModelInfo:
        """The model ``key``; raises ``UnknownModelError`` (a ``KeyError``)."""
        found = self.find(key)
        if found is None:
            known = ", ".join(m.key for m in self.models) or "none"
            raise UnknownModelError(f"unknown model {key!r} (known: {known})")
        return found

    # -------------------------------------------------------------- actions
    @action
    def select_model(self, key: str | None) -> None:
        """Select a ready model, or clear the selection with None."""
        if key is not None:
            model = self.model(key)
            if model.status is not ModelStatus.READY:
                raise LLMStoreError(
                    f"cannot select {key!r}: it is {model.status.value}, not ready; "
                    "download it first"
                )
        self.selected_model_key = key

    @action
    def set_error(
        self,
        message: str | None,
        *,
        operation: ErrorOperation | None = None,
        key: str | None = None,
    ) -> None:
        """Record the store-level error and what failed (``operation`` on ``key``), or clear it."""
        self.error = message
        self.error_operation = operation if message is not None else None
        self.error_key = key if message is not None else None

    @action
    def clear_error(self) -> None:
        """Forget the store-level error; each model keeps its own ``error``."""
        self.set_error(None)

    @action
    def apply_scan(self, scan: Any, persisted: dict[str, Any]) -> None:
        """Build the model list from the catalog and the disk; the disk wins."""
        env = self.env
        state = persisted.get("state", persisted) if isinstance(persisted, dict) else {}
        models: list[dict[str, Any]] = []
        for spec in env.catalog.values():
            found = scan.complete.get(spec.key)
            models.append(_entry_snapshot(spec, found, added=spec.key in env.added))
        for key, path in scan.extra.items():
            models.append(
                {
                    "key": key,
                    "display_name": key,
                    "path": str(path),
                    "status": "ready",
                    "progress": 100.0,
                    "size_bytes": _size(path),
                    "local_only": True,
                }
            )
        self.models = models  # type: ignore[assignment]
        wanted = state.get("selected_model_key") if isinstance(state, dict) else None
        ready = [m["key"] for m in models if m["status"] == "ready"]
        if wanted in ready:
            self.selected_model_key = wanted
        elif self.selected_model_key not in ready:
            self.selected_model_key = ready[0] if ready else None
        self._restore_error(state if isinstance(state, dict) else {})
        self.is_initialized = True

    def _restore_error(self, state: dict[str, Any]) -> None:
        """Keep a persisted error about a model while it still describes the disk.

        A failed download or verification stays reported until that model is
        ready; a failed deletion until its file is gone. Initialize succeeded.
        """
        operation, key = state.get("error_operation"), state.get("error_key")
        model = self.find(key) if isinstance(key, str) else None
        message = state.get("error")
        stale = (
            model is None
            or not isinstance(message, str)
            or operation not in ("download", "verify", "delete")
            or (model.status is ModelStatus.READY) == (operation != "delete")
        )
        if stale:
            self.set_error(None)
        else:
            self.set_error(message, operation=operation, key=key)

    @action
    def finish_download(self, key: str, path: str, size: int) -> None:
        """Mark ``key`` ready at ``path``; select it when nothing is selected."""
        model = self.model(key)
        model.set_status(ModelStatus.READY, path=path)
        model.size_bytes = size
        if self.selected_model_key is None:
            self.selected_model_key = key

    @action
    def add_entry(self, spec: ModelSpec, path: str | None = None) -> None:
        """Add the model of ``spec`` (from the Hub), ready when ``path`` holds its files.

        A local-only model that is one of its files goes: it is this model now
        (and the selection follows it, when it was selected).
        """
        stems = {file.filename.removesuffix(".gguf") for file in spec.files}
        for model in [m for m in self.models if m.local_only and m.key in stems]:
            if self.selected_model_key == model.key:
                self.selected_model_key = spec.key if path is not None else None
            self.models.remove(model)
        self.models.append(_entry_snapshot(spec, path, added=True))  # type: ignore[arg-type]

    @action
    def remove_entry(self, key: str) -> None:
        """Drop ``key`` from the store (a model added from the Hub, after its files went)."""
        model = self.model(key)
        if self.selected_model_key == key:
            self.selected_model_key = None
        self.models.remove(model)

    @action
    def forget_file(self, key: str) -> None:
        """The file of ``key`` is gone: idle (or dropped, for a local-only model)."""
        model = self.model(key)
        if self.selected_model_key == key:
            self.selected_model_key = None
        if model.local_only:
            self.models.remove(model)
        else:
            model.set_status(ModelStatus.IDLE)


def _entry_snapshot(spec: ModelSpec, path: Any, *, added: bool) -> dict[str, Any]:
    """The ``ModelInfo`` snapshot of a catalog model, ready when ``path`` is given."""
    return {
        "key": spec.key,
        "display_name": spec.display_name,
        "path": str(path) if path is not None else None,
        "status": "ready" if path is not None else "idle",
        "progress": 100.0 if path is not None else 0.0,
        "size_bytes": spec.total_size,
        "spec": spec.model_dump(mode="json") if added else None,
    }


def _size(path: Any) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def create_llm_store_default_model(
    *,
    models_dir: str | os.PathLike[str] | None = None,
    catalog: Sequence[ModelSpec] | None = None,
    state_file: str | os.PathLike[str] | None = None,
    endpoint: str | None = None,
    max_concurrent_downloads: int = 2,
    token: str | None = None,
    stall_timeout: float | None = None,
    connections: int | None = 4,
    loader: Callable[[Path], Awaitable[None]] | None = None,
    wait_for_lock: bool = True,
    read_only: bool = False,
) -> LLMStore:
    """Create a store with the default catalog, the platformdirs cache dir and aiohttp.

    Every argument is optional: ``models_dir`` falls back to
    ``$LLMSTORE_MODELS_DIR`` then the user cache dir; ``endpoint`` (or
    ``$LLMSTORE_ENDPOINT``) rewrites catalog URLs for a Hugging Face mirror
    and is the Hub that ``add_model`` asks (else ``$HF_ENDPOINT``);
    ``token`` (or ``$HF_TOKEN``) is sent as a bearer token only to the URLs of
    catalog entries whose ``auth`` is ``"hf"`` (by default those on
    huggingface.co, and on the mirror once rewritten), never across a redirect
    to another host. A transfer with no byte for ``stall_timeout`` seconds
    (else ``$LLMSTORE_STALL_TIMEOUT``, else 20) is dropped and resumed.
    A file of known size is fetched in pieces over ``connections`` connections
    (4 by default) when the server supports Range (1: one stream; a server
    without Range gets one); ``None`` adapts: one stream, whose rest is split
    over up to 4 connections when that stream leaves the machine idle (a slow
    or capped link), the fastest choice on a fast link with a busy CPU.
    ``read_only`` never writes: no models dir is created, nothing is saved, and
    downloads and deletions raise. Raises ``ConfigError`` for unusable values.
    """
    if max_concurrent_downloads < 1:
        raise ConfigError("max_concurrent_downloads must be at least 1")
    timeout = resolve_stall_timeout(stall_timeout)
    if connections is not None and (
        isinstance(connections, bool)
        or not isinstance(connections, int)
        or not 1 <= connections <= 64
    ):
        raise ConfigError(f"connections must be a whole number from 1 to 64 (got {connections!r})")
    directory = resolve_models_dir(models_dir)
    specs = list(catalog if catalog is not None else DEFAULT_CATALOG)
    mirror = resolve_endpoint(endpoint)
    if mirror:
        specs = with_endpoint(specs, mirror)
    env = StoreEnv(
        models_dir=directory,
        catalog={spec.key: spec for spec in specs},
        state_file=Path(state_file) if state_file is not None else directory / STATE_FILE_NAME,
        max_concurrent_downloads=max_concurrent_downloads,
        token=token if token is not None else os.environ.get("HF_TOKEN") or None,
        stall_timeout=timeout,
        connections=connections,
        read_only=read_only,
        endpoint=mirror,
        loader=loader,
        wait_for_lock=wait_for_lock,
    )
    return LLMStore.create({}, env=env)
