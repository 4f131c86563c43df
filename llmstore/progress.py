"""Download progress: immutable events, smoothed speed and ETA, and a throttle."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import final

__all__ = ["ProgressEvent", "ProgressTracker"]


@final
@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One progress report for the download of ``key``.

    ``percent`` runs from 0 to 100; it is 0 while ``total`` is unknown and 100
    once ``done``. ``eta_seconds`` is ``None`` while the speed or the total is
    unknown. ``stalled_seconds`` is how long no byte has come, on the events
    sent while a transfer is stalled (0.0 while bytes flow); a stall of the
    store's ``stall_timeout`` drops the connection and resumes.
    """

    key: str
    bytes_done: int
    total: int | None
    percent: float
    bytes_per_second: float
    eta_seconds: float | None
    done: bool
    stalled_seconds: float = 0.0


@final
class ProgressTracker:
    """Turn a stream of byte counts into ``ProgressEvent`` values.

    Speed is measured over a sliding time window (``window`` seconds), so it
    follows changes quickly without jumping on every chunk, and is 0 until two
    samples exist. A byte count that goes backwards (a download restarted from
    zero) starts a new window. Pure: no I/O, time comes from ``clock``.
    """

    __slots__ = (
        "_clock",
        "_interval",
        "_last_emit",
        "_samples",
        "_spacing",
        "_window",
        "key",
        "total",
    )

    def __init__(
        self,
        key: str,
        total: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.1,
        window: float = 3.0,
    ) -> None:
        """Raise ``ValueError`` when ``interval`` is negative or ``window`` not positive."""
        if interval < 0 or window <= 0:
            raise ValueError(f"need interval >= 0 and window > 0, got {interval}, {window}")
        self.key = key
        self.total = total
        self._clock = clock
        self._interval = interval
        self._window = window
        # Samples closer together than this are merged, which bounds the deque
        # to about 20 entries however often update() is called.
        self._spacing = window / 20
        self._samples: deque[tuple[float, int]] = deque()
        self._last_emit: float | None = None

    def update(
        self, bytes_done: int, *, total: int | None = None, done: bool = False
    ) -> ProgressEvent:
        """Record that ``bytes_done`` bytes are done and return the resulting event.

        ``total`` replaces the known total when given (servers often reveal it
        only with the first response).
        """
        if total is not None:
            self.total = total
        now = self._clock()
        samples = self._samples
        if samples and bytes_done < samples[-1][1]:
            samples.clear()
        if len(samples) >= 2 and now - samples[-2][0] < self._spacing:
            samples[-1] = (now, bytes_done)
        else:
            samples.append((now, bytes_done))
        # Keep one sample at or before the window's start as the anchor.
        while len(samples) > 2 and samples[1][0] <= now - self._window:
            samples.popleft()
        return self._event(bytes_done, done)

    def stalled(self, seconds: float) -> ProgressEvent:
        """The event for a transfer that has received nothing for ``seconds``.

        Its speed is 0 and its ETA unknown; the speed window starts again from
        now, so the speed after the stall is not dragged down by it.
        """
        samples = self._samples
        done = samples[-1][1] if samples else 0
        samples.clear()
        samples.append((self._clock(), done))
        event = self._event(done, False)
        return replace(event, bytes_per_second=0.0, eta_seconds=None, stalled_seconds=seconds)

    def should_emit(self, event: ProgressEvent, now: float | None = None) -> bool:
        """Say whether ``event`` should be delivered, and if so count it as delivered.

        At most one event per ``interval`` seconds passes; a ``done`` event
        always passes, so the final state is never lost.
        """
        if now is None:
            now = self._clock()
        last = self._last_emit
        if event.done or last is None or now - last >= self._interval:
            self._last_emit = now
            return True
        return False

    @property
    def bytes_per_second(self) -> float:
        """The speed over the current window, 0 until two samples exist."""
        samples = self._samples
        if len(samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = samples[0], samples[-1]
        elapsed = t1 - t0
        return (b1 - b0) / elapsed if elapsed > 0 else 0.0

    def _event(self, bytes_done: int, done: bool) -> ProgressEvent:
        total = self.total
        speed = self.bytes_per_second
        percent = min(100.0, max(0.0, bytes_done * 100.0 / total)) if total else 0.0
        if done:
            percent, eta = 100.0, 0.0
        elif total is not None and speed > 0:
            eta = max(0.0, (total - bytes_done) / speed)
        else:
            eta = None
        return ProgressEvent(
            key=self.key,
            bytes_done=bytes_done,
            total=total,
            percent=percent,
            bytes_per_second=speed,
            eta_seconds=eta,
            done=done,
        )
