"""``store.error``: set by a failed initialize, download, verification or deletion.

Each failure commits the error in its own action before the exception leaves;
the next success of the same operation on the same model clears it, and so
does ``clear_error()``. Cancelling is never an error.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from llmstore import (
    HTTPStatusError,
    LLMStore,
    LLMStoreError,
    ModelSpec,
    ModelStatus,
    VerificationError,
    create_llm_store_default_model,
)
from llmstore._gguf import write_gguf_file
from llmstore.store import STATE_FILE_NAME
from llmstore.testing import ModelServer
from mstlite import on_patch

SIZE = 1_000_000


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "LLMSTORE_ENDPOINT", "LLMSTORE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)


def _spec(server: ModelServer, key: str, **fields: Any) -> ModelSpec:
    values: dict[str, Any] = {
        "key": key,
        "display_name": key,
        "url": server.url_for(f"{key}.gguf"),
        "filename": f"{key}.gguf",
        "size_bytes": SIZE,
        "min_size_bytes": 1000,
    }
    values.update(fields)
    return ModelSpec(**values)


def _store(models_dir: Path, catalog: list[ModelSpec], **options: Any) -> LLMStore:
    return create_llm_store_default_model(models_dir=models_dir, catalog=catalog, **options)


def _served(tmp_path: Path, *keys: str) -> Path:
    """A directory for the server, with a GGUF model file for each of ``keys``."""
    served = tmp_path / "served"
    served.mkdir()
    for seed, key in enumerate(keys, start=1):
        write_gguf_file(served / f"{key}.gguf", size_bytes=SIZE, seed=seed)
    return served


def _error(store: LLMStore) -> tuple[str | None, str | None, str | None]:
    return store.error, store.error_operation, store.error_key


def test_a_failed_download_sets_the_store_error_until_that_model_downloads(
    tmp_path: Path,
) -> None:
    served = _served(tmp_path, "b")

    async def main() -> None:
        async with ModelServer(served) as server:
            store = _store(tmp_path / "models", [_spec(server, "a"), _spec(server, "b")])
            async with store:
                patches: list[dict[str, Any]] = []
                on_patch(store, lambda patch, _inverse: patches.append(patch))
                with pytest.raises(HTTPStatusError, match="404") as caught:
                    await store.start_model_download("a")
                message = store.model("a").error
                assert message is not None and str(caught.value) in message
                assert message.startswith("download of 'a' failed: ")
                assert "check the URL or the catalog entry" in message  # what to do
                assert _error(store) == (message, "download", "a")
                assert {"op": "replace", "path": "/error", "value": message} in patches
                await store.start_model_download("b")  # another model: not a fix for 'a'
                assert _error(store) == (message, "download", "a")
                write_gguf_file(served / "a.gguf", size_bytes=SIZE, seed=1)
                await store.start_model_download("a")
                assert _error(store) == (None, None, None)

    asyncio.run(main())


def test_a_failed_verification_is_a_verify_error_and_clear_error_forgets_it(
    tmp_path: Path,
) -> None:
    served = _served(tmp_path, "a")

    async def main() -> None:
        async with ModelServer(served) as server:
            store = _store(tmp_path / "models", [_spec(server, "a", sha256="0" * 64)])
            async with store:
                with pytest.raises(VerificationError):
                    await store.start_model_download("a")
                assert store.error_operation == "verify" and store.error_key == "a"
                assert store.error is not None and "SHA-256" in store.error
                store.clear_error()
                assert _error(store) == (None, None, None)
                assert store.model("a").status is ModelStatus.ERROR  # the model keeps its own

    asyncio.run(main())


def test_a_persisted_error_is_restored_while_it_still_holds(tmp_path: Path) -> None:
    served = _served(tmp_path)
    models_dir = tmp_path / "models"

    async def main() -> None:
        async with ModelServer(served) as server:
            catalog = [_spec(server, "a")]
            async with _store(models_dir, catalog) as store:
                with pytest.raises(HTTPStatusError):
                    await store.start_model_download("a")
                message = store.error
            async with _store(models_dir, catalog) as again:
                assert _error(again) == (message, "download", "a")
            # Another process (or the user) put the model in place: the error is stale.
            write_gguf_file(models_dir / "a.gguf", size_bytes=SIZE, seed=1)
            async with _store(models_dir, catalog) as fixed:
                assert fixed.model("a").status is ModelStatus.READY
                assert _error(fixed) == (None, None, None)

    asyncio.run(main())


def test_backgrounding_cancels_without_an_error(tmp_path: Path) -> None:
    served = _served(tmp_path, "a")

    async def main() -> None:
        async with ModelServer(served) as server:
            server.throttle("a.gguf", bytes_per_second=200_000)
            async with _store(tmp_path / "models", [_spec(server, "a")]) as store:
                task = asyncio.ensure_future(store.start_model_download("a"))
                while store.model("a").progress == 0:
                    await asyncio.sleep(0.01)
                store.set_app_state("background")
                with pytest.raises(LLMStoreError, match="cancelled"):
                    await task
                assert store.model("a").status is ModelStatus.IDLE
                assert _error(store) == (None, None, None)

    asyncio.run(main())


def test_a_failed_deletion_sets_the_error_until_a_deletion_succeeds(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    spec = ModelSpec(
        key="a", display_name="a", url="http://127.0.0.1:9/a.gguf", filename="a.gguf",
        min_size_bytes=1000,
    )  # fmt: skip

    async def main() -> None:
        write_gguf_file(models_dir / "a.gguf", size_bytes=SIZE, seed=1)
        async with _store(models_dir, [spec]) as store:
            assert store.model("a").status is ModelStatus.READY
            (models_dir / "a.gguf").unlink()
            (models_dir / "a.gguf").mkdir()  # something deletion refuses to touch
            with pytest.raises(LLMStoreError, match="cannot delete 'a'") as caught:
                await store.delete_model("a")
            assert _error(store) == (str(caught.value), "delete", "a")
            assert "it is a directory" in str(caught.value)
            shutil.rmtree(models_dir / "a.gguf")
            write_gguf_file(models_dir / "a.gguf", size_bytes=SIZE, seed=1)
            await store.delete_model("a")
            assert _error(store) == (None, None, None)
            assert not (models_dir / "a.gguf").exists()

    asyncio.run(main())


def test_a_failed_initialize_sets_the_error_and_the_next_one_clears_it(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.write_text("in the way")

    async def main() -> None:
        store = _store(models_dir, [])
        with pytest.raises(LLMStoreError, match="exists but is not a directory") as caught:
            await store.initialize()
        assert _error(store) == (str(caught.value), "initialize", None)
        assert "choose another dir with --models-dir" in str(caught.value)
        models_dir.unlink()
        await store.initialize()
        assert _error(store) == (None, None, None)
        await store.aclose()

    asyncio.run(main())


def test_a_read_only_store_writes_nothing_and_refuses_to_download(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    spec = ModelSpec(key="a", display_name="a", url="http://127.0.0.1:9/a", filename="a.gguf")

    async def main() -> None:
        async with _store(models_dir, [spec], read_only=True) as store:
            assert store.is_initialized and store.model("a").status is ModelStatus.IDLE
            with pytest.raises(LLMStoreError, match="opened read-only"):
                await store.start_model_download("a")
            with pytest.raises(LLMStoreError, match="opened read-only"):
                await store.delete_model("a")
        assert not models_dir.exists()
        models_dir.mkdir()
        (models_dir / STATE_FILE_NAME).write_text("{not json")
        (models_dir / "a.gguf.lock").write_text("")
        async with _store(models_dir, [spec], read_only=True) as store:
            assert store.warnings and "is unusable" in store.warnings[0]
        # The corrupt state file was not moved aside, the stale lock not removed.
        assert sorted(p.name for p in models_dir.iterdir()) == ["a.gguf.lock", STATE_FILE_NAME]

    asyncio.run(main())
