"""One HTTP GET of a download: redirects followed by hand, statuses judged, errors worded.

Redirects are followed here, not by aiohttp, so the bearer token goes to the
first URL's origin (scheme, host and port) and nowhere else, whatever the
aiohttp version: a Hugging Face download redirects to a CDN of another host,
which must never see the user's token.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import final

import aiohttp
from aiohttp import hdrs
from yarl import URL

from llmstore._stall import StallWatch
from llmstore.errors import AuthenticationRequiredError, DownloadError, HTTPStatusError

__all__ = [
    "CONTENT_RANGE",
    "RETRY_STATUSES",
    "TRANSIENT_ERRORS",
    "Answer",
    "RetryableError",
    "check_status",
    "content_range_total",
    "describe_error",
    "exchange",
    "gave_up",
    "get",
    "range_headers",
    "read_chunk",
    "retry_pause",
    "widen_reads",
]

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RetryableError(Exception):
    """An attempt failed in a way worth retrying."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


#: Failures of an attempt that a retry may get past (a dropped or stalled connection).
TRANSIENT_ERRORS = (
    aiohttp.ClientPayloadError,
    aiohttp.ClientConnectionError,
    TimeoutError,
    RetryableError,
)
#: A Content-Range header's value: first byte, last byte, total (or ``*``).
CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.IGNORECASE)
_MAX_DELAY = 30.0


async def retry_pause(backoff: float, failures: int, error: BaseException) -> None:
    """Wait before the next attempt after ``failures`` failures in a row: exponential
    backoff with jitter, capped at 30 s, and no shorter than the server's Retry-After
    (capped too)."""
    delay = min(_MAX_DELAY, backoff * 2 ** max(failures - 1, 0)) * random.uniform(0.5, 1.0)
    retry_after = error.retry_after if isinstance(error, RetryableError) else 0.0
    await asyncio.sleep(max(delay, min(retry_after, _MAX_DELAY)))


def gave_up(url: str, retries: int, error: BaseException) -> DownloadError:
    """The error of a download that failed ``retries`` retries in a row, last with ``error``."""
    text = str(error) if isinstance(error, RetryableError) else describe_error(error)
    return DownloadError(
        f"giving up on {url} after {retries} retries: {text}; "
        "check the network and the server, then pull again"
    )


@final
@dataclass(frozen=True, slots=True)
class Answer:
    """The final (non-redirect) response, and whether the token went with its request."""

    response: aiohttp.ClientResponse
    sent_token: bool


async def get(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    *,
    token: str | None,
    max_redirects: int,
    watch: StallWatch,
) -> Answer:
    """GET ``url``, following up to ``max_redirects`` redirects; the token stays on its origin.

    Raises ``DownloadError`` for a redirect loop, a redirect without a
    ``Location`` and one to a URL that is not http(s).
    """
    current = URL(url, encoded=True)
    origin = current.origin()
    for _ in range(max_redirects + 1):
        request_headers = dict(headers)
        sent_token = bool(token) and current.origin() == origin
        if sent_token:
            request_headers[hdrs.AUTHORIZATION] = f"Bearer {token}"
        watch.waiting()
        response = await session.get(current, headers=request_headers, allow_redirects=False)
        watch.arrived()
        if response.status not in _REDIRECTS:
            return Answer(response, sent_token)
        location = response.headers.get(hdrs.LOCATION, "")
        response.release()
        try:
            target = current.join(URL(location)) if location else None
        except ValueError:
            target = None
        if target is None or target.scheme not in ("http", "https") or not target.host:
            shown = repr(location) if location else "nowhere (no Location header)"
            raise DownloadError(
                f"{url} redirected to {shown}, which is not an http(s) URL; refusing to follow. "
                "Check the URL in the catalog"
            )
        current = target
    raise DownloadError(
        f"{url} redirected more than {max_redirects} times (a redirect loop?); check the URL"
    )


async def exchange(
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    receive: Callable[[Answer, StallWatch], Awaitable[None]],
    *,
    token: str | None,
    max_redirects: int,
    stall_timeout: float | None,
    on_stall: Callable[[float], None] | None,
) -> None:
    """One attempt: GET (see :func:`get`), then ``receive(answer, watch)`` reads the body.

    The response is released after a clean read and closed otherwise; a stall
    of ``stall_timeout`` seconds becomes a :class:`RetryableError`.
    """
    with StallWatch(stall_timeout, on_stall) as watch:
        try:
            answer = await get(
                session, url, headers, token=token, max_redirects=max_redirects, watch=watch
            )
            try:
                await receive(answer, watch)
            except BaseException:
                answer.response.close()
                raise
            answer.response.release()
        except asyncio.CancelledError:
            if not watch.claim():
                raise
            raise RetryableError(f"no data for {stall_timeout:g} s (stalled)") from None


