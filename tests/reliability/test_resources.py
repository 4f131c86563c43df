"""Resource faults: a full disk and an unusable models dir give clear errors and leave nothing."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from llmstore import (
    DiskFullError,
    LLMStoreError,
    ModelSpec,
    ModelStatus,
    create_llm_store_default_model,
)
from llmstore.store import STATE_FILE_NAME

if TYPE_CHECKING:
    from conftest import Helpers, ServedModel, ThreadedServer, WorkerFactory

MB = 1024 * 1024
AS_ROOT = os.geteuid() == 0


@pytest.fixture
def served(served_dir: Path, helpers: Helpers) -> ServedModel:
    return helpers.make_model(served_dir, "big", size=6 * MB + 999, seed=5)


@pytest.fixture
def spec(served: ServedModel, threaded_server: ThreadedServer) -> ModelSpec:
    return served.spec(threaded_server.url_for(served.filename))


async def _save_state(models_dir: Path, spec: ModelSpec) -> bytes:
    async with create_llm_store_default_model(models_dir=models_dir, catalog=[spec]):
        pass
    return (models_dir / STATE_FILE_NAME).read_bytes()


@pytest.mark.parametrize(
    "limit", [1 * MB, 64], ids=["file-size-limit-mid-transfer", "state-file-cannot-be-saved-either"]
)
def test_full_disk_fails_clearly_and_leaves_no_partial_file(
    models_dir: Path,
    spec: ModelSpec,
    start_worker: WorkerFactory,
    helpers: Helpers,
    limit: int,
) -> None:
    saved = asyncio.run(_save_state(models_dir, spec))
    result = start_worker(
        models_dir=str(models_dir),
        catalog=[helpers.spec_data(spec)],
        key=spec.key,
        fsize_limit=limit,
    ).result()
    assert result["exception"] == "DiskFullError"
    assert "no space left" in result["message"] and spec.filename in result["message"]
    assert "free some disk space" in result["message"]
    assert result["status"] == "error"
    assert "no space left" in result["error"]
    assert result["listing"] == [STATE_FILE_NAME]
    assert helpers.leftovers(models_dir) == [STATE_FILE_NAME]
    if limit < len(saved):
        # Saving failed too: the previous state file is kept whole.
        assert (models_dir / STATE_FILE_NAME).read_bytes() == saved


def test_no_room_for_the_announced_size_fails_before_any_request(
    models_dir: Path, spec: ModelSpec, threaded_server: ThreadedServer, helpers: Helpers
) -> None:
    free = shutil.disk_usage(models_dir).free
    too_big = spec.model_copy(update={"size_bytes": free + 1024 * MB})

    async def pull() -> None:
        async with create_llm_store_default_model(
            models_dir=models_dir, catalog=[too_big]
        ) as store:
            with pytest.raises(DiskFullError, match="free some space") as caught:
                await store.start_model_download(too_big.key)
            assert str(models_dir) in str(caught.value)
            model = store.model(too_big.key)
            assert model.status is ModelStatus.ERROR
            assert model.error is not None and "bytes free" in model.error

    asyncio.run(pull())
    assert threaded_server.requests_for(spec.filename) == []
    assert helpers.leftovers(models_dir) == [STATE_FILE_NAME]


@pytest.mark.parametrize("where", ["under-a-regular-file", "is-a-regular-file"])
def test_unusable_models_dir_is_a_clear_error_at_initialize(
    tmp_path: Path, spec: ModelSpec, where: str
) -> None:
    place = tmp_path / "place"
    place.mkdir()
    blocker = place / "not-a-dir"
    blocker.write_bytes(b"a regular file")
    models_dir = blocker / "models" if where == "under-a-regular-file" else blocker
    expected = "cannot create the models dir" if models_dir != blocker else "not a directory"

    async def initialize() -> None:
        store = create_llm_store_default_model(models_dir=models_dir, catalog=[spec])
        with pytest.raises(LLMStoreError, match=expected) as caught:
            await store.initialize()
        assert str(models_dir) in str(caught.value)
        assert store.error == str(caught.value)
        assert not store.is_initialized
        with pytest.raises(LLMStoreError, match="not initialized"):
            await store.start_model_download(spec.key)
        await store.aclose()

    asyncio.run(initialize())
    assert sorted(os.listdir(place)) == ["not-a-dir"]
    assert blocker.read_bytes() == b"a regular file"


def test_models_dir_replaced_by_a_file_after_initialize_fails_the_pull_clearly(
    tmp_path: Path, spec: ModelSpec, threaded_server: ThreadedServer
) -> None:
    models_dir = tmp_path / "models"

    async def pull() -> None:
        async with create_llm_store_default_model(models_dir=models_dir, catalog=[spec]) as store:
            shutil.rmtree(models_dir)
            models_dir.write_bytes(b"not a directory any more")
            with pytest.raises(LLMStoreError) as caught:
                await store.start_model_download(spec.key)
            model = store.model(spec.key)
            assert model.status is ModelStatus.ERROR
            assert model.error == str(caught.value)
            assert spec.key in model.error and "Not a directory" in model.error

    asyncio.run(pull())
    assert models_dir.read_bytes() == b"not a directory any more"
    assert threaded_server.requests_for(spec.filename) == []


@pytest.mark.skipif(AS_ROOT, reason="root writes to read-only directories")
def test_read_only_models_dir_is_a_clear_error(tmp_path: Path, spec: ModelSpec) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir(mode=0o500)
    try:

        async def initialize() -> None:
            store = create_llm_store_default_model(models_dir=models_dir, catalog=[spec])
            with pytest.raises(LLMStoreError, match="not writable"):
                await store.initialize()
            assert store.error is not None and str(models_dir) in store.error
            await store.aclose()

        asyncio.run(initialize())
        assert os.listdir(models_dir) == []
    finally:
        models_dir.chmod(0o700)


@pytest.mark.skipif(AS_ROOT, reason="root writes to read-only directories")
def test_models_dir_made_read_only_after_initialize_fails_the_pull_clearly(
    models_dir: Path, spec: ModelSpec, threaded_server: ThreadedServer
) -> None:
    async def pull() -> None:
        async with create_llm_store_default_model(models_dir=models_dir, catalog=[spec]) as store:
            models_dir.chmod(0o500)
            try:
                with pytest.raises(LLMStoreError, match="Permission denied"):
                    await store.start_model_download(spec.key)
                assert store.model(spec.key).status is ModelStatus.ERROR
                assert not any(name.startswith(spec.filename) for name in os.listdir(models_dir))
            finally:
                models_dir.chmod(0o700)

    asyncio.run(pull())
    assert threaded_server.requests_for(spec.filename) == []
