"""The LLM store end to end: a real loopback server, real files, real asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import os
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from llmstore import (
    AuthenticationRequiredError,
    DownloadCancelledError,
    HTTPStatusError,
    LLMStore,
    LLMStoreError,
    ModelSpec,
    ModelStatus,
    ProgressEvent,
    UnknownModelError,
    VerificationError,
    create_llm_store_default_model,
)
from llmstore._gguf import write_gguf_file
from llmstore._partial import PartialState, write_sidecar
from llmstore.store import STATE_FILE_NAME
from llmstore.testing import Fault, ModelServer
from mstlite import ProtectionError, on_patch

T = TypeVar("T")

MB = 1024 * 1024
TEMP_SUFFIXES = (".part", ".part.json", ".part.json.tmp", ".lock")


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # The factory reads these; a developer's shell must not change what is tested.
    for name in ("HF_TOKEN", "LLMSTORE_ENDPOINT", "LLMSTORE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class Served:
    """A GGUF model file the loopback server serves, under a catalog key."""

    key: str
    filename: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def spec(self, server: ModelServer, **overrides: Any) -> ModelSpec:
        fields: dict[str, Any] = {
            "key": self.key,
            "display_name": f"Model {self.key}",
            "url": server.url_for(self.filename),
            "filename": self.filename,
            "size_bytes": self.size,
            "sha256": self.sha256,
            "min_size_bytes": 1024,
        }
        fields.update(overrides)
        return ModelSpec(**fields)


def make_model(directory: Path, key: str, *, size: int = 2 * MB + 4321, seed: int = 0) -> Served:
    filename = f"{key}.gguf"
    path = write_gguf_file(directory / filename, size_bytes=size, seed=seed)
    return Served(key, filename, path.read_bytes())


def run(served_dir: Path, body: Callable[[ModelServer], Awaitable[T]], **server: Any) -> T:
    """Run ``body(server)`` in a fresh event loop with a loopback server, closed after."""

    async def main() -> T:
        async with ModelServer(served_dir, **server) as model_server:
            return await body(model_server)

    return asyncio.run(main())


@contextlib.asynccontextmanager
async def opened(
    models_dir: Path, catalog: list[ModelSpec], **options: Any
) -> AsyncIterator[LLMStore]:
    """An initialized store, closed (downloads cancelled, state saved) on the way out."""
    store = create_llm_store_default_model(models_dir=models_dir, catalog=catalog, **options)
    try:
        await store.initialize()
        yield store
    finally:
        await store.aclose()


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def temp_files(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(TEMP_SUFFIXES))


def saved_state(models_dir: Path) -> Any:
    document = json.loads((models_dir / STATE_FILE_NAME).read_text(encoding="utf-8"))
    assert (document["format"], document["version"]) == ("llmstore-state", 1)
    return document["state"]


def saved_state_is(models_dir: Path, snapshot: Any) -> bool:
    try:
        return bool(saved_state(models_dir) == snapshot)
    except FileNotFoundError:
        return False


def status_patches(patches: list[dict[str, Any]], index: int = 0) -> list[str]:
    path = f"/models/{index}/status"
    return [patch["value"] for patch in patches if patch["path"] == path]


class Progress:
    """Everything a subscriber to ``store.progress(key)`` receives."""

    def __init__(self, store: LLMStore, key: str) -> None:
        self.events: list[ProgressEvent] = []
        self.errors: list[BaseException] = []
        self.completed = False
        self.subscription = store.progress(key).subscribe(
            on_next=self.events.append,
            on_error=self.errors.append,
            on_completed=self._complete,
        )

    def _complete(self) -> None:
        self.completed = True


# ----------------------------------------------------------------- initialize


def test_initialize_creates_the_models_dir(tmp_path: Path) -> None:
    models_dir = tmp_path / "deep" / "er" / "models"

    async def body() -> None:
        store = create_llm_store_default_model(models_dir=models_dir, catalog=[])
        assert not store.is_initialized
        with pytest.raises(LLMStoreError, match="not initialized"):
            await store.start_model_download("anything")
        async with store:
            assert store.is_initialized
            assert models_dir.is_dir()
            assert store.snapshot() == {
                "is_initialized": True,
                "error": None,
                "error_operation": None,
                "error_key": None,
                "models": [],
                "selected_model_key": None,
            }
            await store.initialize()  # idempotent
            assert store.is_initialized

    asyncio.run(body())


def test_initialize_finds_catalog_files_and_extra_gguf_files(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)
    (models_dir / a.filename).write_bytes(a.data)
    write_gguf_file(models_dir / "my-local.gguf", size_bytes=64 * 1024, seed=3)
    (models_dir / "error-page.gguf").write_text("<html>" + "x" * 2000, encoding="utf-8")
    (models_dir / "notes.txt").write_text("not a model", encoding="utf-8")

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server), b.spec(server)]) as store:
            assert [m.key for m in store.models] == ["a", "b", "my-local"]
            assert store.model("a").status is ModelStatus.READY
            assert store.model("a").path == str(models_dir / a.filename)
            assert store.model("a").progress == 100.0
            assert store.model("b").status is ModelStatus.IDLE
            assert store.model("b").path is None
            local = store.model("my-local")
            assert (local.status, local.local_only) == (ModelStatus.READY, True)
            assert local.path == str(models_dir / "my-local.gguf")
            # No selection was persisted: a ready model is selected.
            assert store.selected_model_key == "a"
            assert store.selected_model is store.model("a")
            assert store.has_ready_model
            assert any("error-page.gguf" in warning for warning in store.warnings)
        assert (models_dir / "notes.txt").exists()
        assert (models_dir / "error-page.gguf").exists()  # reported, never deleted

    run(served_dir, body)


def test_disk_wins_over_the_persisted_state(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)

    async def body(server: ModelServer) -> None:
        catalog = [a.spec(server), b.spec(server)]
        async with opened(models_dir, catalog) as store:
            await store.start_model_download("a")
            assert store.selected_model_key == "a"
        assert saved_state(models_dir)["models"][0]["status"] == "ready"
        os.unlink(models_dir / a.filename)
        (models_dir / b.filename).write_bytes(b.data)  # appeared behind our back
        async with opened(models_dir, catalog) as store:
            assert store.model("a").status is ModelStatus.IDLE
            assert store.model("a").path is None
            assert store.model("b").status is ModelStatus.READY
            assert store.selected_model_key == "b"

    run(served_dir, body)


def test_persisted_selection_is_restored(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)

    async def body(server: ModelServer) -> None:
        catalog = [a.spec(server), b.spec(server)]
        async with opened(models_dir, catalog) as store:
            await store.start_model_download("a")
            await store.start_model_download("b")
            store.select_model("b")  # not the one a fresh scan would pick
            before = store.snapshot()
        assert saved_state(models_dir) == before
        async with opened(models_dir, catalog) as store:
            assert store.selected_model_key == "b"
            assert store.snapshot() == before

    run(served_dir, body)


def test_interrupted_download_is_kept_and_resumed_with_range(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", size=3 * MB + 17, seed=1)
    kept = 1_234_567

    async def body(server: ModelServer) -> None:
        # What a crashed process leaves: the .part and its sidecar.
        stat = (served_dir / a.filename).stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'  # the server's ETag
        (models_dir / (a.filename + ".part")).write_bytes(a.data[:kept])
        write_sidecar(
            models_dir / (a.filename + ".part.json"),
            PartialState(url=server.url_for(a.filename), etag=etag, total=a.size),
        )
        async with opened(models_dir, [a.spec(server)]) as store:
            assert temp_files(models_dir) == [a.filename + ".part", a.filename + ".part.json"]
            assert store.model("a").status is ModelStatus.IDLE
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY
        (request,) = server.requests
        assert request.range == f"bytes={kept}-"
        assert request.headers["If-Range"] == etag
        assert (request.status, request.content_length) == (206, a.size - kept)

    run(served_dir, body)
    assert (models_dir / a.filename).read_bytes() == a.data
    assert temp_files(models_dir) == []


def test_stale_temporary_files_are_deleted(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)
    c = make_model(served_dir, "c", seed=3)
    stale = [
        "a.gguf.part",  # no sidecar: nothing says where its bytes came from
        "b.gguf.part",  # its sidecar names another URL
        "b.gguf.part.json",
        "c.gguf.part.json",  # a sidecar without its .part
        "orphan.gguf.part",  # not in the catalog
        "a.gguf.lock",  # a lock nobody holds
        f".{STATE_FILE_NAME}.x1y2.tmp",  # an interrupted state save
    ]
    for name in stale:
        (models_dir / name).write_bytes(b"leftover")
    write_sidecar(models_dir / "b.gguf.part.json", PartialState(url="http://elsewhere/b.gguf"))
    write_sidecar(models_dir / "c.gguf.part.json", PartialState(url="http://x/c.gguf"))

    async def body(server: ModelServer) -> None:
        catalog = [a.spec(server), b.spec(server), c.spec(server)]
        async with opened(models_dir, catalog) as store:
            assert os.listdir(models_dir) == []  # the state file is saved a bit later
            assert [m.status for m in store.models] == [ModelStatus.IDLE] * 3
            assert store.selected_model_key is None

    run(served_dir, body)
    assert os.listdir(models_dir) == [STATE_FILE_NAME]


def test_corrupt_state_file_is_moved_aside_and_reported(models_dir: Path) -> None:
    state_file = models_dir / STATE_FILE_NAME
    state_file.write_text("{not json", encoding="utf-8")

    async def body() -> None:
        async with opened(models_dir, []) as store:
            assert store.is_initialized
            assert store.error is None
            (warning,) = store.warnings
            assert "not valid JSON" in warning and STATE_FILE_NAME in warning

    asyncio.run(body())
    (aside,) = models_dir.glob(f"{STATE_FILE_NAME}.corrupt-*")
    assert aside.read_text(encoding="utf-8") == "{not json"
    assert saved_state(models_dir)["is_initialized"] is True


def test_state_file_of_another_format_is_moved_aside(models_dir: Path) -> None:
    (models_dir / STATE_FILE_NAME).write_text('{"selected": "a"}', encoding="utf-8")

    async def body() -> None:
        async with opened(models_dir, []) as store:
            (warning,) = store.warnings
            assert "not an llmstore state file" in warning

    asyncio.run(body())
    assert len(list(models_dir.glob(f"{STATE_FILE_NAME}.corrupt-*"))) == 1


# ------------------------------------------------------------------- download


def test_download_goes_downloading_initializing_ready_and_selects(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server), b.spec(server)]) as store:
            patches: list[dict[str, Any]] = []
            snapshots: list[Any] = []
            on_patch(store, lambda patch, _inverse: patches.append(patch))
            server.throttle(a.filename, bytes_per_second=8 * MB)
            seen_part = False

            def look() -> None:
                nonlocal seen_part
                seen_part = seen_part or (models_dir / (a.filename + ".part")).exists()

            task = asyncio.ensure_future(store.start_model_download("a"))
            await wait_until(lambda: store.model("a").status is ModelStatus.DOWNLOADING)
            assert store.downloading_model is store.model("a")
            assert store.downloading_models == [store.model("a")]
            while not task.done():
                look()
                snapshots.append(store.snapshot())
                await asyncio.sleep(0.01)
            await task
            assert seen_part
            assert status_patches(patches) == ["downloading", "initializing", "ready"]
            progress = [p["value"] for p in patches if p["path"] == "/models/0/progress"]
            assert progress == sorted(progress) and progress[-1] == 100.0
            assert any(0 < s["models"][0]["progress"] < 100 for s in snapshots)
            model = store.model("a")
            assert (model.status, model.progress, model.error) == (ModelStatus.READY, 100.0, None)
            assert model.path == str(models_dir / a.filename)
            assert store.downloading_model is None
            assert store.selected_model_key == "a"
            # A second ready model does not steal the selection.
            await store.start_model_download("b")
            assert store.selected_model_key == "a"
        assert (models_dir / a.filename).read_bytes() == a.data
        assert (models_dir / b.filename).read_bytes() == b.data
        assert temp_files(models_dir) == []

    run(served_dir, body)


def test_progress_is_observable_and_throttled(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", size=2 * MB, seed=1)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            server.throttle(a.filename, bytes_per_second=2 * MB)  # about one second
            progress = Progress(store, "a")
            started = time.monotonic()
            await store.start_model_download("a")
            elapsed = time.monotonic() - started
            events = progress.events
            assert 0.8 < elapsed < 5
            assert progress.completed and not progress.errors
            # ~10 a second at most, plus the first and the final one.
            assert 5 <= len(events) <= elapsed * 10 + 3
            assert [e.bytes_done for e in events] == sorted(e.bytes_done for e in events)
            assert all(e.key == "a" and e.total == a.size for e in events)
            middle = [e for e in events if 0 < e.bytes_done < a.size]
            assert middle and all(0 < e.percent < 100 for e in middle)
            moving = [e for e in middle if e.bytes_per_second > 0]
            assert moving
            assert all(e.eta_seconds is not None and e.eta_seconds >= 0 for e in moving)
            speed = moving[-1].bytes_per_second
            assert MB < speed < 4 * MB  # the throttle's 2 MB/s, roughly
            final = events[-1]
            assert (final.bytes_done, final.percent, final.done, final.eta_seconds) == (
                a.size,
                100.0,
                True,
                0.0,
            )
            assert not any(e.done for e in events[:-1])

    run(served_dir, body)


def test_resume_after_dropped_connection(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", size=3 * MB, seed=1)

    async def body(server: ModelServer) -> None:
        server.add_fault(a.filename, Fault(drop_after=1_000_000))
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY
        first, second = server.requests
        assert (first.status, first.range, first.bytes_sent) == (200, None, 1_000_000)
        assert second.range is not None and second.status == 206
        resumed_at = int(second.range.removeprefix("bytes=").removesuffix("-"))
        assert 0 < resumed_at <= 1_000_000

    run(served_dir, body)
    assert (models_dir / a.filename).read_bytes() == a.data
    assert temp_files(models_dir) == []


def test_server_error_is_retried_then_succeeds(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        server.add_fault(a.filename, Fault(status=500))
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY
            assert store.model("a").error is None
        assert [r.status for r in server.requests] == [500, 200]

    run(served_dir, body)
    assert (models_dir / a.filename).read_bytes() == a.data


@pytest.mark.parametrize(
    ("status", "error_type", "hint"),
    [(404, HTTPStatusError, "check the URL"), (401, AuthenticationRequiredError, "HF_TOKEN")],
)
def test_http_error_commits_error_state_before_raising(
    served_dir: Path, models_dir: Path, status: int, error_type: type[Exception], hint: str
) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        server.add_fault(a.filename, Fault(status=status))
        async with opened(models_dir, [a.spec(server)]) as store:
            patches: list[dict[str, Any]] = []
            on_patch(store, lambda patch, _inverse: patches.append(patch))
            progress = Progress(store, "a")
            with pytest.raises(error_type) as caught:
                await store.start_model_download("a")
            # Committed (and told to listeners) before the exception arrived here.
            model = store.model("a")
            assert model.status is ModelStatus.ERROR
            assert status_patches(patches) == ["downloading", "error"]
            assert isinstance(caught.value, LLMStoreError)
            assert caught.value.status == status  # type: ignore[attr-defined]
            message = str(caught.value)
            assert str(status) in message and hint in message
            assert model.error is not None and message in model.error
            assert "'a'" in model.error
            assert model.path is None
            assert store.selected_model_key is None
            assert progress.errors == [caught.value] and not progress.completed
            assert temp_files(models_dir) == []
            assert not (models_dir / a.filename).exists()
        assert len(server.requests) == 1  # not retried
        assert saved_state(models_dir)["models"][0]["status"] == "error"

    run(served_dir, body)


def test_missing_file_on_server_is_a_404(served_dir: Path, models_dir: Path) -> None:
    async def body(server: ModelServer) -> None:
        spec = ModelSpec(
            key="gone",
            display_name="Gone",
            url=server.url_for("gone.gguf"),
            filename="gone.gguf",
            min_size_bytes=1024,
        )
        async with opened(models_dir, [spec]) as store:
            with pytest.raises(HTTPStatusError, match="404"):
                await store.start_model_download("gone")
            assert store.model("gone").status is ModelStatus.ERROR
            # A later attempt starts over from the error state.
            with pytest.raises(HTTPStatusError):
                await store.start_model_download("gone")
        assert temp_files(models_dir) == []

    run(served_dir, body)


def test_token_is_sent_to_a_server_that_needs_one(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        spec = a.spec(server, auth="hf")  # a loopback URL gets the token only when told
        async with opened(models_dir, [spec], token="s3cret") as store:
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY
        assert server.requests[0].headers["Authorization"] == "Bearer s3cret"

    run(served_dir, body, token="s3cret")


def test_server_ignoring_range_restarts_from_zero(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", size=3 * MB, seed=1)

    async def body(server: ModelServer) -> None:
        server.add_fault(a.filename, Fault(drop_after=1_000_000))
        server.add_fault(a.filename, Fault(ignore_range=True))
        async with opened(models_dir, [a.spec(server)]) as store:
            progress = Progress(store, "a")
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY
            assert progress.completed and progress.events[-1].bytes_done == a.size
        first, second = server.requests
        assert first.range is None and first.bytes_sent == 1_000_000
        assert second.range is not None  # asked to resume ...
        assert second.status == 200 and second.bytes_sent == a.size  # ... got everything

    run(served_dir, body)
    assert (models_dir / a.filename).read_bytes() == a.data
    assert temp_files(models_dir) == []


def test_truncated_body_is_resumed(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        # Announces more than it sends, then hangs up.
        server.add_fault(a.filename, Fault(extra_length=5000))
        async with opened(models_dir, [a.spec(server, size_bytes=None)]) as store:
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY
            assert store.model("a").size_bytes == a.size
        assert server.requests[0].content_length == a.size + 5000
        assert len(server.requests) >= 2

    run(served_dir, body)
    assert (models_dir / a.filename).read_bytes() == a.data


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"size_bytes": 2 * MB + 4321 + 100}, r"\(Content-Length\) but the catalog says"),
        ({"size_bytes": 2 * MB + 4321 - 100}, r"\(Content-Length\) but the catalog says"),
        ({"sha256": "0" * 64}, "SHA-256"),
        ({"size_bytes": None, "sha256": None, "min_size_bytes": 10 * MB}, "less than"),
    ],
    ids=["too-short", "too-long", "sha256", "below-minimum"],
)
def test_wrong_bytes_fail_verification_and_leave_nothing(
    served_dir: Path, models_dir: Path, overrides: dict[str, Any], match: str
) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server, **overrides)]) as store:
            with pytest.raises(VerificationError, match=match) as caught:
                await store.start_model_download("a")
            model = store.model("a")
            assert model.status is ModelStatus.ERROR
            assert model.error is not None and str(caught.value) in model.error
            assert model.path is None and store.selected_model_key is None

    run(served_dir, body)
    assert os.listdir(models_dir) == [STATE_FILE_NAME]


def test_html_page_named_gguf_is_rejected(served_dir: Path, models_dir: Path) -> None:
    page = "<!doctype html><html><body>" + "Sign in to continue. " * 200 + "</body></html>"
    (served_dir / "page.gguf").write_text(page, encoding="utf-8")

    async def body(server: ModelServer) -> None:
        spec = ModelSpec(
            key="page",
            display_name="Page",
            url=server.url_for("page.gguf"),
            filename="page.gguf",
            min_size_bytes=1024,
        )
        async with opened(models_dir, [spec]) as store:
            with pytest.raises(VerificationError, match="not a GGUF model file"):
                await store.start_model_download("page")
            assert store.model("page").status is ModelStatus.ERROR

    run(served_dir, body)
    assert os.listdir(models_dir) == [STATE_FILE_NAME]


def test_second_start_of_the_same_key_joins(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        server.throttle(a.filename, bytes_per_second=8 * MB)
        async with opened(models_dir, [a.spec(server)]) as store:
            first = asyncio.ensure_future(store.start_model_download("a"))
            await wait_until(lambda: len(server.requests) == 1)
            second = asyncio.ensure_future(store.start_model_download("a"))
            await asyncio.gather(first, second)  # both return once the one transfer is done
            assert store.model("a").status is ModelStatus.READY
        assert len(server.requests) == 1

    run(served_dir, body)


def test_max_concurrent_downloads_makes_the_next_key_wait(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)

    async def body(server: ModelServer) -> None:
        server.throttle(a.filename, bytes_per_second=4 * MB)  # about half a second
        catalog = [a.spec(server), b.spec(server)]
        async with opened(models_dir, catalog, max_concurrent_downloads=1) as store:
            first = asyncio.ensure_future(store.start_model_download("a"))
            await wait_until(lambda: len(server.requests) == 1)
            second = asyncio.ensure_future(store.start_model_download("b"))
            await asyncio.sleep(0.2)
            waiting = store.model("b")
            assert (waiting.status, waiting.progress) == (ModelStatus.DOWNLOADING, 0.0)
            assert server.requests_for(b.filename) == []
            assert not first.done()
            await asyncio.gather(first, second)
            assert [m.status for m in store.models] == [ModelStatus.READY] * 2
        assert [r.path for r in server.requests] == ["/a.gguf", "/b.gguf"]

    run(served_dir, body)


def test_unknown_key_raises_unknown_model_error(models_dir: Path) -> None:
    async def body() -> None:
        async with opened(models_dir, []) as store:
            calls: list[Callable[[], object]] = [
                lambda: store.model("nope"),
                lambda: store.select_model("nope"),
                lambda: store.progress("nope"),
            ]
            for call in calls:
                with pytest.raises(UnknownModelError, match="nope"):
                    call()
            for coroutine in (
                store.start_model_download,
                store.cancel_model_download,
                store.delete_model,
            ):
                with pytest.raises(UnknownModelError) as caught:
                    await coroutine("nope")
                assert isinstance(caught.value, KeyError)
                assert "nope" in str(caught.value)
            assert store.snapshot()["models"] == []

    asyncio.run(body())


def test_starting_a_ready_model_again_changes_nothing(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            before = store.snapshot()
            await store.start_model_download("a")
            assert store.snapshot() is before
            # Even a cancel right after the start leaves the model ready and selected.
            starter = asyncio.ensure_future(store.start_model_download("a"))
            for _ in range(3):
                await asyncio.sleep(0)
            await store.cancel_model_download("a")
            await starter
            assert store.snapshot() is before
        assert len(server.requests) == 1

    run(served_dir, body)


def test_cancelling_the_starter_cancels_the_download(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        server.throttle(a.filename, bytes_per_second=1 * MB)
        async with opened(models_dir, [a.spec(server)]) as store:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(store.start_model_download("a"), 0.3)
            assert store.model("a").status is ModelStatus.IDLE
            assert temp_files(models_dir) == []
            assert store.env.tasks == {}

    run(served_dir, body)


def test_cancel_during_the_loader_keeps_the_installed_file_ready(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", seed=3)
    loading = asyncio.Event()

    async def slow_loader(path: Path) -> None:
        loading.set()
        await asyncio.sleep(30)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)], loader=slow_loader) as store:
            starter = asyncio.ensure_future(store.start_model_download("a"))
            await loading.wait()
            assert store.model("a").status is ModelStatus.INITIALIZING
            await store.cancel_model_download("a")
            with pytest.raises(DownloadCancelledError):
                await starter
            # The verified file is installed: the state says what the disk says.
            model = store.model("a")
            assert model.status is ModelStatus.READY
            assert model.path == str(models_dir / a.filename)
            assert (models_dir / a.filename).read_bytes() == a.data
            assert temp_files(models_dir) == []

    run(served_dir, body)


def test_cancel_racing_a_failure_leaves_no_open_file(served_dir: Path, models_dir: Path) -> None:
    # The 404 and the cancel arrive together: the cancel lands while the
    # failed download closes its temporary file, which must still be closed.
    async def body(server: ModelServer) -> None:
        spec = ModelSpec(
            key="gone",
            display_name="Gone",
            url=server.url_for("gone.gguf"),
            filename="gone.gguf",
            min_size_bytes=1024,
        )
        async with opened(models_dir, [spec]) as store:

            async def one_round() -> None:
                count = len(server.requests)
                starter = asyncio.ensure_future(store.start_model_download("gone"))
                await wait_until(lambda: starter.done() or len(server.requests) > count)
                store.set_app_state("background")
                with pytest.raises((DownloadCancelledError, HTTPStatusError)) as caught:
                    await starter
                failed = isinstance(caught.value, HTTPStatusError)
                expected = ModelStatus.ERROR if failed else ModelStatus.IDLE
                assert store.model("gone").status is expected
                assert temp_files(models_dir) == []

            for _ in range(100):
                await one_round()

    gc.collect()  # what earlier tests left behind is not ours to report
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always", ResourceWarning)
        run(served_dir, body)
        gc.collect()
    assert [str(w.message) for w in caught_warnings] == []


# --------------------------------------------------------------------- cancel


def test_cancel_stops_within_a_chunk_and_leaves_nothing(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", size=4 * MB, seed=1)

    async def body(server: ModelServer) -> None:
        server.throttle(a.filename, bytes_per_second=1 * MB)
        async with opened(models_dir, [a.spec(server)]) as store:
            progress = Progress(store, "a")
            starter = asyncio.ensure_future(store.start_model_download("a"))
            await wait_until(lambda: any(e.bytes_done >= 300_000 for e in progress.events))
            assert (models_dir / (a.filename + ".part")).exists()
            started = time.monotonic()
            await store.cancel_model_download("a")
            assert time.monotonic() - started < 0.5
            sent_at_cancel = server.requests[0].bytes_sent
            with pytest.raises(DownloadCancelledError, match="'a'"):
                await starter
            model = store.model("a")
            assert (model.status, model.progress, model.path) == (ModelStatus.IDLE, 0.0, None)
            assert temp_files(models_dir) == []
            assert len(progress.errors) == 1
            assert isinstance(progress.errors[0], DownloadCancelledError)
            assert not progress.completed
            await asyncio.sleep(0.3)
            # The transfer stopped: the server sent at most about one more piece.
            assert server.requests[0].bytes_sent - sent_at_cancel <= 128 * 1024
            assert server.requests[0].bytes_sent < a.size
            await store.cancel_model_download("a")  # nothing runs: a no-op
            # A cancelled model can be downloaded again.
            server.clear_faults()
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY

    run(served_dir, body)
    assert (models_dir / a.filename).read_bytes() == a.data


def test_background_cancels_every_running_download(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)

    async def body(server: ModelServer) -> None:
        for model in (a, b):
            server.throttle(model.filename, bytes_per_second=1 * MB)
        async with opened(models_dir, [a.spec(server), b.spec(server)]) as store:
            store.set_app_state("active")  # nothing to do
            starters = [asyncio.ensure_future(store.start_model_download(k)) for k in "ab"]
            await wait_until(
                lambda: len(server.requests) == 2 and all(r.bytes_sent for r in server.requests)
            )
            store.set_app_state("background")
            results = await asyncio.gather(*starters, return_exceptions=True)
            assert all(isinstance(r, DownloadCancelledError) for r in results)
            assert [m.status for m in store.models] == [ModelStatus.IDLE] * 2
            assert store.downloading_model is None
            assert temp_files(models_dir) == []
            with pytest.raises(ValueError, match="background"):
                store.set_app_state("asleep")  # type: ignore[arg-type]

    run(served_dir, body)
    assert os.listdir(models_dir) == [STATE_FILE_NAME]


def test_aclose_cancels_downloads_saves_state_and_closes_the_session(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)
    (models_dir / b.filename).write_bytes(b.data)

    async def body(server: ModelServer) -> None:
        server.throttle(a.filename, bytes_per_second=1 * MB)
        store = create_llm_store_default_model(
            models_dir=models_dir, catalog=[a.spec(server), b.spec(server)]
        )
        await store.initialize()
        starter = asyncio.ensure_future(store.start_model_download("a"))
        await wait_until(lambda: bool(server.requests) and server.requests[0].bytes_sent > 0)
        session = store.env.session
        assert session is not None and not session.closed
        await store.aclose()
        assert session.closed and store.env.session is None
        with pytest.raises(DownloadCancelledError):
            await starter
        assert store.model("a").status is ModelStatus.IDLE
        assert saved_state(models_dir) == store.snapshot()
        assert saved_state(models_dir)["selected_model_key"] == "b"

    run(served_dir, body)
    assert sorted(os.listdir(models_dir)) == sorted([STATE_FILE_NAME, b.filename])


# --------------------------------------------------------------------- delete


def test_delete_removes_the_file_and_clears_the_selection(
    served_dir: Path, models_dir: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            assert store.selected_model_key == "a"
            await store.delete_model("a")
            model = store.model("a")
            assert (model.status, model.path, model.progress) == (ModelStatus.IDLE, None, 0.0)
            assert store.selected_model_key is None
            assert not store.has_ready_model
            assert not (models_dir / a.filename).exists()
            await store.delete_model("a")  # again: nothing to delete, still fine
            assert model.status is ModelStatus.IDLE

    run(served_dir, body)


def test_delete_while_downloading_cancels_first(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        server.throttle(a.filename, bytes_per_second=1 * MB)
        async with opened(models_dir, [a.spec(server)]) as store:
            starter = asyncio.ensure_future(store.start_model_download("a"))
            await wait_until(lambda: bool(server.requests) and server.requests[0].bytes_sent > 0)
            await store.delete_model("a")
            with pytest.raises(DownloadCancelledError):
                await starter
            assert store.model("a").status is ModelStatus.IDLE
            assert temp_files(models_dir) == []
            assert not (models_dir / a.filename).exists()

    run(served_dir, body)


def test_deleting_a_local_only_model_drops_it(models_dir: Path) -> None:
    write_gguf_file(models_dir / "mine.gguf", size_bytes=64 * 1024, seed=5)

    async def body() -> None:
        async with opened(models_dir, []) as store:
            assert store.selected_model_key == "mine"
            await store.delete_model("mine")
            assert store.models == []
            assert store.find("mine") is None
            assert store.selected_model_key is None
            with pytest.raises(UnknownModelError):
                store.model("mine")

    asyncio.run(body())
    assert os.listdir(models_dir) == [STATE_FILE_NAME]


def test_delete_removes_a_planted_symlink_not_its_target(
    served_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)
    outside = tmp_path / "precious.gguf"
    outside.write_bytes(a.data)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            dest = models_dir / a.filename
            os.unlink(dest)
            os.symlink(outside, dest)  # swapped behind the store's back
            await store.delete_model("a")
            assert not os.path.lexists(dest)
            assert store.model("a").status is ModelStatus.IDLE

    run(served_dir, body)
    assert outside.read_bytes() == a.data


def test_planted_symlink_is_not_a_model_and_a_download_replaces_it(
    served_dir: Path, models_dir: Path, tmp_path: Path
) -> None:
    a = make_model(served_dir, "a", seed=1)
    outside = tmp_path / "precious.gguf"
    outside.write_bytes(a.data)
    dest = models_dir / a.filename
    os.symlink(outside, dest)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            assert store.model("a").status is ModelStatus.IDLE
            assert any(a.filename in warning for warning in store.warnings)
            await store.start_model_download("a")
            assert store.model("a").status is ModelStatus.READY

    run(served_dir, body)
    assert not dest.is_symlink() and dest.read_bytes() == a.data
    assert outside.read_bytes() == a.data


# --------------------------------------------------------------------- select


def test_select_requires_a_ready_model(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)
    b = make_model(served_dir, "b", seed=2)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server), b.spec(server)]) as store:
            await store.start_model_download("a")
            before = store.snapshot()
            patches: list[Any] = []
            on_patch(store, lambda patch, _inverse: patches.append(patch))
            with pytest.raises(LLMStoreError, match=r"'b'.*idle.*not ready"):
                store.select_model("b")
            assert store.snapshot() is before
            assert patches == []
            store.select_model(None)
            assert (store.selected_model_key, store.selected_model) == (None, None)
            store.select_model("a")
            assert store.selected_model is store.model("a")

    run(served_dir, body)


# ---------------------------------------------------------------- persistence


def test_state_file_follows_commits(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            await wait_until(lambda: saved_state_is(models_dir, store.snapshot()), timeout=3)
            store.select_model(None)
            await wait_until(lambda: saved_state_is(models_dir, store.snapshot()), timeout=3)
            assert saved_state(models_dir)["selected_model_key"] is None
            before = store.snapshot()
        async with opened(models_dir, [a.spec(server)]) as reopened:
            # The selection was cleared on purpose ... but a ready model gets
            # selected when none is: that is initialize's job.
            assert reopened.snapshot()["models"] == before["models"]
            assert reopened.selected_model_key == "a"

    run(served_dir, body)


def test_explicit_state_file_location(served_dir: Path, models_dir: Path, tmp_path: Path) -> None:
    a = make_model(served_dir, "a", seed=1)
    state_file = tmp_path / "elsewhere" / "state.json"
    state_file.parent.mkdir()

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)], state_file=state_file) as store:
            await store.start_model_download("a")
            snapshot = store.snapshot()
        assert json.loads(state_file.read_text(encoding="utf-8"))["state"] == snapshot
        assert not (models_dir / STATE_FILE_NAME).exists()

    run(served_dir, body)


# --------------------------------------------------------------- transactions


def test_state_changes_only_through_actions(served_dir: Path, models_dir: Path) -> None:
    a = make_model(served_dir, "a", seed=1)

    async def body(server: ModelServer) -> None:
        async with opened(models_dir, [a.spec(server)]) as store:
            await store.start_model_download("a")
            before = store.snapshot()
            with pytest.raises(ProtectionError):
                store.selected_model_key = None
            with pytest.raises(ProtectionError):
                store.model("a").status = ModelStatus.IDLE
            with pytest.raises(ProtectionError):
                store.models.clear()
            assert store.snapshot() == before

    run(served_dir, body)
