"""Parallel segmented downloads against a real loopback server.

Small pieces (64 KiB) make the few-MB payload (not a multiple of the piece
size) about 50 pieces over 4 connections; the server's request log shows
what each connection asked for.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from llmstore._download import DownloadResult, download_file, open_session
from llmstore._partial import partial_paths, read_sidecar
from llmstore.testing import Fault, ModelServer

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Payload

PIECE = 64 * 1024
RANGE = re.compile(r"bytes=(\d+)-(\d+)")


@pytest.fixture
def serve(served_dir: Path) -> Callable[[Any], None]:
    """Run ``body(server, session)``; the server streams (segments hang up mid-piece)."""

    def run(body: Any) -> None:
        async def main() -> None:
            async with (
                ModelServer(served_dir, sendfile=False) as server,
                open_session(sock_connect=5.0, sock_read=5.0) as session,
            ):
                await body(server, session)

        asyncio.run(main())

    return run


async def fetch(
    server: ModelServer, session: aiohttp.ClientSession, payload: Payload, dest: Path, **kw: Any
) -> DownloadResult:
    options: dict[str, Any] = {
        "expected_size": payload.size,
        "sha256": payload.sha256,
        "connections": 4,
        "piece_size": PIECE,
        "backoff": 0.01,
    }
    options.update(kw)
    return await download_file(session, server.url_for(payload.name), dest, **options)


def _spans(server: ModelServer, name: str) -> list[tuple[int, int]]:
    spans = []
    for record in server.requests_for(name):
        match = RANGE.fullmatch(record.range or "")
        assert match is not None, record.range
        spans.append((int(match[1]), int(match[2])))
    return spans


def test_pieces_over_four_connections_give_the_exact_bytes(
    serve: Any, payload: Payload, models_dir: Path
) -> None:
    assert payload.size % PIECE != 0
    progress: list[tuple[int, int | None]] = []

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        dest = models_dir / payload.name
        result = await fetch(
            server, session, payload, dest, on_progress=lambda d, t: progress.append((d, t))
        )
        assert (result.size, result.sha256) == (payload.size, payload.sha256)
        spans = sorted(_spans(server, payload.name))
        # Every byte asked for exactly once, in pieces.
        assert spans[0][0] == 0 and spans[-1][1] == payload.size - 1
        assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
        assert all(r.status == 206 for r in server.requests)

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data
    assert os.listdir(models_dir) == [payload.name]
    assert progress[-1] == (payload.size, payload.size)
    done = [d for d, _ in progress]
    assert done == sorted(done)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(drop_after=20_000),
        Fault(stall_after=20_000, stall_seconds=30),
        Fault(range_start=0),
    ],
    ids=["dropped", "stalled", "wrong-range"],
)
def test_a_failing_piece_is_retried_where_it_stopped(
    serve: Any, payload: Payload, models_dir: Path, fault: Fault
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(), times=3)  # three healthy pieces first
        server.add_fault(payload.name, fault)
        result = await fetch(server, session, payload, models_dir / payload.name, stall_timeout=0.5)
        assert result.sha256 == payload.sha256

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_a_server_without_range_support_gets_one_stream(
    serve: Any, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(ignore_range=True), times=None)
        result = await fetch(server, session, payload, models_dir / payload.name)
        assert result.sha256 == payload.sha256
        first, second = server.requests
        assert first.range == f"bytes=0-{PIECE - 1}" and first.status == 200
        assert second.range is None and second.status == 200

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data


@pytest.mark.parametrize(
    "fault", [Fault(ignore_range=True), Fault(etag='"another-version"')], ids=["200", "etag"]
)
def test_a_file_that_changes_mid_way_restarts_every_piece(
    serve: Any, payload: Payload, models_dir: Path, fault: Fault
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(), times=6)
        server.add_fault(payload.name, fault)
        result = await fetch(server, session, payload, models_dir / payload.name)
        assert result.sha256 == payload.sha256
        starts = [start for start, _ in _spans(server, payload.name)]
        assert starts.count(0) == 2  # the whole file again, never spliced

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_cancel_removes_everything(serve: Any, payload: Payload, models_dir: Path) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.throttle(payload.name, bytes_per_second=500_000)
        task = asyncio.ensure_future(fetch(server, session, payload, models_dir / payload.name))
        sidecar = partial_paths(models_dir / payload.name)[1]
        while not sidecar.exists() or read_sidecar(sidecar) is None:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    serve(body)
    assert os.listdir(models_dir) == []


def test_a_crash_resumes_every_piece_where_its_sidecar_says(
    serve: Any, payload: Payload, models_dir: Path
) -> None:
    dest = models_dir / payload.name
    part, sidecar = partial_paths(dest)

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.throttle(payload.name, bytes_per_second=1_000_000)
        task = asyncio.ensure_future(fetch(server, session, payload, dest))
        while True:
            state = read_sidecar(sidecar) if sidecar.exists() else None
            if (
                state is not None
                and state.pieces
                and sum(d - s for s, _, d in state.pieces) > 600_000
            ):
                break
            await asyncio.sleep(0.01)
        # A crash: the task dies without its cleanup (the files are copied aside first).
        saved_part, saved_sidecar = part.read_bytes(), sidecar.read_bytes()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        part.write_bytes(saved_part)
        sidecar.write_bytes(saved_sidecar)
        recorded = read_sidecar(sidecar)
        assert recorded is not None and recorded.pieces is not None
        server.clear_faults()
        server.requests.clear()
        result = await fetch(server, session, payload, dest)
        assert result.sha256 == payload.sha256
        asked = sorted(_spans(server, payload.name))
        missing = sorted((d, e - 1) for s, e, d in recorded.pieces if d < e)
        assert asked == missing  # only what the sidecar said was missing

    serve(body)
    assert dest.read_bytes() == payload.data


def test_the_store_pulls_in_pieces_and_validates_connections(tmp_path: Path) -> None:
    from llmstore import ConfigError, ModelSpec, ProgressEvent, create_llm_store_default_model
    from llmstore._gguf import write_gguf_file

    served = write_gguf_file(tmp_path / "m.gguf", size_bytes=5 * 1024 * 1024 + 17, seed=9)
    events: list[ProgressEvent] = []

    async def main() -> None:
        async with ModelServer(tmp_path, sendfile=False) as server:
            spec = ModelSpec(
                key="m", display_name="M", url=server.url_for("m.gguf"), filename="m.gguf",
                size_bytes=served.stat().st_size, min_size_bytes=1000,
            )  # fmt: skip
            store = create_llm_store_default_model(
                models_dir=tmp_path / "models", catalog=[spec], connections=3
            )
            async with store:
                store.progress("m").subscribe(events.append)
                await store.start_model_download("m")
            ranges = [r.range for r in server.requests_for("m.gguf")]
            assert len(ranges) == 6 and all(r and RANGE.fullmatch(r) for r in ranges)  # 1 MiB

    asyncio.run(main())
    assert (tmp_path / "models" / "m.gguf").read_bytes() == served.read_bytes()
    assert events[-1].done and events[-1].bytes_done == served.stat().st_size
    done = [e.bytes_done for e in events]
    assert done == sorted(done)  # one stream of events, whatever the pieces
    for bad in (0, 65, 2.5, True):
        with pytest.raises(ConfigError, match="connections must be a whole number"):
            create_llm_store_default_model(models_dir=tmp_path, catalog=[], connections=bad)  # type: ignore[arg-type]


def test_one_streams_part_is_taken_up_by_the_pieces(
    serve: Any, payload: Payload, models_dir: Path
) -> None:
    dest = models_dir / payload.name

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.throttle(payload.name, bytes_per_second=2_000_000)
        # One stream, crashed after 1 MB: its .part and sidecar stay for the next pull.
        part, sidecar = partial_paths(dest)
        single = fetch(server, session, payload, dest, connections=1, chunk_size=PIECE)
        task = asyncio.ensure_future(single)
        while not (part.exists() and part.stat().st_size >= 1_000_000 // PIECE * PIECE):
            await asyncio.sleep(0.005)
        saved_part, saved_sidecar = part.read_bytes(), sidecar.read_bytes()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        part.write_bytes(saved_part)
        sidecar.write_bytes(saved_sidecar)
        server.clear_faults()
        server.requests.clear()
        result = await fetch(server, session, payload, dest)
        assert result.sha256 == payload.sha256
        first = min(start for start, _ in _spans(server, payload.name))
        assert first == len(saved_part) > 0  # nothing before it asked for again

    serve(body)
    assert dest.read_bytes() == payload.data
