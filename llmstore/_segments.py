"""Parallel segmented downloads: N connections fetch pieces of one file, written in place.

The file is cut into pieces of ``PIECE_SIZE`` bytes (see ``_pieces``); each
of N workers takes the lowest piece nobody holds, fetches it with
``Range: bytes=A-B`` and writes it into the preallocated ``.part`` at its
offset; once all are held, a free worker splits the largest. Workers move
through the file in order, so the complete prefix grows at about the total
speed and a hasher follows it: the SHA-256 is computed in file order while
the bytes arrive, and after the last byte only the last few pieces remain to
hash. A finished piece's writeback to disk starts at once, so the final
sync waits for little.

The sidecar records every piece's progress, so a crash or a dropped
connection resumes each piece where it stopped. Every answer must carry the
ETag (or Last-Modified) of the first one and the expected total size: a
change restarts the whole file (two versions are never spliced), a server
that answers the first Range request with 200 makes the caller fall back to
one stream (:class:`NoRangeSupport`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TypeVar, final

import aiohttp
from aiohttp import hdrs

from llmstore._http import (
    CONTENT_RANGE,
    TRANSIENT_ERRORS,
    Answer,
    RetryableError,
    check_status,
    describe_error,
    exchange,
    gave_up,
    range_headers,
    read_chunk,
    retry_pause,
)
from llmstore._partial import PartialState, read_sidecar, write_sidecar
from llmstore._pieces import Piece, PiecePlan
from llmstore._stall import StallWatch
from llmstore._writeback import durable_sync, start_writeback
from llmstore.errors import DownloadError, VerificationError

__all__ = ["PIECE_SIZE", "NoRangeSupport", "SegmentedTransfer"]

PIECE_SIZE = 16 * 1024 * 1024
# Small hash blocks keep N connections' buffers well under 100 MB.
_HASH_BLOCK = 2 * 1024 * 1024
_SIDECAR_EVERY = 0.5  # seconds between sidecar writes while pieces progress
_T = TypeVar("_T")


class NoRangeSupport(Exception):
    """The server answered the first Range request with the whole file: use one stream."""


class _Changed(Exception):
    """The file changed on the server mid-way: every piece starts again."""


@final
class SegmentedTransfer:
    """Fetch ``size`` bytes of ``url`` into ``part`` over ``connections`` connections."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        part: Path,
        sidecar: Path,
        headers: Mapping[str, str],
        size: int,
        *,
        connections: int,
        chunk_size: int,
        max_redirects: int,
        token: str | None,
        token_withheld: bool,
        stall_timeout: float | None,
        retries: int,
        backoff: float,
        on_progress: Callable[[int, int | None], None] | None,
        on_stall: Callable[[float], None] | None,
        piece_size: int = PIECE_SIZE,
    ) -> None:
        self.piece_size = piece_size
        self.session, self.url, self.part, self.sidecar = session, url, part, sidecar
        self.headers, self.size, self.connections = dict(headers), size, connections
        self.chunk_size, self.max_redirects = chunk_size, max_redirects
        self.token, self.token_withheld, self.stall_timeout = token, token_withheld, stall_timeout
        self.retries, self.backoff = retries, backoff
        self.on_progress, self.on_stall = on_progress, on_stall
        self.state = PartialState(url=url, total=size)
        self.plan = PiecePlan([])
        self.seen_partial = False  # a 206 arrived: the server does ranges
        self._fd = -1
        self._pool = ThreadPoolExecutor(connections + 1, thread_name_prefix="llmstore-segment")
        self._inflight: set[Future[object]] = set()
        self._wake = asyncio.Event()
        #: set once the server answered a Range request with 206: the others may start
        self._ranged = asyncio.Event()
        self._sidecar_at = 0.0

    # ------------------------------------------------------------------ run
    async def run(self) -> str:
        """Download every piece, hash in file order, fsync; return the SHA-256 (hex).

        Raises :class:`NoRangeSupport` before anything is kept when the server
        ignores Range, and the single stream's errors otherwise.
        """
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        self._fd = os.open(self.part, flags, 0o644)
        try:
            if not self._resume():
                self._fresh()
            restarts = 0
            while True:
                try:
                    digest = await self._round()
                    break
                except _Changed as change:
                    restarts += 1
                    if restarts > self.retries:
                        raise DownloadError(
                            f"giving up on {self.url}: it kept changing while downloading "
                            f"({change}); try again later"
                        ) from None
                    self.state = PartialState(url=self.url, total=self.size)
                    self._fresh()
            await self._call(durable_sync, self._fd)
            return digest
        finally:
            # Threads still writing must finish before the descriptor goes away.
            self._pool.shutdown(wait=True)
            os.close(self._fd)

    def _fresh(self) -> None:
        self.plan = PiecePlan.fresh(self.size, self.piece_size)
        # The sidecar's pieces first: a preallocated .part is never without them (a
        # crash in between leaves a short file, which the next pull starts afresh).
        self._save()
        os.ftruncate(self._fd, self.size)
        self._report()

    def _resume(self) -> bool:
        """Take up the pieces a sidecar recorded for this URL and size, if they fit."""
        state = read_sidecar(self.sidecar)
        if state is None or state.url != self.url or state.total not in (None, self.size):
            return False
        have = os.fstat(self._fd).st_size
        if state.pieces is None:
            # One stream's .part (an earlier pull with one connection): its bytes
            # are the file's first ones; the pieces take up from there.
            if not 0 < have < self.size:
                return False
            os.ftruncate(self._fd, self.size)
            self.state, self.seen_partial = replace(state, total=self.size), True
            self.plan = PiecePlan.fresh(self.size, self.piece_size, have=have)
            self._save()
            self._report()
            return True
        if have != self.size:
            return False
        plan = PiecePlan.recorded(state.pieces, self.size)
        if plan is None:
            return False
        self.state, self.plan = replace(state, pieces=None), plan
        self.seen_partial = plan.done_bytes() > 0
        self._report()
        return True

    async def _round(self) -> str:
        """One pass over the pieces: N workers and the hasher; raise the first failure."""
        self.plan.release_all()
        if self.seen_partial:
            self._ranged.set()
        hasher = asyncio.ensure_future(self._hash())
        # The first worker's first answer says whether the server does ranges at
        # all; only then do the others connect (no wasted whole-file answers).
        workers = [asyncio.ensure_future(self._worker(i == 0)) for i in range(self.connections)]
        tasks = [*workers, hasher]
        try:
            await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for worker in workers:
                if worker.done() and not worker.cancelled() and worker.exception() is not None:
                    raise worker.exception()  # type: ignore[misc]
            self._wake.set()
            return await hasher
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            # A cancelled write may still run on its thread: let it land before a
            # restart rewrites the pieces (or the caller deletes the file).
            wait(list(self._inflight))

    # -------------------------------------------------------------- workers
    async def _worker(self, first: bool) -> None:
        if not first:
            await self._ranged.wait()
        failures = 0
        while (piece := self.plan.take()) is not None:
            before = piece.done
            try:
                await self._fetch(piece)
                failures = 0
                continue
            except (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch) as exc:
                raise DownloadError(f"TLS failure talking to {self.url}: {exc}") from exc
            except TRANSIENT_ERRORS as exc:
                error: BaseException = exc
            except aiohttp.ClientError as exc:
                raise DownloadError(
                    f"cannot download {self.url}: {describe_error(exc)}; check the URL"
                ) from exc
            finally:
                piece.taken = False
            failures = 0 if piece.done > before else failures + 1
            if failures > self.retries:
                raise gave_up(self.url, self.retries, error) from error
            await retry_pause(self.backoff, failures, error)

    async def _fetch(self, piece: Piece) -> None:
        asked, state = piece.end, self.state  # piece.end may drop while it runs
        headers = range_headers(
            self.headers, f"{piece.done}-{asked - 1}", state.etag, state.last_modified
        )
        await exchange(
            self.session,
            self.url,
            headers,
            lambda answer, watch: self._receive(answer, piece, asked, watch),
            token=self.token,
            max_redirects=self.max_redirects,
            stall_timeout=self.stall_timeout,
            on_stall=self.on_stall,
        )

    async def _receive(self, answer: Answer, piece: Piece, asked: int, watch: StallWatch) -> None:
        """Write the body of the answer for bytes ``piece.done`` to ``asked`` into the piece.

        ``piece.end`` may drop below ``asked`` meanwhile (another worker took the
        upper half): the body is then read up to the new end only.
        """
        response = answer.response
        check_status(answer, self.url, token_withheld=self.token_withheld)
        if response.status == 200:
            if not self.seen_partial:
                raise NoRangeSupport(self.url)
            raise _Changed("the server sent the whole file again (If-Range failed)")
        if response.status == 416:
            raise _Changed(f"HTTP 416 for bytes {piece.done}-")
        match = CONTENT_RANGE.fullmatch(response.headers.get(hdrs.CONTENT_RANGE, "").strip())
        if match is None or int(match[1]) != piece.done:
            raise RetryableError(
                f"asked for bytes {piece.done}- but got Content-Range "
                f"{response.headers.get(hdrs.CONTENT_RANGE)!r}"
            )
        if match[3] != "*" and int(match[3]) != self.size:
            raise VerificationError(
                f"{self.url} announces {int(match[3])} bytes (Content-Range) but the catalog "
                f"says {self.size}; the catalog entry or the URL is wrong"
            )
        self._check_version(response)
        self.seen_partial = True
        self._ranged.set()
        content, fd, first = response.content, self._fd, piece.done
        while piece.done < piece.end:
            watch.waiting()
            data = await read_chunk(content)
            watch.arrived()
            if not data:
                break
            if piece.done + len(data) > asked:
                raise VerificationError(
                    f"{self.url} sent more than the bytes {first}-{asked - 1} asked for; "
                    "the server is wrong"
                )
            # Only up to the piece's end: past it (after a split) is another worker's.
            view = memoryview(data)[: piece.end - piece.done]
            piece.writing = len(view)
            try:
                await self._call(_write_all, fd, view, piece.done)
            finally:
                piece.writing = 0
            piece.done += len(view)
            self._progressed()
        if piece.done < piece.end:
            raise RetryableError(f"a segment ended after {piece.done - piece.start} bytes")
        if piece.end < asked:
            response.close()  # the rest of the body is not wanted: drop the connection
        # Complete: its writeback can start now, whatever the hasher has reached;
        # not awaited, so a congested disk never holds up the next piece (the
        # pool is joined before the descriptor closes).
        self._pool.submit(start_writeback, fd, first, piece.done - first)
        self._save()

    def _check_version(self, response: aiohttp.ClientResponse) -> None:
        """Every piece must come from the same version of the file as the first."""
        etag, modified = response.headers.get(hdrs.ETAG), response.headers.get(hdrs.LAST_MODIFIED)
        state = self.state
        if state.etag is None and state.last_modified is None:
            self.state = replace(state, etag=etag, last_modified=modified)
            self._save()
            return
        if (state.etag and etag and etag != state.etag) or (
            not state.etag and state.last_modified and modified != state.last_modified
        ):
            raise _Changed(f"the ETag changed from {state.etag} to {etag}")

    # --------------------------------------------------------------- hasher
    async def _hash(self) -> str:
        digest, hashed = hashlib.sha256(), 0
        while hashed < self.size:
            limit = self.plan.prefix()
            if limit <= hashed:
                self._wake.clear()
                await self._wake.wait()
                continue
            count = min(limit - hashed, _HASH_BLOCK)
            await self._call(_hash_range, self._fd, hashed, count, digest)
            hashed += count
        return digest.hexdigest()

    # ------------------------------------------------------------- plumbing
    def _progressed(self) -> None:
        self._wake.set()
        self._report()
        now = time.monotonic()
        if now - self._sidecar_at >= _SIDECAR_EVERY:
            self._save()

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.plan.done_bytes(), self.size)

    def _save(self) -> None:
        self._sidecar_at = time.monotonic()
        write_sidecar(self.sidecar, replace(self.state, pieces=self.plan.records()))

    async def _call(self, function: Callable[..., _T], *args: object) -> _T:
        future: Future[_T] = self._pool.submit(function, *args)
        self._inflight.add(future)  # type: ignore[arg-type]
        future.add_done_callback(self._inflight.discard)
        return await asyncio.wrap_future(future)


def _write_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _hash_range(fd: int, offset: int, count: int, digest: hashlib._Hash) -> None:
    while count > 0:
        block = os.pread(fd, min(count, _HASH_BLOCK), offset)
        if not block:
            raise OSError(f"the .part file ended at byte {offset}")
        digest.update(block)
        offset, count = offset + len(block), count - len(block)
