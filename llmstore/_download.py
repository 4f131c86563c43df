"""Resumable, verified HTTP downloads into the models directory."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn, TypeAlias, final

import aiohttp
from aiohttp import hdrs

from llmstore._hashing import HashingWriter, _raise_disk_full
from llmstore._http import (
    CONTENT_RANGE,
    TRANSIENT_ERRORS,
    Answer,
    RetryableError,
    check_status,
    content_range_total,
    describe_error,
    exchange,
    gave_up,
    read_chunk,
    retry_pause,
    strong_validator,
    widen_reads,
)
from llmstore._partial import (
    PartialState,
    discard_partial,
    load_resumable,
    partial_paths,
    write_sidecar,
)
from llmstore._persist import fsync_directory
from llmstore._segments import PIECE_SIZE, NoRangeSupport, SegmentedTransfer
from llmstore._stall import StallWatch
from llmstore.errors import DiskFullError, DownloadError, VerificationError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DownloadResult",
    "ProgressCallback",
    "download_file",
    "open_session",
]

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
ProgressCallback: TypeAlias = Callable[[int, int | None], None]
"""Called as ``on_progress(bytes_done, total)``; ``total`` is ``None`` while unknown."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


@final
@dataclass(frozen=True, slots=True)
class DownloadResult:
    """A finished, verified download: where it is, its size and its SHA-256 (hex)."""

    path: Path
    size: int
    sha256: str


def open_session(
    *,
    sock_connect: float = 30.0,
    sock_read: float = 60.0,
    read_bufsize: int = 1024 * 1024,
    trust_env: bool = False,
) -> aiohttp.ClientSession:
    """Return a ``ClientSession`` fit for large downloads; the caller closes it.

    No total timeout (aiohttp's default of 300 s kills long downloads), only
    connect and per-read limits; no transparent decompression (bytes on disk
    must be the bytes hashed); statuses are checked by :func:`download_file`.
    Must be called with a running event loop.
    """
    timeout = aiohttp.ClientTimeout(
        total=None, connect=None, sock_connect=sock_connect, sock_read=sock_read
    )
    return aiohttp.ClientSession(
        timeout=timeout,
        auto_decompress=False,
        raise_for_status=False,
        read_bufsize=read_bufsize,
        trust_env=trust_env,
    )


