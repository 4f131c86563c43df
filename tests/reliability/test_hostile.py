"""A hostile server and hostile files: the store fails clearly and touches nothing outside.

The server lies (redirect loops, redirects to ``file://``, Content-Length or
Content-Range that do not match the body, endless bodies, stalls); the models
dir holds symlinks planted to lead outside it; catalogs name paths that would
leave it. Every case ends with a clear error or an intact file, no partial
file, and nothing outside the models dir read for a model or changed.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from llmstore import (
    CatalogError,
    DownloadError,
    LLMStore,
    LLMStoreError,
    ModelSpec,
    ModelStatus,
    VerificationError,
    create_llm_store_default_model,
    load_catalog,
)
from llmstore._download import download_file, open_session
from llmstore._partial import PartialState, write_sidecar
from llmstore.store import STATE_FILE_NAME
from llmstore.testing import Fault, ModelServer

if TYPE_CHECKING:
    from conftest import Helpers, ServedModel

T = TypeVar("T")
MB = 1024 * 1024
SIZE = 2 * MB + 777


def run(served_dir: Path, body: Callable[[ModelServer], Awaitable[T]]) -> T:
    """Run ``body(server)`` in a fresh event loop with a loopback server, closed after."""

    async def main() -> T:
        async with ModelServer(served_dir) as server:
            return await body(server)

    return asyncio.run(main())


@asynccontextmanager
async def opened(
    models_dir: Path, catalog: list[ModelSpec], *, sock_read: float | None = None
) -> AsyncIterator[LLMStore]:
    store = create_llm_store_default_model(models_dir=models_dir, catalog=catalog)
    if sock_read is not None:
        # The store's session is injected through its env, like its other dependencies.
        store.env.session = open_session(sock_connect=5.0, sock_read=sock_read)
    async with store:
        yield store


@pytest.fixture
def served(served_dir: Path, helpers: Helpers) -> ServedModel:
    return helpers.make_model(served_dir, "target", size=SIZE, seed=11)


async def pull_fails(
    store: LLMStore, key: str, error: type[Exception], match: str
) -> LLMStoreError:
    with pytest.raises(error, match=match) as caught:
        await store.start_model_download(key)
    model = store.model(key)
    assert model.status is ModelStatus.ERROR
    assert model.error == f"download of {key!r} failed: {caught.value}"
    assert model.path is None
    assert isinstance(caught.value, LLMStoreError)
    return caught.value


# ------------------------------------------------------------------ the server lies
@pytest.mark.parametrize(
    ("redirect_to", "match"),
    [("target.gguf", "redirect loop"), ("file:///etc/passwd", "not an http")],
    ids=["redirect-loop", "redirect-to-file-scheme"],
)
def test_bad_redirect_fails_clearly_and_leaves_nothing(
    served_dir: Path,
    models_dir: Path,
    served: ServedModel,
    helpers: Helpers,
    redirect_to: str,
    match: str,
) -> None:
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(redirect_to=redirect_to), times=None)
        async with opened(models_dir, [served.spec(server.url_for(served.filename))]) as store:
            error = await pull_fails(store, served.key, DownloadError, match)
            assert served.filename in str(error)
        requests = server.requests_for(served.filename)
        assert all(record.status == 302 for record in requests)
        assert 1 <= len(requests) <= 11  # the loop is cut off, never followed forever

    run(served_dir, body)
    assert helpers.leftovers(models_dir) == [STATE_FILE_NAME]


def test_content_length_larger_than_the_body_is_resumed_to_an_intact_file(
    served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(extra_length=50_000), times=None)
        # Without a catalog size the lie only sets the total; the sha256 still checks.
        spec = served.spec(server.url_for(served.filename), size_bytes=None)
        async with opened(models_dir, [spec]) as store:
            await store.start_model_download(served.key)
            assert store.model(served.key).status is ModelStatus.READY
        first, *rest = server.requests_for(served.filename)
        assert first.content_length == served.size + 50_000
        assert rest and all(record.range is not None for record in rest)

    run(served_dir, body)
    assert helpers.sha256_of(models_dir / served.filename) == served.sha256
    assert helpers.leftovers(models_dir) == sorted([served.filename, STATE_FILE_NAME])


def test_content_length_contradicting_the_catalog_fails_before_the_body(
    served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(extra_length=50_000, bytes_per_second=MB))
        async with opened(models_dir, [served.spec(server.url_for(served.filename))]) as store:
            error = await pull_fails(store, served.key, VerificationError, "Content-Length")
            assert f"announces {served.size + 50_000} bytes" in str(error)
            assert f"the catalog says {served.size}" in str(error)
            assert store.error == store.model(served.key).error
        (record,) = server.requests_for(served.filename)
        # Refused on the headers: at most what the server pushed before the hang-up.
        assert record.bytes_sent < served.size // 2

    run(served_dir, body)
    assert helpers.leftovers(models_dir) == [STATE_FILE_NAME]


def test_endless_body_for_a_known_size_is_cut_off(
    served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(endless=True), times=None)
        async with opened(models_dir, [served.spec(server.url_for(served.filename))]) as store:
            error = await pull_fails(store, served.key, VerificationError, "more than the expected")
            assert str(served.size) in str(error)
        (record,) = server.requests_for(served.filename)
        # The client stopped reading right after the announced size (plus buffers).
        assert record.bytes_sent < served.size + 16 * MB

    run(served_dir, body)
    assert helpers.leftovers(models_dir) == [STATE_FILE_NAME]


def test_partial_answer_with_a_wrong_content_range_restarts_to_an_intact_file(
    served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(drop_after=MB))
        server.add_fault(served.filename, Fault(range_start=12_345))
        async with opened(models_dir, [served.spec(server.url_for(served.filename))]) as store:
            await store.start_model_download(served.key)
        statuses = [(r.status, r.range is not None) for r in server.requests_for(served.filename)]
        assert statuses == [(200, False), (206, True), (200, False)]

    run(served_dir, body)
    assert helpers.sha256_of(models_dir / served.filename) == served.sha256
    assert helpers.leftovers(models_dir) == sorted([served.filename, STATE_FILE_NAME])


def test_content_range_of_another_size_is_rejected(
    served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    async def body(server: ModelServer) -> None:
        # Chunked (no Content-Length), dropped after 1 MB: the resumed 206 says the size.
        server.add_fault(served.filename, Fault(endless=True, drop_after=MB))
        spec = served.spec(server.url_for(served.filename), size_bytes=served.size + 1, sha256=None)
        async with opened(models_dir, [spec]) as store:
            error = await pull_fails(store, served.key, VerificationError, "Content-Range")
            assert f"announces {served.size} bytes" in str(error)
            assert f"the catalog says {served.size + 1}" in str(error)

    run(served_dir, body)
    assert helpers.leftovers(models_dir) == [STATE_FILE_NAME]


def test_server_that_drops_and_lies_about_ranges_forever_is_given_up_on(
    served_dir: Path, models_dir: Path, served: ServedModel
) -> None:
    # Each plain request makes progress, each resume is answered from the wrong
    # byte and restarts from zero: progress that is thrown away is no progress.
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(drop_after=MB, range_start=7), times=None)
        async with open_session(sock_connect=5, sock_read=5) as session:
            async with asyncio.timeout(20):
                with pytest.raises(DownloadError, match=r"giving up .* after 3 retries"):
                    await download_file(
                        session,
                        server.url_for(served.filename),
                        models_dir / served.filename,
                        expected_size=served.size,
                        retries=3,
                        backoff=0.01,
                    )
        assert len(server.requests_for(served.filename)) <= 8

    run(served_dir, body)
    assert os.listdir(models_dir) == []


def test_stalled_transfer_times_out_and_resumes(
    served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    async def body(server: ModelServer) -> None:
        server.add_fault(served.filename, Fault(stall_after=MB, stall_seconds=60))
        spec = served.spec(server.url_for(served.filename))
        async with opened(models_dir, [spec], sock_read=0.5) as store:
            started = time.monotonic()
            await store.start_model_download(served.key)
            assert time.monotonic() - started < 10
        stalled, resumed = server.requests_for(served.filename)
        assert stalled.bytes_sent == MB
        assert resumed.range is not None and resumed.status == 206

    run(served_dir, body)
    assert helpers.sha256_of(models_dir / served.filename) == served.sha256


def test_server_that_never_answers_fails_with_a_timeout(models_dir: Path) -> None:
    async def main() -> None:
        hang_up = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1000)  # the request; never a byte of answer
            await hang_up.wait()
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            async with open_session(sock_connect=5, sock_read=0.3) as session:
                started = time.monotonic()
                with pytest.raises(DownloadError, match="after 1 retries: timed out waiting"):
                    await download_file(
                        session,
                        f"http://127.0.0.1:{port}/model.gguf",
                        models_dir / "model.gguf",
                        expected_size=SIZE,
                        retries=1,
                        backoff=0.01,
                    )
                assert time.monotonic() - started < 5
        finally:
            hang_up.set()
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    assert os.listdir(models_dir) == []


# ------------------------------------------------------------- planted symlinks
@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
@pytest.mark.parametrize(
    "planted",
    ["{name}", "{name}.part", "{name}.part.json", "{name}.lock", "other.gguf", STATE_FILE_NAME],
)
def test_planted_symlink_is_never_followed_out_of_the_models_dir(
    tmp_path: Path,
    served_dir: Path,
    models_dir: Path,
    served: ServedModel,
    helpers: Helpers,
    planted: str,
    dangling: bool,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "precious"
    if not dangling:
        # A valid model file (and JSON-ish text), the most tempting target there is.
        helpers.make_model(outside, "precious", size=SIZE, seed=1).path.rename(target)
    before = target.read_bytes() if not dangling else None
    link = models_dir / planted.format(name=served.filename)

    async def body(server: ModelServer) -> None:
        spec = served.spec(server.url_for(served.filename))
        if link.name == served.filename + ".part":
            write_sidecar(
                link.with_name(link.name + ".json"), PartialState(spec.url, total=served.size)
            )
        os.symlink(target, link)
        async with opened(models_dir, [spec]) as store:
            assert [m.key for m in store.models] == [served.key]
            await store.start_model_download(served.key)
            assert store.model(served.key).status is ModelStatus.READY
            await store.delete_model(served.key)
            assert store.model(served.key).status is ModelStatus.IDLE
            if os.path.lexists(link):  # not ours to delete: at least never a model
                with pytest.raises(LLMStoreError):
                    await store.delete_model("other")

    run(served_dir, body)
    assert os.listdir(outside) == ([] if dangling else ["precious"])
    if before is not None:
        assert target.read_bytes() == before
    leftover = set(os.listdir(models_dir)) - {STATE_FILE_NAME}
    # A state file that is a link to something else is moved aside, the link itself.
    aside = {name for name in leftover if name.startswith(STATE_FILE_NAME + ".corrupt-")}
    assert all((models_dir / name).is_symlink() for name in aside)
    assert leftover - aside <= {link.name}, f"unexpected files: {leftover}"
    assert not (models_dir / served.filename).exists()


def test_symlink_planted_as_the_part_file_after_initialize_is_not_written_through(
    tmp_path: Path, served_dir: Path, models_dir: Path, served: ServedModel, helpers: Helpers
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "victim"
    target.write_bytes(b"precious bytes that must stay as they are")
    part = models_dir / (served.filename + ".part")

    async def body(server: ModelServer) -> None:
        spec = served.spec(server.url_for(served.filename))
        async with opened(models_dir, [spec]) as store:
            # Behind the store's back, with a sidecar that makes it look resumable.
            write_sidecar(part.with_name(part.name + ".json"), PartialState(spec.url, total=SIZE))
            os.symlink(target, part)
            await store.start_model_download(served.key)
            assert store.model(served.key).status is ModelStatus.READY

    run(served_dir, body)
    assert target.read_bytes() == b"precious bytes that must stay as they are"
    dest = models_dir / served.filename
    assert not dest.is_symlink() and helpers.sha256_of(dest) == served.sha256
    assert helpers.leftovers(models_dir) == sorted([served.filename, STATE_FILE_NAME])


# ------------------------------------------------------------- hostile catalogs
BAD_FILENAMES = [
    "..",
    ".",
    "../escape.gguf",
    "a/../../escape.gguf",
    "sub/model.gguf",
    "/etc/passwd",
    "/tmp/model.gguf",
    "model\x00.gguf",
    "..\\escape.gguf",
    "C:\\models\\model.gguf",
    ".hidden.gguf",
    "",
    "x" * 300 + ".gguf",
]
BAD_KEYS = ["..", "../1B", "a/b", "/abs", "a\x00b", "", ".", " ", "a" * 200, "\\evil"]


def write_catalog(path: Path, **fields: Any) -> Path:
    entry = {
        "key": "ok",
        "display_name": "OK",
        "url": "https://example.org/ok.gguf",
        "filename": "ok.gguf",
        **fields,
    }
    path.write_text(json.dumps([entry]), encoding="utf-8")
    return path


@pytest.mark.parametrize("filename", BAD_FILENAMES)
def test_catalog_file_name_leaving_the_models_dir_is_rejected_at_load(
    tmp_path: Path, filename: str
) -> None:
    path = write_catalog(tmp_path / "catalog.json", filename=filename)
    with pytest.raises(CatalogError, match=r"models\[0\]\.filename") as caught:
        load_catalog(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("key", BAD_KEYS)
def test_catalog_key_with_path_characters_is_rejected_at_load(tmp_path: Path, key: str) -> None:
    path = write_catalog(tmp_path / "catalog.json", key=key)
    with pytest.raises(CatalogError, match=r"models\[0\]\.key"):
        load_catalog(path)


def test_catalog_url_of_another_scheme_is_rejected_at_load(tmp_path: Path) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/m.gguf", "http://", "javascript:x"):
        path = write_catalog(tmp_path / "catalog.json", url=url)
        with pytest.raises(CatalogError, match=r"models\[0\]\.url"):
            load_catalog(path)
