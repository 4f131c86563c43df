"""Stall detection: drop a connection that sends no byte for ``timeout`` seconds.

The watch is a timer checked about once a second, not a timeout per read:
the hot loop only stamps when it starts and stops waiting for the network,
so a fast transfer pays two clock reads a chunk. The task is cancelled only
while it waits for the network, never while it writes to disk, so the writer
never sees a cancellation mid-batch; the attempt turns that cancellation into
a retry (see ``StallWatch.claim``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import final

__all__ = ["StallWatch"]

#: how often a running watch looks at the clock, at most
_TICK = 1.0


@final
class StallWatch:
    """Cancel the current task when it has waited ``timeout`` seconds for a byte.

    While it waits longer than a quarter of ``timeout``, ``on_stall(seconds)``
    is called on each check so progress can say the transfer is stalled. Use
    as a context manager around one attempt, and call :meth:`waiting` before
    and :meth:`arrived` after each network wait.
    """

    __slots__ = ("_handle", "_loop", "_since", "_task", "_tick", "fired", "on_stall", "timeout")

    def __init__(self, timeout: float | None, on_stall: Callable[[float], None] | None) -> None:
        self.timeout = timeout
        self.on_stall = on_stall
        #: True once the watch cancelled the task for a stall
        self.fired = False
        self._since: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick = min(_TICK, timeout / 4) if timeout is not None else _TICK

    def __enter__(self) -> StallWatch:
        if self.timeout is not None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            self._handle = self._loop.call_later(self._tick, self._check)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._since = None

    def waiting(self) -> None:
        """The task is about to wait for the network."""
        self._since = time.monotonic()

    def progressed(self) -> None:
        """Bytes came in while the task waits for more: the wait starts again from now."""
        if self._since is not None:
            self._since = time.monotonic()

    def arrived(self) -> None:
        """The network answered (bytes, headers or end of body)."""
        self._since = None

    def claim(self) -> bool:
        """True when a ``CancelledError`` being handled came from this watch alone.

        Then the cancellation is withdrawn (``uncancel``) and the caller retries;
        a cancellation from anyone else is left to propagate.
        """
        task = self._task
        return self.fired and task is not None and task.uncancel() == 0

    def _check(self) -> None:
        assert self._loop is not None and self.timeout is not None
        since = self._since
        delay = self._tick
        if since is not None:
            idle = time.monotonic() - since
            if idle >= self.timeout:
                self.fired = True
                self._handle = None
                if self._task is not None:
                    self._task.cancel()
                return
            if idle >= self.timeout / 4 and self.on_stall is not None:
                self.on_stall(idle)
            delay = min(delay, self.timeout - idle)
        self._handle = self._loop.call_later(max(delay, 0.01), self._check)