async def read_chunk(content: aiohttp.StreamReader) -> bytes:
    """The next piece of a body as it came off the socket; ``b""`` at its end.

    ``content.read(n)`` joins the buffered pieces into one ``bytes`` of up to
    ``n``: a copy of every byte of a multi-gigabyte body, which costs the loop
    thread more than the network does on a fast link. ``readchunk`` hands the
    pieces over as they are (a few hundred KiB each); the writer batches them.
    """
    while True:
        data, end_of_http_chunk = await content.readchunk()
        if data or not end_of_http_chunk:
            return data
        # b"" with True: the end of one chunk of a chunked body, not of the body


#: bytes asked of the socket per read while a body streams in
READ_SIZE = 1024 * 1024


def widen_reads(response: aiohttp.ClientResponse, size: int = READ_SIZE) -> None:
    """Let the connection under ``response`` read up to ``size`` bytes per system call.

    asyncio's selector transport reads at most 256 KiB at a time (its
    ``max_size``); every read is a callback, an HTTP parser run and a piece
    for the writer and hasher threads to take the GIL for. On a fast link
    larger reads cut the CPU a download costs (measured for 1 GiB on loopback,
    one stream: 4.4 s of CPU at 1 MiB against 5.5 s at 256 KiB; 4 MiB saved a
    little more but raised the peak RSS by 30 MiB). For one stream only: N
    connections share the link, each read is smaller anyway, and N buffers
    would add up. ``max_size`` is an implementation detail, so this only ever
    raises an integer that is there: other event loops are left as they are.
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    current = getattr(transport, "max_size", None)
    if type(current) is int and current < size:
        transport.max_size = size  # type: ignore[union-attr]


def range_headers(
    headers: Mapping[str, str], byte_range: str, etag: str | None, last_modified: str | None
) -> dict[str, str]:
    """``headers`` asking for ``bytes=byte_range`` of the version seen so far: with
    ``If-Range`` the ETag or Last-Modified, never a weak ETag (then no ``If-Range``)."""
    asked = {**headers, hdrs.RANGE: f"bytes={byte_range}"}
    validator = etag or last_modified
    if validator and not validator.startswith("W/"):
        asked[hdrs.IF_RANGE] = validator
    return asked


def check_status(answer: Answer, url: str, *, token_withheld: bool) -> None:
    """Raise unless the status is 200, 206 or 416; the last is handled by the caller."""
    response = answer.response
    status = response.status
    if status in (200, 206, 416):
        encoding = response.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        if status != 416 and encoding not in ("identity", ""):
            raise DownloadError(
                f"{url} sent a {encoding}-encoded body although identity was asked for; "
                "the server or a proxy is misconfigured"
            )
        return
    if status in (401, 403):
        host = response.url.host or "the server"
        if answer.sent_token:
            hint = "the token was refused; check it grants access to this file"
        elif token_withheld:
            hint = (
                f'the token is not sent to {host}: only catalog entries with auth "hf" get '
                "it (by default those on huggingface.co and its configured mirror)"
            )
        elif response.url.origin() != URL(url, encoded=True).origin():
            hint = f"it redirected to {host}, which never gets the token; check the URL"
        else:
            hint = "a token is needed: set $HF_TOKEN or pass token"
        raise AuthenticationRequiredError(f"{url} answered HTTP {status}: {hint}", status, url)
    reason = f"HTTP {status} {response.reason or ''}".rstrip()
    if status in RETRY_STATUSES:
        raise RetryableError(reason, _retry_after(response))
    raise HTTPStatusError(
        f"{url} answered {reason}; check the URL or the catalog entry", status, url
    )


def _retry_after(response: aiohttp.ClientResponse) -> float:
    value = response.headers.get(hdrs.RETRY_AFTER, "")
    return float(value) if value.isdigit() else 0.0


def content_range_total(content_range: str) -> int | None:
    """The complete length in ``bytes */N`` (the form a 416 answer carries)."""
    match = re.fullmatch(r"bytes\s+\*/(\d+)", content_range.strip(), re.IGNORECASE)
    return int(match[1]) if match else None


def describe_error(error: BaseException) -> str:
    """A transport failure in plain words: no library class names, no bogus statuses."""
    if isinstance(error, TimeoutError):
        return "timed out waiting for data"
    if isinstance(error, aiohttp.ClientPayloadError):
        return "the connection closed before the body was complete"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(error, aiohttp.ClientConnectorError):
        reason = error.os_error.strerror or str(error.os_error) or "refused"
        return f"cannot connect to {error.host}:{error.port} ({reason})"
    if isinstance(error, aiohttp.ClientOSError):
        return f"the connection failed ({error.strerror or 'network error'})"
    if isinstance(error, aiohttp.ClientConnectionError):
        return "the connection failed"
    if isinstance(error, aiohttp.InvalidURL):
        return f"{error.url} is not a valid URL"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"the server's answer could not be read ({error.message})"
    return str(error) or "an unexpected network error"
