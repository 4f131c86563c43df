"""Read a download's body from the socket straight into a few reused buffers.

aiohttp hands a body over as ``bytes``: the transport receives each socket
read into a new object and the HTTP parser copies the body out of it into
another, then the writer joins them for the hash: three copies of every
byte and an allocation per read before the disk sees it (measured for 1 GiB
on loopback with perf: reading this way instead took 0.4 CPU-seconds off
the event loop thread and 0.15 off the hash thread, the join).
Once the headers are parsed, a body of known length (``Content-Length``,
not chunked) is read here instead: the connection's transport is switched
to a :class:`asyncio.BufferedProtocol` that ``recv_into``\\s a ring of
fixed blocks, and each full block goes to the hash and write threads as one
``memoryview``; it is refilled once both are done with it. One copy from the
socket, no allocation per read, memory bounded by the ring.

The connection cannot go back to aiohttp's pool afterwards (its parser never
saw the body), so the response is closed when the body is done: fine for a
download, which is one long request per connection.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import final

import aiohttp
from aiohttp import hdrs

__all__ = ["BodyBlocks", "take_over"]


def take_over(
    response: aiohttp.ClientResponse,
    *,
    block_size: int,
    blocks: int,
    read_size: int,
    read_timeout: float | None,
    on_bytes: Callable[[int], None],
) -> tuple[bytes, BodyBlocks] | None:
    """Switch ``response``'s connection to a :class:`BodyBlocks`; ``None`` when it cannot.

    Returns the body bytes aiohttp had already buffered (they come first) and
    the reader of the rest. Only a body with a ``Content-Length``, neither
    chunked nor already complete, on a connection with a transport, is taken
    over; anything else (``None``) is read the usual way. One socket read
    takes at most ``read_size`` bytes. ``on_bytes`` is
    called on every socket read with the body bytes received so far (those
    already buffered included), for stall detection and progress; ``read_timeout`` (None: no
    limit) is how long a read may wait for a byte before :meth:`BodyBlocks.next`
    raises ``TimeoutError``.
    """
    connection = response.connection
    transport = connection.transport if connection is not None else None
    length = response.content_length
    content = response.content
    if (
        transport is None
        or length is None
        or hdrs.TRANSFER_ENCODING in response.headers
        or content.is_eof()
        or content.exception() is not None
        or not hasattr(transport, "set_protocol")
    ):
        return None
    # Reading what aiohttp buffered also resumes a transport its flow control paused.
    early = content.read_nowait()
    if len(early) >= length:
        if len(early) > length:
            return None
        done = BodyBlocks.finished(transport)
        done.response = response
        return early, done
    reader = BodyBlocks(transport, length - len(early), block_size, blocks, read_timeout, on_bytes)
    reader.received, reader.read_size = len(early), read_size
    reader.response = response
    transport.set_protocol(reader)
    transport.resume_reading()
    return early, reader


@final
class BodyBlocks(asyncio.BufferedProtocol):
    """The rest of a body, ``remaining`` bytes, read into ``blocks`` buffers of ``block_size``.

    :meth:`next` returns each filled block in order as a ``memoryview`` (the
    last may be shorter), ``None`` after the last byte; the caller hands each
    one back with :meth:`recycle` once nothing uses it, which lets reading go
    on (the transport is paused while every block is full). A connection that
    closes early raises ``aiohttp.ClientPayloadError`` from :meth:`next`.
    """

    def __init__(
        self,
        transport: asyncio.BaseTransport,
        remaining: int,
        block_size: int,
        blocks: int,
        read_timeout: float | None,
        on_bytes: Callable[[int], None],
    ) -> None:
        self._transport = transport
        self._remaining = remaining
        self._free: deque[bytearray] = deque(bytearray(block_size) for _ in range(blocks))
        self._filled: deque[memoryview] = deque()
        self._current: bytearray | None = None
        self._used = 0  # bytes of _current filled
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._read_timeout = read_timeout
        self._on_bytes = on_bytes
        self._last_bytes = time.monotonic()
        self._held = 0.0  # seconds paused with every block full, before _held_since
        self._held_since: float | None = None
        #: body bytes received so far
        self.received = 0
        #: the most bytes one socket read takes (each read is a progress report)
        self.read_size = block_size
        #: the response whose connection this reads; closed by :meth:`close`
        self.response: aiohttp.ClientResponse | None = None

    @classmethod
    def finished(cls, transport: asyncio.BaseTransport) -> BodyBlocks:
        """A reader with nothing left to read (aiohttp had the whole body)."""
        return cls(transport, 0, 1, 0, None, lambda _: None)

    # ------------------------------------------------------------ consumer side
    async def next(self) -> memoryview | None:
        """The next filled block, or ``None`` once the body is complete."""
        while not self._filled:
            if self._error is not None:
                raise self._error
            if self._remaining == 0 and self._current is None:
                return None
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            try:
                await asyncio.wait_for(asyncio.shield(self._waiter), self._wait_left())
            except TimeoutError:
                if self._wait_left() == 0:
                    self._fail(TimeoutError("no byte for the session's read timeout"))
                    self._remaining = 0  # whatever comes now is not read
            finally:
                self._waiter = None
        return self._filled.popleft()

    @property
    def held_up(self) -> float:
        """Seconds reading has waited so far for a free block (the consumers are behind)."""
        since = self._held_since
        return self._held + (time.monotonic() - since if since is not None else 0.0)

    def partial(self) -> memoryview | None:
        """Stop reading and return the block being filled (``None`` if empty), for a
        caller that gives up waiting (a stall) but keeps the bytes that came."""
        self._remaining = 0
        self._transport.pause_reading()  # type: ignore[attr-defined]
        block = self._hand_over_partial()
        if block is not None:
            self._filled.pop()
        return block

    def recycle(self, block: memoryview) -> None:
        """Hand back a block :meth:`next` returned; nothing may use it any more."""
        buffer = block.obj
        assert isinstance(buffer, bytearray)
        self._free.append(buffer)
        if self._paused and self._remaining:
            self._paused = False
            if self._held_since is not None:
                self._held += time.monotonic() - self._held_since
                self._held_since = None
            self._transport.resume_reading()  # type: ignore[attr-defined]

    def close(self) -> None:
        """Stop reading and close the connection: aiohttp's parser never saw the body,
        so the connection must not go back to its pool."""
        if self.response is not None:
            self.response.close()
        self._transport.close()

    def _wait_left(self) -> float | None:
        if self._read_timeout is None:
            return None
        return max(0.0, self._read_timeout - (time.monotonic() - self._last_bytes))

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    # ------------------------------------------------------------ protocol side
    def get_buffer(self, sizehint: int) -> memoryview:
        if self._current is None:
            self._current, self._used = self._free.popleft(), 0
        end = min(len(self._current), self._used + self._remaining, self._used + self.read_size)
        return memoryview(self._current)[self._used : end]

    def buffer_updated(self, nbytes: int) -> None:
        assert self._current is not None
        self._used += nbytes
        self._remaining -= nbytes
        self.received += nbytes
        self._last_bytes = time.monotonic()
        self._on_bytes(self.received)
        if self._used == len(self._current) or not self._remaining:
            self._filled.append(memoryview(self._current)[: self._used])
            self._current = None
            self._wake()
        if not self._remaining or (self._current is None and not self._free):
            # The body is complete (bytes after it are not ours), or no block is free.
            self._paused = True
            if self._remaining:  # every block full: held up by the hash and write threads
                self._held_since = time.monotonic()
            self._transport.pause_reading()  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        """For a transport that does not fill buffers itself: copy ``data`` in."""
        view = memoryview(data)
        while view and self._remaining and (self._current is not None or self._free):
            target = self.get_buffer(len(view))
            count = min(len(target), len(view))
            target[:count] = view[:count]
            view = view[count:]
            self.buffer_updated(count)
        if view and self._remaining:
            self._fail(RuntimeError("the transport kept sending while paused"))

    def eof_received(self) -> bool | None:
        if self._remaining:
            self._fail(aiohttp.ClientPayloadError("the connection closed mid-body"))
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        if self._remaining:
            why = f" ({exc})" if exc is not None else ""
            self._fail(aiohttp.ClientPayloadError(f"the connection closed mid-body{why}"))

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._hand_over_partial()  # its bytes are good: a retry resumes after them
        self._wake()

    def _hand_over_partial(self) -> memoryview | None:
        if self._current is None or not self._used:
            return None
        block = memoryview(self._current)[: self._used]
        self._filled.append(block)
        self._current = None
        return block
