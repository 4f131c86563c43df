"""When one stream should hand the rest of a file to several connections.

With ``connections=None`` a download starts as one stream: on
loopback or a fast LAN one connection is already as fast as the machine
can hash and write, and more only share the same CPU (measured for 1 GiB
from nginx on loopback: 4 connections 3.4 s against 2.6 s for one). Where
the link, the server or a per-connection cap (a CDN's) is the limit, more
connections add up. :class:`SplitProbe` tells the two apart from the CPU
the process used while the stream ran and from how often its blocks were
all full, waiting for the hash and write threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import final

__all__ = ["SplitNow", "SplitProbe"]


class SplitNow(Exception):
    """The stream stopped on purpose: the rest of the file is fetched in pieces."""


@final
class SplitProbe:
    """Decide, once, whether a single stream should hand the rest to several connections.

    After ``after`` seconds of body, the stream is split when both say the
    client is not the limit: the process used less than ``busy`` of a CPU
    core (``time.process_time``: the hash and write threads count), and the
    reader was held up by the hash and write threads (every block full) for
    less than ``held`` of that time; and at least ``floor`` of the ``size``
    bytes are left. A stream that keeps the client busy, or outruns what it
    can hash and write, is limited by the client (on loopback or a fast LAN
    the hash alone costs about a core at 1 GB/s): more connections would share
    the same CPU and add their own overhead (measured on loopback, 1 GiB: 4
    connections 3.4 s against 2.6 s for one stream). A stream that leaves it
    idle, its blocks waiting for bytes, is limited by the link, the server or
    a per-connection cap (a CDN's), which more connections add up, as
    aria2c's ``-x`` and hf_transfer do. The two signals cover each other on a
    machine busy with other work: a starved stream uses little CPU but its
    blocks fill faster than its starved threads empty them (measured under a
    load of 6 on 2 CPUs: held up 20 to 50% of the time on loopback, never at
    25 MB/s a connection).
    """

    __slots__ = (
        "_clock", "_cpu_clock", "_start", "after", "busy", "decided", "floor", "held", "size",
    )  # fmt: skip

    def __init__(
        self,
        size: int,
        floor: int,
        *,
        after: float = 0.5,
        busy: float = 0.5,
        held: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self.size, self.floor, self.after, self.busy, self.held = size, floor, after, busy, held
        self._clock, self._cpu_clock = clock, cpu_clock
        self._start: tuple[float, float, float] | None = None
        #: whether the probe has decided (it then never splits later)
        self.decided = False

    def __call__(self, done: int, held_up: float) -> bool:
        """Called after each block with the bytes on disk and the seconds the reader
        has been held up so far; True: split now."""
        if self.decided:
            return False
        now = self._clock()
        if self._start is None:  # the first block: from here on the body flows
            self._start = (now, self._cpu_clock(), held_up)
            return False
        started, cpu_started, held_started = self._start
        elapsed = now - started
        if elapsed < self.after:
            return False
        self.decided = True
        idle = (self._cpu_clock() - cpu_started) / elapsed < self.busy
        waiting = (held_up - held_started) / elapsed < self.held
        return idle and waiting and self.size - done >= self.floor
