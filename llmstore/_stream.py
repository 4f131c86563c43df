"""One stream's download: attempts, resuming with Range/If-Range, the body to the writer."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TypeAlias, final

import aiohttp
from aiohttp import hdrs

from llmstore._body import BodyBlocks, take_over
from llmstore._hashing import HashingWriter
from llmstore._http import (
    CONTENT_RANGE,
    READ_SIZE,
    TRANSIENT_ERRORS,
    Answer,
    RetryableError,
    check_status,
    content_range_total,
    describe_error,
    exchange,
    gave_up,
    range_headers,
    read_chunk,
    retry_pause,
    widen_reads,
)
from llmstore._partial import PartialState, load_resumable, partial_paths, write_sidecar
from llmstore._split import SplitNow
from llmstore._stall import StallWatch
from llmstore.errors import DiskFullError, DownloadError, VerificationError

__all__ = ["ProgressCallback", "StreamDownload"]

ProgressCallback: TypeAlias = Callable[[int, int | None], None]
"""Called as ``on_progress(bytes_done, total)``; ``total`` is ``None`` while unknown."""

#: body blocks in the ring: one filling, the rest with the hash and write threads
#: (the writer keeps at most three batches in flight)
_BLOCKS = 4


def _session_read_timeout(response: aiohttp.ClientResponse) -> float | None:
    """The session's per-read limit (``sock_read``), which a taken-over body keeps."""
    connection = response.connection
    timeout = getattr(connection.protocol, "read_timeout", None) if connection else None
    return timeout if isinstance(timeout, (int, float)) and timeout > 0 else None


