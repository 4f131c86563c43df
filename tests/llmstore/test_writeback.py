"""The fast path of a download: socket-sized pieces, writev batches, early writeback."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from llmstore import _hashing, _writeback
from llmstore._download import download_file, open_session
from llmstore._hashing import HashingWriter
from llmstore._http import READ_SIZE, widen_reads
from llmstore._writeback import WritebackTracker, durable_sync, start_writeback


def test_a_chunked_body_arrives_whole_across_its_chunk_boundaries(tmp_path: Path) -> None:
    chunks = [os.urandom(size) for size in (1, 70_000, 3, 200_000, 5)]
    data = b"".join(chunks)

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(0.01)  # each one its own HTTP chunk on the wire
        await response.write_eof()
        return response

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/model.gguf", chunked)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with open_session() as session:
                result = await download_file(
                    session, f"http://127.0.0.1:{port}/model.gguf", tmp_path / "model.gguf"
                )
        finally:
            await runner.cleanup()
        assert result.size == len(data)
        assert result.sha256 == hashlib.sha256(data).hexdigest()

    asyncio.run(main())
    assert (tmp_path / "model.gguf").read_bytes() == data


def test_widen_reads_raises_the_transports_read_size(tmp_path: Path) -> None:
    body = os.urandom(16 * 1024 * 1024)  # still streaming when widened: its connection is held
    (tmp_path / "f").write_bytes(body)

    async def main() -> None:
        app = web.Application()
        app.router.add_static("/", tmp_path)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        try:
            async with (
                open_session() as session,
                session.get(f"http://127.0.0.1:{port}/f") as response,
            ):
                assert response.connection is not None
                transport = response.connection.transport
                assert getattr(transport, "max_size", None) == 256 * 1024  # asyncio's own
                widen_reads(response)
                assert getattr(transport, "max_size", None) == READ_SIZE
                widen_reads(response, 1024)  # never lowers it
                assert getattr(transport, "max_size", None) == READ_SIZE
                assert await response.read() == body
        finally:
            await runner.cleanup()

    asyncio.run(main())


def test_a_batch_of_more_pieces_than_one_writev_takes_is_written_whole(tmp_path: Path) -> None:
    pieces = [os.urandom(7 + index % 13) for index in range(3 * _hashing._IOV_MAX + 5)]
    path = tmp_path / "out"

    async def main() -> tuple[int, str]:
        writer = HashingWriter(path, batch_size=10**9)  # one batch: every piece at once
        await writer.open()
        for piece in pieces:
            await writer.write(piece)
        return await writer.finish()

    size, digest = asyncio.run(main())
    data = b"".join(pieces)
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert path.read_bytes() == data


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=20),
    data=st.data(),
)
def test_a_short_writev_is_completed_from_where_it_stopped(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], data: st.DataObject
) -> None:
    group = [bytes([index % 251]) * size for index, size in enumerate(sizes)]
    whole = b"".join(group)
    skip = data.draw(st.integers(min_value=0, max_value=len(whole)), label="written")
    path = tmp_path_factory.mktemp("short") / "out"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, whole[:skip])  # what the short writev managed
        _hashing._write_rest(fd, group, skip)
    finally:
        os.close(fd)
    assert path.read_bytes() == whole


def test_writeback_starts_for_every_full_block_in_file_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[int, int]] = []
    monkeypatch.setattr(
        _writeback, "start_writeback", lambda fd, offset, length: started.append((offset, length))
    )
    tracker = WritebackTracker(fd=-1, start=100, every=1000)
    for count in (400, 500, 200, 999, 1, 3000, 10):
        tracker.written(count)
        while tracker._busy.is_set():  # each request done before the next write
            time.sleep(0.001)
    tracker.close()
    # Blocks start where the resumed file did (100) and follow each other exactly.
    assert started == [(100, 1100), (1200, 1000), (2200, 3000)]


def test_a_slow_writeback_request_never_holds_up_the_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release, started = threading.Event(), []

    def congested(fd: int, offset: int, length: int) -> None:
        started.append((offset, length))
        release.wait(10)  # the disk's queue is full

    monkeypatch.setattr(_writeback, "start_writeback", congested)
    tracker = WritebackTracker(fd=-1, every=1000)
    for _ in range(10):
        tracker.written(1000)  # returns at once though the first request hangs
    assert started == [(0, 1000)] or not started  # the first one only (maybe not yet begun)
    release.set()
    while tracker._busy.is_set():
        time.sleep(0.001)
    tracker.written(1000)  # the blocks written meanwhile go in the next request
    tracker.close()
    assert started == [(0, 1000), (1000, 10_000)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_writeback_and_the_final_sync_run_on_a_real_file(tmp_path: Path) -> None:
    assert _writeback._sync_file_range is not None  # found in the C library
    path = tmp_path / "out"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.write(fd, b"y" * 3_000_000)
        start_writeback(fd, 0, 3_000_000)
        start_writeback(fd, 0, 0)  # nothing to do
        durable_sync(fd)
    finally:
        os.close(fd)
    start_writeback(fd, 0, 10)  # a closed descriptor: best effort, never raises
    assert path.read_bytes() == b"y" * 3_000_000
