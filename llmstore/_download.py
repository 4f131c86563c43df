"""Resumable, verified HTTP downloads into the models directory."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import final

import aiohttp
from aiohttp import hdrs

from llmstore._hashing import _raise_disk_full
from llmstore._partial import discard_partial, partial_paths
from llmstore._persist import fsync_directory
from llmstore._segments import PIECE_SIZE, NoRangeSupport, SegmentedTransfer
from llmstore._split import SplitNow, SplitProbe
from llmstore._stream import ProgressCallback, StreamDownload
from llmstore.errors import DownloadError, VerificationError

__all__ = [
    "AUTO_CONNECTIONS",
    "DEFAULT_CHUNK_SIZE",
    "DownloadResult",
    "ProgressCallback",
    "download_file",
    "open_session",
]

DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024

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
    connections: int | None = 1,
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
    ignores Range gets one stream. ``connections=None`` adapts: one stream
    first, split into pieces over ``AUTO_CONNECTIONS`` connections when that
    stream turns out to leave the machine idle (see ``SplitProbe``).
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
    no_connections = connections is not None and connections < 1  # None: adapt
    if chunk_size <= 0 or retries < 0 or backoff < 0 or no_connections:
        raise ValueError(
            "chunk_size and connections must be positive, retries and backoff not negative"
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    request_headers = {**(headers or {}), hdrs.ACCEPT_ENCODING: "identity"}
    request_headers.pop(hdrs.AUTHORIZATION, None)  # only ever as `token`, scoped to its origin
    job = StreamDownload(session, url, dest, request_headers, expected_size, chunk_size)
    job.max_redirects, job.on_progress, job.on_stall = max_redirects, on_progress, on_stall
    job.token, job.token_withheld, job.stall_timeout = token, token_withheld, stall_timeout
    try:
        most = connections or AUTO_CONNECTIONS
        pieces = piece_size or _piece_size(expected_size or 0, most)
        floor = 2 * pieces if piece_size else max(2 * pieces, MIN_SEGMENTED)
        splittable = most > 1 and (expected_size or 0) >= floor
        segmented = splittable and connections is not None

        async def in_pieces() -> tuple[int, str]:
            assert expected_size is not None
            job._check_space(expected_size, 0)
            transfer = SegmentedTransfer(
                session, url, job.part, job.sidecar, request_headers, expected_size,
                connections=most, chunk_size=chunk_size, max_redirects=max_redirects,
                token=token, token_withheld=token_withheld, stall_timeout=stall_timeout,
                retries=retries, backoff=backoff, on_progress=on_progress, on_stall=on_stall,
                piece_size=pieces,
            )  # fmt: skip
            return expected_size, await transfer.run()

        if segmented:
            try:
                size, digest = await in_pieces()
            except NoRangeSupport:
                discard_partial(dest)  # then one stream, from the start
                segmented = False
        if not segmented:
            if splittable:  # connections=None: one stream first, pieces if it idles
                job.probe = SplitProbe(expected_size or 0, floor)
            try:
                await job.transfer(retries, backoff)
                size, digest = await job.writer.finish()
            except SplitNow:
                await job.writer.stop()  # the .part and sidecar stay: the pieces resume them
                size, digest = await in_pieces()
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
#: the most connections ``connections=None`` splits a download into
AUTO_CONNECTIONS = 4


def _piece_size(size: int, connections: int) -> int:
    """About four pieces per connection, 1 to 16 MiB each.

    Small pieces keep the complete prefix (which the hash follows) close behind
    the fastest connection and spread the last bytes over every connection.
    """
    return max(1024 * 1024, min(PIECE_SIZE, size // (connections * 4)))


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
