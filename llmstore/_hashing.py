"""Append a stream to a file and SHA-256 it on worker threads, off the event loop."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar, final

from llmstore._writeback import WritebackTracker, durable_sync
from llmstore.errors import DiskFullError

__all__ = ["HashingWriter", "hash_file_prefix"]

_T = TypeVar("_T")

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)})
_READ_BLOCK = 4 * 1024 * 1024


def _iov_max() -> int:
    """The most buffers one ``writev`` takes: POSIX guarantees 16, Linux and the BSDs 1024."""
    try:
        return max(16, min(1024, os.sysconf("SC_IOV_MAX")))
    except (AttributeError, ValueError, OSError):
        return 16


_IOV_MAX = _iov_max()


def hash_file_prefix(
    path: Path, size: int, hasher: hashlib._Hash, abort: threading.Event | None = None
) -> int:
    """Feed the first ``size`` bytes of ``path`` to ``hasher``; return how many were read.

    Blocking: call it from a thread. Stops early (returning fewer bytes) when
    the file is shorter or ``abort`` is set.
    """
    done = 0
    with path.open("rb") as file:
        while done < size and not (abort is not None and abort.is_set()):
            block = file.read(min(_READ_BLOCK, size - done))
            if not block:
                break
            hasher.update(block)
            done += len(block)
    return done


@final
class HashingWriter:
    """Write byte pieces to ``path`` while hashing them, without blocking the loop.

    Pieces are grouped into batches of about ``batch_size`` bytes. Each batch
    goes to two single-thread executors, one hashing and one writing, so
    network, hashing and disk overlap; each executor keeps its batches in
    order. At most ``max_pending`` batches are in flight, which bounds memory
    to about ``(max_pending + 1) * batch_size`` whatever the file size.

    Use from one event loop: :meth:`open`, then :meth:`write` per piece, then
    :meth:`finish`, or :meth:`abort` on any failure. Disk-full errors raise
    :class:`~llmstore.errors.DiskFullError` from :meth:`write` or :meth:`finish`.
    """

    __slots__ = (
        "_abort",
        "_batch",
        "_batch_bytes",
        "_batch_size",
        "_closed",
        "_fd",
        "_hash_pool",
        "_hasher",
        "_max_pending",
        "_pending",
        "_write_pool",
        "_writeback",
        "path",
        "size",
    )

    def __init__(self, path: Path, *, batch_size: int, max_pending: int = 3) -> None:
        if batch_size <= 0 or max_pending <= 0:
            raise ValueError("batch_size and max_pending must be positive")
        self.path = path
        self.size = 0
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._pending: deque[asyncio.Future[None]] = deque()
        self._abort = threading.Event()
        self._hasher = hashlib.sha256()
        self._fd: int | None = None  # a raw descriptor: writev, no buffered copy
        self._writeback: WritebackTracker | None = None
        self._closed = False
        self._hash_pool = ThreadPoolExecutor(1, thread_name_prefix="llmstore-hash")
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="llmstore-write")

    async def open(self, *, keep: int = 0) -> None:
        """Open (or create) the file, keeping and re-hashing its first ``keep`` bytes.

        Anything after ``keep`` bytes is cut off. Raises ``OSError`` when the
        file cannot be opened.
        """

        def open_file() -> None:
            # O_NOFOLLOW: a symlink planted as the file must not be written through.
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(self.path, flags, 0o644)
            self._fd = fd
            if os.fstat(fd).st_size > keep:
                os.ftruncate(fd, keep)
            os.lseek(fd, keep, os.SEEK_SET)
            self._writeback = WritebackTracker(fd, keep)

        await self._run(self._write_pool, open_file)
        if keep:
            # Re-hashing a multi-gigabyte leftover takes seconds: run it on the
            # hash thread, checking the abort flag so a cancel stops it early.
            read = await self._run(
                self._hash_pool,
                lambda: hash_file_prefix(self.path, keep, self._hasher, self._abort),
            )
            if read != keep and not self._abort.is_set():
                raise OSError(f"{self.path} shrank while being re-hashed ({read} of {keep} bytes)")
        self.size = keep

    async def write(self, piece: bytes) -> None:
        """Append ``piece``; wait only when ``max_pending`` batches are already in flight."""
        self._batch.append(piece)
        self._batch_bytes += len(piece)
        self.size += len(piece)
        if self._batch_bytes >= self._batch_size:
            await self.flush()

    async def write_block(self, block: memoryview, release: Callable[[memoryview], None]) -> None:
        """Append ``block`` as a batch of its own; ``release(block)`` once both threads are done.

        For a caller that reuses its buffers (see ``_body``): no copy, no join.
        After a failure ``release`` is not called (the transfer is over anyway).
        """
        await self.flush()  # pieces written before go first
        self.size += len(block)
        future = self._submit([block])
        future.add_done_callback(lambda done: _release_after(done, block, release))
        self._pending.append(future)
        await self._throttle()

    async def flush(self) -> None:
        """Hand the buffered pieces to the worker threads (does not fsync)."""
        if self._batch:
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            self._pending.append(self._submit(batch))
        await self._throttle()

    async def _throttle(self) -> None:
        while len(self._pending) > self._max_pending:
            await self._pending.popleft()

    async def restart(self) -> None:
        """Throw away everything written so far and start again from byte 0."""
        await self._drain()
        self._batch, self._batch_bytes = [], 0

        def truncate() -> None:
            assert self._fd is not None
            os.lseek(self._fd, 0, os.SEEK_SET)
            os.ftruncate(self._fd, 0)
            if self._writeback is not None:
                self._writeback.close()
            self._writeback = WritebackTracker(self._fd)

        def reset_hash() -> None:
            self._hasher = hashlib.sha256()

        await self._run(self._write_pool, truncate)
        await self._run(self._hash_pool, reset_hash)
        self.size = 0

    async def finish(self) -> tuple[int, str]:
        """Write everything, fsync and close the file; return its size and SHA-256 hex digest."""
        await self.flush()
        await self._drain()

        def sync_and_close() -> int:
            assert self._fd is not None
            fd, self._fd = self._fd, None
            try:
                self._close_writeback()
                # Most bytes are on disk already (their writeback started as they
                # were written): this waits for the last few blocks only.
                durable_sync(fd)
                return os.fstat(fd).st_size
            finally:
                os.close(fd)

        try:
            size = await self._run(self._write_pool, sync_and_close)
            digest = await self._run(self._hash_pool, lambda: self._hasher.hexdigest())
        except OSError as exc:
            _raise_disk_full(exc, self.path)
            raise
        finally:
            self._shutdown()
        return size, digest

    async def stop(self) -> None:
        """Write everything and close the file, kept as it is (no fsync, no digest).

        For a stream that hands the rest of the file to another writer.
        """
        await self.flush()
        await self._drain()
        await self.abort()  # nothing is left in flight: this only closes

    async def abort(self) -> None:
        """Stop the workers after their current batch and close the file. Never raises.

        Does nothing after :meth:`finish` or a previous :meth:`abort`.
        """
        if self._abort.is_set() or self._closed:
            return
        self._abort.set()
        self._batch, self._batch_bytes = [], 0
        pending, self._pending = list(self._pending), deque()
        closed = asyncio.get_running_loop().run_in_executor(self._write_pool, self._close)
        # Queued batches return at once (abort flag), so this waits for at
        # most the batch each thread is running now.
        waiting = asyncio.gather(*pending, closed, return_exceptions=True)
        try:
            # Shielded: a cancel landing here (a cancel right after a failure)
            # must not drop the queued close, which would leak the open file.
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(lambda _: self._shutdown())
            raise
        self._shutdown()

    def _submit(self, batch: list[bytes | memoryview]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        hashed = loop.run_in_executor(self._hash_pool, self._hash_batch, batch)
        written = loop.run_in_executor(self._write_pool, self._write_batch, batch)
        return asyncio.ensure_future(_both(hashed, written, self.path))

    def _hash_batch(self, batch: list[bytes | memoryview]) -> None:
        if self._abort.is_set():
            return
        # One update for the whole batch, though joining copies it: each update
        # gives the GIL up and must win it back from the busy event loop, which
        # per socket-sized piece (hundreds a second) left this thread waiting more
        # than hashing (measured: a 1 GiB pull took 1.4x as long, with more CPU).
        self._hasher.update(batch[0] if len(batch) == 1 else b"".join(batch))

    def _write_batch(self, batch: list[bytes | memoryview]) -> None:
        if self._abort.is_set():
            return
        fd, writeback = self._fd, self._writeback
        if fd is None or writeback is None:  # an earlier batch failed and closed the file
            raise OSError(f"{self.path} is closed after an earlier write error")
        try:
            writeback.written(_write_batch(fd, batch))
        except OSError:
            # Later batches must not write after a gap.
            self._close()
            raise

    def _close_writeback(self) -> None:
        writeback, self._writeback = self._writeback, None
        if writeback is not None:
            writeback.close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        self._close_writeback()  # before the descriptor closes: a request may use it
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass  # the data is being thrown away anyway

    async def _drain(self) -> None:
        while self._pending:
            await self._pending.popleft()

    async def _run(self, pool: ThreadPoolExecutor, func: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(pool, func)

    def _shutdown(self) -> None:
        # Both threads are idle or about to be; do not block the loop joining them.
        self._closed = True
        self._hash_pool.shutdown(wait=False, cancel_futures=True)
        self._write_pool.shutdown(wait=False, cancel_futures=True)


def _write_batch(fd: int, batch: list[bytes | memoryview]) -> int:
    """Write ``batch`` at ``fd``'s position, a system call per ``_IOV_MAX`` pieces; its size."""
    total = 0
    for first in range(0, len(batch), _IOV_MAX):
        group = batch[first : first + _IOV_MAX]
        size = sum(len(piece) for piece in group)
        written = os.writev(fd, group) if hasattr(os, "writev") else 0  # Windows: none
        if written < size:  # a short write (a signal, a nearly full disk): the rest
            _write_rest(fd, group, written)
        total += size
    return total


def _write_rest(fd: int, group: list[bytes | memoryview], skip: int) -> None:
    """Write what a short ``writev`` of ``group`` left, ``skip`` bytes in."""
    for piece in group:
        if skip >= len(piece):
            skip -= len(piece)
            continue
        view = memoryview(piece)[skip:]
        skip = 0
        while view:
            view = view[os.write(fd, view) :]


def _release_after(
    done: asyncio.Future[None], block: memoryview, release: Callable[[memoryview], None]
) -> None:
    if not done.cancelled() and done.exception() is None:
        release(block)


async def _both(hashed: asyncio.Future[None], written: asyncio.Future[None], path: Path) -> None:
    try:
        await asyncio.gather(hashed, written)
    except OSError as exc:
        _raise_disk_full(exc, path)
        raise


def _raise_disk_full(exc: OSError, path: Path) -> None:
    """Raise DiskFullError from ``exc`` when it means the disk or file size limit is hit."""
    if exc.errno in _DISK_FULL_ERRNOS:
        raise DiskFullError(
            f"no space left writing {path} ({os.strerror(exc.errno or errno.ENOSPC)}); "
            "free some disk space or choose another models directory"
        ) from exc
