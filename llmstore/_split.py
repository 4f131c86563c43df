"""When one stream should hand the rest of a file to several connections.

By default a download starts as one stream (``connections=None``): on
loopback or a fast LAN one connection is already as fast as the machine
can hash and write, and more only share the same CPU (measured for 1 GiB
from nginx on loopback: 4 connections 3.4 s against 2.6 s for one). Where
the link, the server or a per-connection cap (a CDN's) is the limit, more
connections add up. :class:`SplitProbe` tells the two apart from the CPU
the process wanted while the stream ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import final

__all__ = ["SplitNow", "SplitProbe", "cpu_demand"]


class SplitNow(Exception):
    """The stream stopped on purpose: the rest of the file is fetched in pieces."""


@final
class SplitProbe:
    """Decide, once, whether a single stream should hand the rest to several connections.

    After ``after`` seconds of body, the stream is split when the process used
    less than ``busy`` of a CPU core over that time and at least ``floor`` bytes
    of the ``size`` are left. A stream that keeps the client busy is limited by
    the client (on loopback or a fast LAN the hash alone costs about a core at
    1 GB/s): more connections would share the same CPU and add their own
    overhead (measured on loopback, 1 GiB: 4 connections 3.4 s against 2.6 s
    for one stream). A stream that leaves it mostly idle is limited by the
    link, the server or a per-connection cap (a CDN's), which more connections
    add up, as aria2c's ``-x`` and hf_transfer do. The CPU is the whole
    process's, the hash and write threads included, and counts the time its
    threads waited for a CPU too (see :func:`cpu_demand`): on a machine busy
    with other work a starved stream must not pass for an idle one.
    """

    __slots__ = ("_clock", "_cpu_clock", "_start", "after", "busy", "decided", "floor", "size")

    def __init__(
        self,
        size: int,
        floor: int,
        *,
        after: float = 0.5,
        busy: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] | None = None,
    ) -> None:
        self.size, self.floor, self.after, self.busy = size, floor, after, busy
        self._clock, self._cpu_clock = clock, cpu_clock or cpu_demand()
        self._start: tuple[float, float] | None = None
        #: whether the probe has decided (it then never splits later)
        self.decided = False

    def __call__(self, done: int) -> bool:
        """Called with the bytes on disk after each block; True: split now."""
        if self.decided:
            return False
        now = self._clock()
        if self._start is None:  # the first block: from here on the body flows
            self._start = (now, self._cpu_clock())
            return False
        started, cpu_started = self._start
        if now - started < self.after:
            return False
        self.decided, cpu = True, self._cpu_clock()
        idle = (cpu - cpu_started) / (now - started) < self.busy
        return idle and self.size - done >= self.floor


def cpu_demand() -> Callable[[], float]:
    """A clock of the CPU this process wanted: seconds its threads ran or were ready to.

    Linux keeps both per thread in ``/proc/self/task/*/schedstat`` (time on a
    CPU, time waiting in a run queue); elsewhere (or without that file) it is
    ``time.process_time``, which misses the waiting.
    """
    tasks = Path("/proc/self/task")
    if not (tasks / str(threading.get_native_id()) / "schedstat").exists():
        return time.process_time

    def demand() -> float:
        total = 0
        for task in tasks.iterdir():
            try:
                ran, waited, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):  # a thread that just ended
                continue
            total += int(ran) + int(waited)
        return total / 1e9

    return demand
