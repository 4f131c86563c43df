"""Test helpers: a loopback HTTP server for model files, with fault injection.

``ModelServer`` serves the files of a directory on 127.0.0.1 with correct
``Range``, ``If-Range`` and ``ETag`` handling, logs every request, and can be
told at run time to misbehave for a file (see ``Fault``):

    async with ModelServer(tmp_path) as server:
        server.add_fault("m.gguf", Fault(drop_after=1000))  # next request only
        server.add_fault("m.gguf", Fault(status=503), times=2)
        url = server.url_for("m.gguf")
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from types import TracebackType
from typing import TypeVar, final
from urllib.parse import quote

from aiohttp import hdrs, web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = ["Fault", "ModelServer", "RequestRecord", "ThreadedModelServer"]

_T = TypeVar("_T")

_BLOCK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")


@final
@dataclass(frozen=True, slots=True)
class Fault:
    """How the server misbehaves on one request for a file; fields combine.

    ``status``: answer this status (e.g. 500, 404) instead of the file.
    ``redirect_to``: answer 302 to this file name or absolute URL (``file://``
    included, to test that clients refuse it).
    ``drop_after``: close the connection after this many body bytes.
    ``extra_length``: announce this many bytes more than are sent, then close.
    ``ignore_range``: answer 200 with the whole file even to a ``Range`` request.
    ``range_start``: answer a ``Range`` request with a 206 starting at this
    byte instead of the one asked for (a broken cache or proxy).
    ``etag``: send this ETag (quoted) instead of the file's, and compare
    ``If-Range`` against it.
    ``bytes_per_second``: send no faster than this.
    ``stall_after``/``stall_seconds``: after that many body bytes, send
    nothing for that long.
    ``endless``: after the file, keep sending zero bytes forever (chunked, no
    ``Content-Length``).
    """

    status: int | None = None
    redirect_to: str | None = None
    drop_after: int | None = None
    extra_length: int = 0
    ignore_range: bool = False
    range_start: int | None = None
    etag: str | None = None
    bytes_per_second: float | None = None
    stall_after: int | None = None
    stall_seconds: float = 0.0
    endless: bool = False


@final
@dataclass(slots=True)
class RequestRecord:
    """One request the server received, and what it answered.

    ``content_length`` is what the response announced; ``bytes_sent`` counts
    body bytes actually written, for faulty responses only (healthy ones go
    out through ``sendfile``).
    """

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    status: int = 0
    content_length: int | None = None
    bytes_sent: int = 0
    fault: Fault | None = None

    @property
    def range(self) -> str | None:
        """The ``Range`` header sent, if any."""
        return self.headers.get(hdrs.RANGE)


@dataclass(slots=True)
class _Scheduled:
    fault: Fault
    remaining: int | None  # None: every request from now on


@final
class ModelServer:
    """An aiohttp server on ``host`` (127.0.0.1; random port) serving ``directory``.

    Use as an async context manager, or call ``start()`` and ``close()``.
    Another loopback address such as ``127.0.0.2`` is another host to a client
    (for testing what crosses a redirect between hosts). ``sendfile=False``
    serves healthy answers with plain reads too (for clients that hang up
    mid-body on purpose: aiohttp's ``FileResponse`` can leak its file then).
    With ``token`` set, every request needs ``Authorization: Bearer <token>``
    (401 without one, 403 with a wrong one); ``token`` may be changed at any
    time. ``requests`` lists every request received, in order.
    """

    def __init__(
        self,
        directory: Path,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        sendfile: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.token = token
        self.host = host
        #: healthy answers through aiohttp's FileResponse (fast); False streams them
        #: with plain reads, which never leak a file when clients hang up mid-way
        self.sendfile = sendfile
        self.requests: list[RequestRecord] = []
        self._faults: dict[str, deque[_Scheduled]] = {}
        self._unprepared: dict[int, RequestRecord] = {}
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    async def start(self) -> None:
        """Start listening; raises ``RuntimeError`` when already started."""
        if self._runner is not None:
            raise RuntimeError("ModelServer is already started")
        app = web.Application()
        app.router.add_get("/{name}", self._handle)
        app.on_response_prepare.append(self._on_prepare)
        # handler_cancellation stops a stalled or endless handler once its
        # client hangs up; a short shutdown_timeout keeps close() quick.
        runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, 0))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner, self._port = runner, sock.getsockname()[1]

    async def close(self) -> None:
        """Stop the server and close every connection; safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._unprepared.clear()

    async def __aenter__(self) -> ModelServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>``; raises ``RuntimeError`` before ``start()``."""
        if self._port is None:
            raise RuntimeError("ModelServer is not started")
        return f"http://{self.host}:{self._port}"

    def url_for(self, filename: str) -> str:
        """The URL that serves ``filename`` from the directory."""
        return f"{self.base_url}/{quote(filename)}"

    def requests_for(self, filename: str) -> list[RequestRecord]:
        """The requests received for ``filename``, in order."""
        path = "/" + filename
        return [record for record in self.requests if record.path == path]

    def add_fault(self, filename: str, fault: Fault, *, times: int | None = 1) -> None:
        """Misbehave as ``fault`` on the next ``times`` requests for ``filename``.

        Faults queue up in order; ``times=None`` applies it to every request
        from then on (what follows it in the queue never comes). Raises
        ``ValueError`` when ``times`` is not positive.
        """
        if times is not None and times <= 0:
            raise ValueError("times must be positive or None")
        self._faults.setdefault(filename, deque()).append(_Scheduled(fault, times))

    def throttle(self, filename: str, *, bytes_per_second: float) -> None:
        """Serve ``filename`` no faster than ``bytes_per_second`` from now on."""
        self.add_fault(filename, Fault(bytes_per_second=bytes_per_second), times=None)

    def clear_faults(self, filename: str | None = None) -> None:
        """Forget the queued faults of ``filename``, or of every file."""
        if filename is None:
            self._faults.clear()
        else:
            self._faults.pop(filename, None)

    def write_file(self, filename: str, data: bytes) -> Path:
        """Create or replace ``filename``; a replaced file gets a new ETag."""
        path = self.directory / filename
        old = path.stat().st_mtime_ns if path.exists() else 0
        path.write_bytes(data)
        # Same-size rewrites within the clock's resolution must still change
        # the ETag (mtime and size): move mtime past the old one.
        mtime = max(path.stat().st_mtime_ns, old + 1_000_000_000)
        os.utime(path, ns=(mtime, mtime))
        return path

    def _take_fault(self, filename: str) -> Fault | None:
        queue = self._faults.get(filename)
        if not queue:
            return None
        head = queue[0]
        if head.remaining is not None:
            head.remaining -= 1
            if head.remaining <= 0:
                queue.popleft()
        return head.fault

    async def _on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        record = self._unprepared.pop(id(request), None)
        if record is not None:
            record.status = response.status
            record.content_length = response.content_length

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        record = RequestRecord(
            request.method, request.path, CIMultiDictProxy(CIMultiDict(request.headers))
        )
        self.requests.append(record)
        # Keyed by id, not request storage: string keys warn on aiohttp 3.12+
        # and RequestKey does not exist before it.
        self._unprepared[id(request)] = record
        if self.token is not None:
            auth = request.headers.get(hdrs.AUTHORIZATION)
            if auth != f"Bearer {self.token}":
                status = 401 if auth is None else 403
                return web.Response(status=status, text="a valid bearer token is needed\n")
        fault = record.fault = self._take_fault(name)
        if fault is not None and fault.redirect_to is not None:
            target = fault.redirect_to
            location = target if "://" in target else self.url_for(target)
            return web.Response(status=302, headers={hdrs.LOCATION: location})
        if fault is not None and fault.status is not None:
            return web.Response(status=fault.status, text=f"injected HTTP {fault.status}\n")
        path = self.directory / name
        if name.startswith(".") or not path.is_file():
            return web.Response(status=404, text=f"{name} not found\n")
        if fault is None and self.sendfile:
            return await self._file_response(request, path, record)
        if fault is None:
            fault = Fault()
        return await self._stream(request, path, fault, record)

    async def _file_response(
        self, request: web.Request, path: Path, record: RequestRecord
    ) -> web.StreamResponse:
        # FileResponse (sendfile, fast) reads If-Range only as a date, so it
        # would honour Range under a stale ETag: send the whole file instead.
        if_range = request.headers.get(hdrs.IF_RANGE)
        if if_range is not None and if_range.startswith('"') and if_range != _etag(path.stat()):
            return await self._stream(request, path, Fault(ignore_range=True), record)
        return web.FileResponse(path)

    async def _stream(
        self, request: web.Request, path: Path, fault: Fault, record: RequestRecord
    ) -> web.StreamResponse:
        stat = path.stat()
        size = stat.st_size
        etag = fault.etag if fault.etag is not None else _etag(stat)
        modified = formatdate(stat.st_mtime, usegmt=True)
        span = None if fault.ignore_range else _requested_span(request.headers, etag, modified)
        if span is not None and span[0] >= size:
            return web.Response(status=416, headers={hdrs.CONTENT_RANGE: f"bytes */{size}"})
        start, end = span if span is not None else (0, size - 1)
        if span is not None and fault.range_start is not None:
            start = fault.range_start
        end = min(end, size - 1)
        response = web.StreamResponse(status=206 if span is not None else 200)
        response.headers.update(
            {
                hdrs.ETAG: etag,
                hdrs.LAST_MODIFIED: modified,
                hdrs.ACCEPT_RANGES: "bytes",
                hdrs.CONTENT_TYPE: "application/octet-stream",
            }
        )
        if span is not None:
            response.headers[hdrs.CONTENT_RANGE] = f"bytes {start}-{end}/{size}"
        if fault.endless:
            response.enable_chunked_encoding()
        else:
            response.content_length = end - start + 1 + fault.extra_length
        await response.prepare(request)
        sender = _Sender(request, response, fault, record)
        # Plain reads of 256 KiB blocks, the file open only while one is read: a
        # handler abandoned mid-send (its client hung up) never holds it open.
        if not await sender.send_file(path, start, end - start + 1):
            return response
        while fault.endless:
            if not await sender.send(bytes(_BLOCK)):
                return response
        if fault.extra_length:
            # The announced length was not reached: end the body by closing.
            _hang_up(request)
            return response
        await response.write_eof()
        return response


@final
class _Sender:
    """Write body bytes while applying a fault's drop, stall and speed limits."""

    def __init__(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        fault: Fault,
        record: RequestRecord,
    ) -> None:
        self.request = request
        self.response = response
        self.fault = fault
        self.record = record
        self.started = time.monotonic()
        self.stalled = False

    async def send_file(self, path: Path, offset: int, count: int) -> bool:
        """Send ``count`` bytes of ``path`` from ``offset``; ``False`` once dropped."""
        while count > 0:
            with path.open("rb") as file:
                file.seek(offset)
                block = file.read(min(_BLOCK, count))
            if not block:
                break
            count -= len(block)
            offset += len(block)
            if not await self.send(block):
                return False
        return True

    async def send(self, data: bytes) -> bool:
        """Send ``data`` under the fault's rules; ``False`` once the connection is dropped."""
        fault, record = self.fault, self.record
        view = memoryview(data)
        while view:
            piece = view[: self._allowed(len(view))]
            await self.response.write(bytes(piece))
            record.bytes_sent += len(piece)
            view = view[len(piece) :]
            if fault.drop_after is not None and record.bytes_sent >= fault.drop_after:
                _hang_up(self.request)
                return False
            stall_at = fault.stall_after
            if stall_at is not None and not self.stalled and record.bytes_sent >= stall_at:
                self.stalled = True
                await asyncio.sleep(fault.stall_seconds)
            if fault.bytes_per_second:
                due = self.started + record.bytes_sent / fault.bytes_per_second
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        return True

    def _allowed(self, available: int) -> int:
        """How many bytes may go out next, so drops, stalls and throttling are exact."""
        fault, sent = self.fault, self.record.bytes_sent
        limit = available
        for mark in (fault.drop_after, fault.stall_after if not self.stalled else None):
            if mark is not None and mark > sent:
                limit = min(limit, mark - sent)
        if fault.bytes_per_second:
            limit = min(limit, max(1, int(fault.bytes_per_second / 20)))
        return max(1, limit)


def _hang_up(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


def _etag(stat: os.stat_result) -> str:
    """The ETag ``web.FileResponse`` sends for a file with this stat."""
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def _requested_span(headers: Mapping[str, str], etag: str, modified: str) -> tuple[int, int] | None:
    """The ``(first, last)`` bytes asked for, or ``None`` to send the whole file.

    One ``bytes=N-`` or ``bytes=N-M`` range is supported (others get the
    whole file, as RFC 9110 allows); ``If-Range`` must match exactly.
    """
    match = _RANGE.fullmatch(headers.get(hdrs.RANGE, "").strip())
    if match is None:
        return None
    if_range = headers.get(hdrs.IF_RANGE)
    if if_range is not None and if_range not in (etag, modified):
        return None
    last = int(match[2]) if match[2] else 2**63
    return int(match[1]), last


class ThreadedModelServer:
    """A ``ModelServer`` running on a background thread with its own event loop.

    For tests whose client is another process or a blocking call. Every method
    may be called from the caller's thread; use it as a context manager (or
    ``start()``/``close()``).
    """

    def __init__(self, directory: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="model-server")
        self.server = ModelServer(directory)

    def start(self) -> None:
        """Start the loop's thread and the server on it; wait until it listens."""
        self.thread.start()
        self.call(self.server.start())

    def __enter__(self) -> ThreadedModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; raises ``RuntimeError`` before ``start()``."""
        return self.server.base_url

    def close(self) -> None:
        """Stop the server, then its loop and thread; tasks still pending are cancelled."""
        try:
            self.call(self.server.close())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def call(self, coroutine: Awaitable[_T], timeout: float = 30.0) -> _T:
        """Await ``coroutine`` on the server's loop and return its result.

        Raises what the coroutine raises, or ``TimeoutError`` after ``timeout`` seconds.
        """

        async def wrapped() -> _T:
            return await coroutine

        future: Future[_T] = asyncio.run_coroutine_threadsafe(wrapped(), self.loop)
        return future.result(timeout)

    def do(self, function: Callable[[], _T]) -> _T:
        """Run ``function()`` on the server's loop (where the server reads its faults)."""

        async def wrapped() -> _T:
            return function()

        return self.call(wrapped())

    def url_for(self, filename: str) -> str:
        """The URL that serves ``filename`` from the directory."""
        return self.server.url_for(filename)

    def add_fault(self, filename: str, fault: Fault, *, times: int | None = 1) -> None:
        """As ``ModelServer.add_fault``, from any thread."""
        self.do(lambda: self.server.add_fault(filename, fault, times=times))

    def throttle(self, filename: str, *, bytes_per_second: float) -> None:
        """Serve ``filename`` no faster than ``bytes_per_second`` from now on."""
        self.do(lambda: self.server.throttle(filename, bytes_per_second=bytes_per_second))

    def clear_faults(self) -> None:
        """Forget the queued faults of every file."""
        self.do(self.server.clear_faults)

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.do(self.server.requests.clear)

    def requests_for(self, filename: str) -> list[RequestRecord]:
        """The requests received for ``filename``, in order."""
        return self.do(lambda: self.server.requests_for(filename))

    def bytes_sent(self, filename: str) -> int:
        """Body bytes sent on the latest request for ``filename`` (throttled ones count)."""
        records = self.requests_for(filename)
        return records[-1].bytes_sent if records else 0
