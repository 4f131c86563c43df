"""The adaptive download (``connections=None``): one stream, split into pieces when it idles.

And the single stream's own reader (``_body``): a body taken over from
aiohttp arrives whole, in order, and a stream cut mid-block resumes after
the last byte that came.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from llmstore._download import DownloadResult, download_file
from llmstore._split import SplitProbe
from llmstore.testing import Fault, ModelServer

if TYPE_CHECKING:
    from conftest import Serve

MiB = 1024 * 1024
RANGE = re.compile(r"bytes=(\d+)-(\d+)?")


class _Clocks:
    """A wall clock and a CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0

    def advance(self, seconds: float, *, cpu: float) -> None:
        self.wall += seconds
        self.cpu += cpu


def _probe(clocks: _Clocks, size: int = 100 * MiB, floor: int = 8 * MiB) -> SplitProbe:
    return SplitProbe(size, floor, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)


def test_a_stream_that_leaves_the_cpu_idle_is_split_once() -> None:
    clocks = _Clocks()
    probe = _probe(clocks)
    assert not probe(4 * MiB, 0.0)  # the first block starts the measurement
    clocks.advance(0.3, cpu=0.03)
    assert not probe(8 * MiB, 0.0)  # not half a second yet
    clocks.advance(0.3, cpu=0.03)
    assert probe(12 * MiB, 0.01)  # 0.06 CPU-seconds in 0.6 s, blocks free: the link limits
    clocks.advance(5, cpu=0)
    assert not probe(16 * MiB, 0.01), "the probe decides once"


def test_a_stream_that_keeps_the_cpu_busy_stays_one_stream() -> None:
    clocks = _Clocks()
    probe = _probe(clocks)
    probe(4 * MiB, 0.0)
    clocks.advance(1.0, cpu=0.9)  # the hash and the copies keep about a core busy
    assert not probe(900 * MiB, 0.0)
    clocks.advance(1.0, cpu=0.0)
    assert not probe(950 * MiB, 0.0)


def test_a_starved_stream_whose_blocks_fill_stays_one_stream() -> None:
    # Little CPU (other work has the machine), but the reader waited a third of the
    # time for the hash and write threads to free a block: the client is the limit.
    clocks = _Clocks()
    probe = _probe(clocks)
    probe(4 * MiB, 2.0)
    clocks.advance(0.6, cpu=0.1)
    assert not probe(200 * MiB, 2.2)


def test_a_stream_nearly_done_is_not_split() -> None:
    clocks = _Clocks()
    probe = _probe(clocks, size=20 * MiB, floor=8 * MiB)
    probe(4 * MiB, 0.0)
    clocks.advance(1.0, cpu=0.0)
    assert not probe(13 * MiB, 0.0)  # 7 MiB left: less than two pieces' worth


def _fetch(
    server: ModelServer, session: aiohttp.ClientSession, name: str, data: bytes, dest: Path
) -> asyncio.Future[DownloadResult]:
    return asyncio.ensure_future(
        download_file(
            session,
            server.url_for(name),
            dest,
            expected_size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            connections=None,
            chunk_size=256 * 1024,  # blocks of 256 KiB: the probe looks after each one
            backoff=0.01,
        )
    )


def test_a_capped_stream_goes_on_in_pieces(
    serve: Serve, served_dir: Path, models_dir: Path
) -> None:
    data = os.urandom(12 * MiB + 777)
    (served_dir / "capped.gguf").write_bytes(data)
    dest = models_dir / "capped.gguf"

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.throttle("capped.gguf", bytes_per_second=3e6)  # every connection
        result = await _fetch(server, session, "capped.gguf", data, dest)
        assert result.sha256 == hashlib.sha256(data).hexdigest()
        first, *rest = server.requests_for("capped.gguf")
        assert first.range is None and first.status == 200
        assert rest and all(r.status == 206 for r in rest)
        starts = sorted(int(m[1]) for r in rest if (m := RANGE.fullmatch(r.range or "")))
        # The pieces take up where the stream stopped (half a second in), not at byte 0.
        assert 0 < starts[0] < len(data) // 2

    serve(body)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in models_dir.iterdir()) == ["capped.gguf"]


def test_a_fast_small_stream_is_one_request(serve: Serve, payload_bytes: bytes, payload: object,
                                            models_dir: Path) -> None:  # fmt: skip
    dest = models_dir / "model.gguf"

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        await _fetch(server, session, "model.gguf", payload_bytes, dest)
        (request,) = server.requests_for("model.gguf")  # done before the probe decides
        assert request.range is None

    serve(body)
    assert dest.read_bytes() == payload_bytes


@pytest.mark.parametrize("cut", [1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * MiB])
def test_a_stream_cut_anywhere_resumes_after_its_last_byte(
    serve: Serve, payload_bytes: bytes, payload: object, models_dir: Path, cut: int
) -> None:
    dest = models_dir / "model.gguf"

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault("model.gguf", Fault(drop_after=cut))
        result = await download_file(
            session, server.url_for("model.gguf"), dest, expected_size=len(payload_bytes),
            chunk_size=256 * 1024, backoff=0.01,
        )  # fmt: skip
        assert result.sha256 == hashlib.sha256(payload_bytes).hexdigest()
        _, second = server.requests_for("model.gguf")
        assert second.range == f"bytes={cut}-"

    serve(body)
    assert dest.read_bytes() == payload_bytes


def test_a_body_longer_than_expected_is_refused_before_it_is_read(
    serve: Serve, payload_bytes: bytes, payload: object, models_dir: Path
) -> None:
    from llmstore.errors import VerificationError

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        with pytest.raises(VerificationError, match="announces"):
            await download_file(
                session, server.url_for("model.gguf"), models_dir / "model.gguf",
                expected_size=len(payload_bytes) - 1,
            )  # fmt: skip

    serve(body)
    assert list(models_dir.iterdir()) == []


def test_the_session_still_works_after_a_taken_over_body(
    serve: Serve, payload_bytes: bytes, payload: object, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        for name in ("a.gguf", "b.gguf"):
            await download_file(session, server.url_for("model.gguf"), models_dir / name)

    serve(body)
    assert (models_dir / "a.gguf").read_bytes() == (models_dir / "b.gguf").read_bytes()
    assert (models_dir / "b.gguf").read_bytes() == payload_bytes


