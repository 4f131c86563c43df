"""Make a download's bytes durable while it runs, so the final sync has little left to do.

``curl -o`` followed by ``sync`` writes the whole file to the page cache, then
waits for all of it to reach the disk: a 1 GiB file spends most of a second
in that last step. A download that asks the kernel to start writing each
block back as soon as it is written overlaps that disk work with the network,
and its closing ``fdatasync`` only waits for the last blocks. This is what
PostgreSQL's ``pg_flush_data`` does, with the same call: Linux's
``sync_file_range(SYNC_FILE_RANGE_WRITE)``, which starts the writeback and
returns without waiting for it (Python's ``os`` module does not offer it, so
it is reached through ``ctypes``). Blocks already on disk are then dropped
from the page cache (:func:`drop_written`). Elsewhere both do nothing and
the final sync does all the work, as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = [
    "WRITEBACK_EVERY",
    "WritebackTracker",
    "drop_written",
    "durable_sync",
    "start_writeback",
]

#: bytes written between two writeback requests: large enough that each request
#: is one big sequential write, small enough that the final sync waits for little
WRITEBACK_EVERY = 16 * 1024 * 1024
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writeback of dirty pages, do not wait
#: <linux/fs.h>: wait for writeback already running, start it for dirty pages, wait for it
_SYNC_FILE_RANGE_WAIT = 1 | 2 | 4


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        function = libc.sync_file_range
    except (OSError, AttributeError):  # a libc without it (very old, or not glibc/musl)
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    call: Callable[[int, int, int, int], int] = function
    return call


_sync_file_range = _load_sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing ``length`` bytes at ``offset`` of ``fd`` to disk.

    Returns at once (the writing happens in the background); best effort: an
    error is ignored, since the final :func:`durable_sync` still makes every
    byte durable and reports real I/O errors. Blocking only when the disk's
    queue is full, so call it from a worker thread, not the event loop.
    """
    if _sync_file_range is not None and length > 0:
        _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def drop_written(fd: int, offset: int, length: int) -> None:
    """Wait until ``length`` bytes at ``offset`` are on disk, then drop them from the page cache.

    A download is written once and read later (a model is loaded long after it
    is pulled): keeping every written block cached grows the page cache by the
    file's size, evicting what the machine is using (the model being run), and
    each new cached block is fresh memory for the kernel to find. Dropping
    blocks already on disk keeps the cache to a few blocks that are reused as
    they are freed: measured writing 1 GiB (4 MiB writes, writeback every
    16 MiB) on a 2-CPU VM, 0.65-0.70 s with drops against 0.8-2.8 s without,
    most of the difference in the copy into fresh page-cache pages.
    Best effort, like :func:`start_writeback`; blocking (it waits for the disk).
    """
    if _sync_file_range is None or length <= 0 or not hasattr(os, "posix_fadvise"):
        return
    if _sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WAIT) == 0:
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def durable_sync(fd: int) -> None:
    """Make the file's bytes (and its size) durable: ``fdatasync`` where there is one.

    ``fdatasync`` skips the metadata a read does not need (timestamps), which
    is all ``fsync`` adds; the new size is written either way.
    """
    sync = getattr(os, "fdatasync", os.fsync)
    sync(fd)


class WritebackTracker:
    """Count bytes written in file order and start their writeback every ``every`` bytes.

    For a file written from the start onwards (one stream): call
    :meth:`written` after each write, from the writing thread. Each request
    also drops the block the previous one started from the page cache once
    it is on disk (:func:`drop_written`). The request runs on a thread of
    its own, so a congested disk (``sync_file_range`` then waits for room in
    its queue) never holds up the writes; while one
    request runs, the next block waits and is asked for with the one after.
    Call :meth:`close` before closing the descriptor.
    """

    __slots__ = ("_behind", "_busy", "_every", "_fd", "_flushed", "_pool", "_written")

    def __init__(self, fd: int, start: int = 0, every: int = WRITEBACK_EVERY) -> None:
        self._fd = fd
        self._flushed = start  # bytes before this offset have had their writeback started
        self._written = start
        self._every = every
        self._busy = threading.Event()  # a request is running
        #: the block whose writeback the last request started: dropped by the next one
        self._behind: tuple[int, int] | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="llmstore-writeback")

    def written(self, count: int) -> None:
        """Note ``count`` more bytes written; start writing back a block once one is full."""
        self._written += count
        if self._written - self._flushed >= self._every and not self._busy.is_set():
            offset, length = self._flushed, self._written - self._flushed
            self._flushed = self._written
            self._busy.set()
            self._pool.submit(self._start, offset, length)

    def _start(self, offset: int, length: int) -> None:
        try:
            start_writeback(self._fd, offset, length)
            # The block before has had a request's time to reach the disk: wait for
            # the rest of it and drop it from the page cache (see drop_written).
            if self._behind is not None:
                drop_written(self._fd, *self._behind)
            self._behind = (offset, length)
        finally:
            self._busy.clear()

    def close(self) -> None:
        """Wait for a running request (the descriptor must outlive it); stop the thread."""
        self._pool.shutdown(wait=True)
