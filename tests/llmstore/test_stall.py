"""Stall detection: a server that stops sending but keeps the socket open.

The loopback server's ``stall_after`` fault goes silent for a minute with the
connection open; the session's own read timeout (60 s) is left as it is, so
only the store's ``stall_timeout`` can bring the download back.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from llmstore import ConfigError, DownloadError, ModelSpec, ProgressEvent
from llmstore import create_llm_store_default_model as create_store
from llmstore._download import download_file, open_session
from llmstore._gguf import write_gguf_file
from llmstore.testing import Fault, ModelServer

SIZE = 2_000_000
STALL_AT = 600_000
STALL_TIMEOUT = 1.0


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "LLMSTORE_ENDPOINT", "LLMSTORE_MODELS_DIR", "LLMSTORE_STALL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def _spec(server: ModelServer) -> ModelSpec:
    return ModelSpec(
        key="m", display_name="M", url=server.url_for("m.gguf"), filename="m.gguf",
        size_bytes=SIZE, min_size_bytes=1000,
    )  # fmt: skip


def test_a_stalled_transfer_is_dropped_and_resumed_within_the_timeout(tmp_path: Path) -> None:
    served = write_gguf_file(tmp_path / "m.gguf", size_bytes=SIZE, seed=5)
    seen: list[tuple[float, ProgressEvent]] = []

    async def main() -> None:
        async with ModelServer(tmp_path) as server:
            server.add_fault("m.gguf", Fault(stall_after=STALL_AT, stall_seconds=60))
            store = create_store(
                models_dir=tmp_path / "models", catalog=[_spec(server)], stall_timeout=STALL_TIMEOUT
            )
            async with store:
                store.progress("m").subscribe(lambda e: seen.append((time.monotonic(), e)))
                await store.start_model_download("m")
            stalled, resumed = server.requests_for("m.gguf")
            assert stalled.bytes_sent == STALL_AT
            assert resumed.range == f"bytes={STALL_AT}-" and resumed.status == 206

    asyncio.run(main())
    assert (tmp_path / "models" / "m.gguf").read_bytes() == served.read_bytes()
    stalls = [(at, e) for at, e in seen if e.stalled_seconds > 0]
    assert stalls, "progress never said the transfer was stalled"
    assert all(e.bytes_done == STALL_AT and e.bytes_per_second == 0 for _, e in stalls)
    assert all(e.eta_seconds is None for _, e in stalls)
    first_at, first = stalls[0]
    last_byte = first_at - first.stalled_seconds  # when the server went silent
    recovered = min(at for at, e in seen if e.bytes_done > STALL_AT)
    assert recovered - last_byte <= STALL_TIMEOUT + 2


def test_a_stall_counts_as_a_retry(tmp_path: Path) -> None:
    write_gguf_file(tmp_path / "m.gguf", size_bytes=SIZE, seed=5)

    async def main() -> None:
        async with ModelServer(tmp_path) as server, open_session() as session:
            server.add_fault("m.gguf", Fault(stall_after=STALL_AT, stall_seconds=60))
            with pytest.raises(DownloadError) as caught:
                await download_file(
                    session,
                    server.url_for("m.gguf"),
                    tmp_path / "out" / "m.gguf",
                    expected_size=SIZE,
                    retries=0,
                    stall_timeout=0.5,
                )
            assert str(caught.value) == (
                f"giving up on {server.url_for('m.gguf')} after 0 retries: no data for 0.5 s "
                "(stalled); check the network and the server, then pull again"
            )

    asyncio.run(main())
    assert list((tmp_path / "out").iterdir()) == []


def test_stall_timeout_comes_from_the_argument_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert create_store(models_dir=tmp_path, catalog=[]).env.stall_timeout == 20.0
    monkeypatch.setenv("LLMSTORE_STALL_TIMEOUT", "2.5")
    assert create_store(models_dir=tmp_path, catalog=[]).env.stall_timeout == 2.5
    assert create_store(models_dir=tmp_path, catalog=[], stall_timeout=7).env.stall_timeout == 7
    monkeypatch.setenv("LLMSTORE_STALL_TIMEOUT", "soon")
    with pytest.raises(ConfigError, match=r"\$LLMSTORE_STALL_TIMEOUT must be a number of sec"):
        create_store(models_dir=tmp_path, catalog=[])
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="stall_timeout must be a positive number"):
            create_store(models_dir=tmp_path, catalog=[], stall_timeout=bad)