async def download_file(
    session: aiohttp.ClientSession,
    url: str,
    dest: Path,
    *,
    expected_size: int | None = None,
    sha256: str | None = None,
    min_size: int = 0,
    on_progress: ProgressCallback | None = None,
    on_stall: Callable[[float], None] | None = None,
    token: str | None = None,
    token_withheld: bool = False,
    headers: Mapping[str, str] | None = None,
    verify: Callable[[Path], None] | None = None,
    retries: int = 5,
    backoff: float = 0.5,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    max_redirects: int = 10,
    stall_timeout: float | None = 20.0,
    connections: int = 1,
    piece_size: int | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest`` atomically, resuming and verifying; return the result.

    Bytes go to ``<dest>.part`` (with a ``<dest>.part.json`` sidecar) and are
    hashed on worker threads as they arrive. Dropped connections, truncated
    bodies, read timeouts and 408/429/5xx answers are retried up to
    ``retries`` times in a row (a retry that made progress resets the count)
    with exponential backoff and jitter, resuming with ``Range``/``If-Range``.
    A connection that sends no byte for ``stall_timeout`` seconds (None: no
    limit but the session's) is dropped and resumed the same way, counted as
    a retry; while no byte comes, ``on_stall(seconds)`` is called about once
    a second. A ``.part`` left by an earlier process for the same URL is
    resumed too. ``token`` is sent as a bearer token to ``url``'s origin only,
    never across a redirect to another one; ``token_withheld`` says the caller
    has a token it chose not to send (it words the 401 message).
    A ``Content-Length`` (200) or ``Content-Range`` size (206) other than
    ``expected_size`` fails before the body is read. With ``connections`` > 1
    and an ``expected_size`` of at least two pieces, the file is fetched in
    pieces over that many connections (see ``_segments``); a server that
    ignores Range gets one stream.
    Once complete the file is checked (at least ``min_size`` bytes, exactly
    ``expected_size`` and ``sha256`` when given, then ``verify(path)`` in a
    thread), fsynced and renamed onto ``dest``.

    Raises :class:`AuthenticationRequiredError` on 401/403,
    :class:`HTTPStatusError` on other non-retried statuses,
    :class:`DiskFullError` when the disk lacks room, :class:`VerificationError`
    when the bytes are not the expected ones, :class:`DownloadError` when
    retries run out or redirects are bad, and whatever ``verify`` raises.
    On any failure, and on cancellation (``CancelledError`` propagates), the
    ``.part`` file and sidecar are deleted first; only a crash leaves them.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(
            f"cannot download {url!r}: only http:// and https:// URLs are supported"
        )
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"sha256 must be 64 hex digits, got {sha256!r}")
    if chunk_size <= 0 or retries < 0 or backoff < 0 or connections < 1:
        raise ValueError(
            "chunk_size and connections must be positive, retries and backoff not negative"
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    request_headers = {**(headers or {}), hdrs.ACCEPT_ENCODING: "identity"}
    request_headers.pop(hdrs.AUTHORIZATION, None)  # only ever as `token`, scoped to its origin
    job = _Download(session, url, dest, request_headers, expected_size, chunk_size)
    job.max_redirects, job.on_progress, job.on_stall = max_redirects, on_progress, on_stall
    job.token, job.token_withheld, job.stall_timeout = token, token_withheld, stall_timeout
    try:
        pieces = piece_size or _piece_size(expected_size or 0, connections)
        floor = 2 * pieces if piece_size else max(2 * pieces, MIN_SEGMENTED)
        segmented = connections > 1 and (expected_size or 0) >= floor
        if segmented:
            assert expected_size is not None
            job._check_space(expected_size, 0)
            transfer = SegmentedTransfer(
                session, url, job.part, job.sidecar, request_headers, expected_size,
                connections=connections, chunk_size=chunk_size, max_redirects=max_redirects,
                token=token, token_withheld=token_withheld, stall_timeout=stall_timeout,
                retries=retries, backoff=backoff, on_progress=on_progress, on_stall=on_stall,
                piece_size=pieces,
            )  # fmt: skip
            try:
                size, digest = expected_size, await transfer.run()
            except NoRangeSupport:
                discard_partial(dest)  # then one stream, from the start
                segmented = False
        if not segmented:
            await job.transfer(retries, backoff)
            size, digest = await job.writer.finish()
        _check_file(url, size, digest, expected_size, sha256, min_size)
        part, _ = partial_paths(dest)
        if verify is not None:
            try:
                await asyncio.to_thread(verify, part)
            except VerificationError as error:
                # The .part is deleted below: name what the user knows instead.
                text = str(error).replace(str(part), f"the file downloaded from {url}")
                raise VerificationError(text) from None
        # Synchronous on purpose: a cancel must not land between the rename
        # and our bookkeeping (the file would be installed yet reported cancelled).
        _install(part, dest)
    except BaseException as error:
        # Also on CancelledError: an abandoned .part is only for crash recovery.
        try:
            await job.writer.abort()
        finally:
            discard_partial(dest)
        if isinstance(error, OSError):  # the sidecar, say, hit a full disk
            _raise_disk_full(error, job.part)
        raise
    discard_partial(dest)  # the sidecar; the .part is now dest
    if on_progress is not None:
        on_progress(size, size)
    return DownloadResult(path=dest, size=size, sha256=digest)


#: smaller files are fetched over one connection: a few more round trips cost more
MIN_SEGMENTED = 4 * 1024 * 1024


def _piece_size(size: int, connections: int) -> int:
    """About four pieces per connection, 1 to 16 MiB each.

    Small pieces keep the complete prefix (which the hash follows) close behind
    the fastest connection and spread the last bytes over every connection.
    """
    return max(1024 * 1024, min(PIECE_SIZE, size // (connections * 4)))


_Retry = RetryableError


@final
class _Download:
    """The state of one download across its attempts."""

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
        headers = dict(self.headers)
        if offset:
            headers[hdrs.RANGE] = f"bytes={offset}-"
            validator = strong_validator(self.state.etag, self.state.last_modified)
            if validator:
                headers[hdrs.IF_RANGE] = validator
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
        limit, writer, content = total, self.writer, response.content
        widen_reads(response)
        while True:
            watch.waiting()
            piece = await read_chunk(content)
            watch.arrived()
            if not piece:
                break
            if limit is not None and writer.size + len(piece) > limit:
                raise VerificationError(
                    f"{self.url} sent more than the expected {limit} bytes; "
                    "the server or the catalog entry is wrong"
                )
            await writer.write(piece)
            self._report(writer.size, total)
        if total is not None and writer.size < total:
            raise _Retry(f"body ended after {writer.size} of {total} bytes")

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
        raise _Retry(f"{reason}; restarting from byte 0")

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


def _check_file(
    url: str,
    size: int,
    digest: str,
    expected_size: int | None,
    sha256: str | None,
    min_size: int,
) -> None:
    if size < min_size:
        raise VerificationError(
            f"{url} gave only {size} bytes, less than the {min_size} a model file needs; "
            "check the URL"
        )
    if expected_size is not None and size != expected_size:
        raise VerificationError(f"{url} gave {size} bytes but {expected_size} were expected")
    if sha256 is not None and digest != sha256:
        raise VerificationError(
            f"{url} has SHA-256 {digest} but {sha256} was expected; "
            "the download was corrupted or the catalog entry is wrong"
        )


def _install(part: Path, dest: Path) -> None:
    """Move the verified ``part`` onto ``dest`` atomically and make the rename durable."""
    os.replace(part, dest)
    fsync_directory(dest.parent)