@final
class StreamDownload:
    """One stream's download of ``url`` into ``dest``'s ``.part``, across its attempts."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        dest: Path,
        headers: dict[str, str],
        expected_size: int | None,
        chunk_size: int,
    ) -> None:
        self.session = session
        self.url = url
        self.dest = dest
        self.headers = headers
        self.expected_size = expected_size
        self.chunk_size = chunk_size
        self.max_redirects = 10
        self.on_progress: ProgressCallback | None = None
        self.on_stall: Callable[[float], None] | None = None
        self.token: str | None = None
        self.token_withheld = False
        self.stall_timeout: float | None = None
        #: asked after each block whether to stop and go on in pieces (see SplitProbe)
        self.probe: Callable[[int, float], bool] | None = None
        self._ranges = False  # the answer being read said Accept-Ranges: bytes
        self.part, self.sidecar = partial_paths(dest)
        self.writer = HashingWriter(self.part, batch_size=chunk_size)
        self.state = PartialState(url=url, total=expected_size)

    async def transfer(self, retries: int, backoff: float) -> None:
        """Run attempts until the body is complete; raise when retries run out."""
        leftover, size = load_resumable(self.dest, self.url, self.expected_size)
        if leftover is not None:
            self.state = replace(leftover, total=leftover.total or self.expected_size)
        self._check_space(self.state.total, size)
        if leftover is None:
            write_sidecar(self.sidecar, self.state)
        await self.writer.open(keep=size)
        self._report(size, self.state.total)
        failures, furthest = 0, self.writer.size
        while True:
            try:
                await self._attempt()
                return
            except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as exc:
                raise DownloadError(f"TLS failure talking to {self.url}: {exc}") from exc
            except TRANSIENT_ERRORS as exc:
                error: BaseException = exc
            except aiohttp.ClientError as exc:  # a bad URL, an unparsable answer, ...
                raise DownloadError(
                    f"cannot download {self.url}: {describe_error(exc)}; check the URL"
                ) from exc
            if self.writer.size > furthest:
                # A flaky link that keeps making progress is not failing; bytes
                # received again after a restart from zero are no progress.
                furthest, failures = self.writer.size, 0
            failures += 1
            if failures > retries:
                raise gave_up(self.url, retries, error) from error
            await retry_pause(backoff, failures, error)

    async def _attempt(self) -> None:
        offset = self.writer.size
        state, headers = self.state, dict(self.headers)
        if offset:
            headers = range_headers(headers, f"{offset}-", state.etag, state.last_modified)
        await exchange(
            self.session,
            self.url,
            headers,
            lambda answer, watch: self._receive(answer, offset, watch),
            token=self.token,
            max_redirects=self.max_redirects,
            stall_timeout=self.stall_timeout,
            on_stall=self.on_stall,
        )

    async def _receive(self, answer: Answer, offset: int, watch: StallWatch) -> None:
        response = answer.response
        check_status(answer, self.url, token_withheld=self.token_withheld)
        if response.status == 416:
            full = content_range_total(response.headers.get(hdrs.CONTENT_RANGE, ""))
            if offset and full == offset:
                return  # an earlier attempt already received every byte
            await self._start_over(f"HTTP 416 for bytes {offset}-: the file changed on the server")
        accepts = response.headers.get(hdrs.ACCEPT_RANGES, "").strip().lower() == "bytes"
        self._ranges = accepts or response.status == 206
        if response.status == 200:
            start, total = 0, response.content_length
            announced = "Content-Length"
        else:
            start, total = await self._partial_range(response, offset)
            announced = "Content-Range"
        # The server's word on the size, before a byte of the body is read.
        if total is not None and self.expected_size not in (None, total):
            raise VerificationError(
                f"{self.url} announces {total} bytes ({announced}) but the catalog says "
                f"{self.expected_size}; the catalog entry or the URL is wrong"
            )
        if self.expected_size is not None:
            total = self.expected_size
        if start != offset:  # a 200 answer to our Range request
            await self.writer.restart()
            self._report(0, total)
        state = PartialState(
            self.url,
            response.headers.get(hdrs.ETAG),
            response.headers.get(hdrs.LAST_MODIFIED),
            total,
        )
        if state != self.state:
            self.state = state
            write_sidecar(self.sidecar, state)
        self._check_space(total, start)
        length = response.content_length
        if total is not None and length is not None and start + length > total:
            self._too_much(total)
        base = self.writer.size

        def on_bytes(received: int) -> None:
            # Per socket read (at most READ_SIZE), not per block: the stall watch and progress.
            watch.progressed()
            self._report(base + received, total)

        taken = take_over(
            response,
            block_size=self.chunk_size,
            blocks=_BLOCKS,
            read_size=READ_SIZE,
            read_timeout=_session_read_timeout(response),
            on_bytes=on_bytes,
        )
        if taken is None:
            await self._read_pieces(response, total, watch)
        else:
            early, body = taken
            try:
                await self._read_blocks(early, body, total, watch)
            finally:
                body.close()
        if total is not None and self.writer.size < total:
            raise RetryableError(f"body ended after {self.writer.size} of {total} bytes")

    async def _read_blocks(
        self, early: bytes, body: BodyBlocks, total: int | None, watch: StallWatch
    ) -> None:
        """Hand the body's blocks (see ``_body``) to the writer as they fill."""
        writer = self.writer
        if early:
            await writer.write(early)
        while True:
            watch.waiting()
            try:
                block = await body.next()
            except asyncio.CancelledError:
                if watch.fired and (partial := body.partial()) is not None:
                    # A stall: keep the bytes that came, the retry resumes after them.
                    await writer.write_block(partial, body.recycle)
                raise
            watch.arrived()
            if block is None:
                return
            await writer.write_block(block, body.recycle)  # progress: see on_bytes
            if self._ranges and self.probe is not None and self.probe(writer.size, body.held_up):
                raise SplitNow

    async def _read_pieces(
        self, response: aiohttp.ClientResponse, total: int | None, watch: StallWatch
    ) -> None:
        """Read a body ``_body`` cannot take (chunked, or of unknown length) as aiohttp gives it."""
        writer, content = self.writer, response.content
        widen_reads(response)
        while True:
            watch.waiting()
            piece = await read_chunk(content)
            watch.arrived()
            if not piece:
                return
            if total is not None and writer.size + len(piece) > total:
                self._too_much(total)
            await writer.write(piece)
            self._report(writer.size, total)

    def _too_much(self, limit: int) -> NoReturn:
        raise VerificationError(
            f"{self.url} sent more than the expected {limit} bytes; "
            "the server or the catalog entry is wrong"
        )

    async def _partial_range(
        self, response: aiohttp.ClientResponse, offset: int
    ) -> tuple[int, int | None]:
        """Return where a 206 body starts and the full size, or raise to start over."""
        content_range = response.headers.get(hdrs.CONTENT_RANGE, "")
        match = CONTENT_RANGE.fullmatch(content_range.strip())
        if match is None or int(match[1]) != offset:
            await self._start_over(
                f"asked for bytes {offset}- but got Content-Range {content_range!r}"
            )
        etag = response.headers.get(hdrs.ETAG)
        if self.state.etag and etag and etag != self.state.etag:
            # The server ignored If-Range: these bytes belong to another file.
            await self._start_over(f"the ETag changed from {self.state.etag} to {etag}")
        return offset, None if match[3] == "*" else int(match[3])

    async def _start_over(self, reason: str) -> NoReturn:
        await self.writer.restart()
        self.state = replace(self.state, etag=None, last_modified=None)
        write_sidecar(self.sidecar, self.state)
        self._report(0, self.state.total)
        raise RetryableError(f"{reason}; restarting from byte 0")

    def _check_space(self, total: int | None, have: int) -> None:
        if total is None:
            return
        needed = total - have
        free = shutil.disk_usage(self.dest.parent).free
        if needed > free:
            raise DiskFullError(
                f"{self.dest.parent} has {free} bytes free but {self.dest.name} needs "
                f"{needed} more; free some space or choose another models directory"
            )

    def _report(self, done: int, total: int | None) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)
