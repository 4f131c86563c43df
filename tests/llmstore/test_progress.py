"""ProgressTracker: speed, ETA, percent and throttling under a fake clock."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmstore.progress import ProgressEvent, ProgressTracker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_first_sample_has_no_speed_and_no_eta() -> None:
    tracker = ProgressTracker("1B", 1000, clock=FakeClock())
    event = tracker.update(100)
    assert event == ProgressEvent("1B", 100, 1000, 10.0, 0.0, None, False)


def test_steady_rate_gives_speed_and_eta() -> None:
    clock = FakeClock()
    tracker = ProgressTracker("1B", 10_000, clock=clock)
    for second in range(5):
        clock.now = 100.0 + second
        event = tracker.update(1000 * second)
    assert event.bytes_per_second == pytest.approx(1000)
    assert event.eta_seconds == pytest.approx(6.0)
    assert event.percent == pytest.approx(40.0)


def test_speed_follows_the_recent_window() -> None:
    clock = FakeClock()
    tracker = ProgressTracker("1B", None, clock=clock, window=2.0)
    done = 0
    for _ in range(50):  # 5 s at 1000 B/s
        clock.now += 0.1
        done += 100
        tracker.update(done)
    for _ in range(50):  # then 5 s at 10 000 B/s
        clock.now += 0.1
        done += 1000
        event = tracker.update(done)
    assert event.bytes_per_second == pytest.approx(10_000, rel=0.05)


def test_unknown_total_reports_zero_percent_and_no_eta() -> None:
    clock = FakeClock()
    tracker = ProgressTracker("1B", None, clock=clock)
    tracker.update(0)
    clock.now += 1
    event = tracker.update(500)
    assert (event.percent, event.eta_seconds, event.bytes_per_second) == (0.0, None, 500.0)


def test_total_learned_later_is_used() -> None:
    tracker = ProgressTracker("1B", None, clock=FakeClock())
    assert tracker.update(50, total=200).percent == 25.0
    assert tracker.total == 200


def test_done_event_is_complete() -> None:
    tracker = ProgressTracker("1B", 1000, clock=FakeClock())
    event = tracker.update(1000, done=True)
    assert (event.percent, event.eta_seconds, event.done) == (100.0, 0.0, True)


def test_restart_from_zero_resets_the_speed_window() -> None:
    clock = FakeClock()
    tracker = ProgressTracker("1B", 10_000, clock=clock)
    tracker.update(0)
    clock.now += 1
    tracker.update(5000)
    clock.now += 1
    event = tracker.update(0)
    assert event.bytes_per_second == 0.0 and event.eta_seconds is None


def test_samples_stay_bounded_however_often_updated() -> None:
    clock = FakeClock()
    tracker = ProgressTracker("1B", None, clock=clock, window=1.0)
    for step in range(100_000):
        clock.now += 0.0001
        tracker.update(step)
    assert len(tracker._samples) <= 25


def test_throttle_lets_one_event_per_interval_and_always_the_last() -> None:
    clock = FakeClock()
    tracker = ProgressTracker("1B", 1000, clock=clock, interval=0.1)
    emitted = []
    for step in range(1, 101):  # one update per 10 ms for 1 s
        clock.now += 0.01
        event = tracker.update(step * 10, done=step == 100)
        if tracker.should_emit(event):
            emitted.append(event)
    assert 9 <= len(emitted) <= 12
    assert emitted[0].bytes_done == 10
    assert emitted[-1].done and emitted[-1].bytes_done == 1000


def test_throttle_accepts_an_explicit_time() -> None:
    tracker = ProgressTracker("1B", 10, clock=FakeClock(), interval=1.0)
    event = tracker.update(1)
    assert tracker.should_emit(event, now=5.0)
    assert not tracker.should_emit(event, now=5.5)
    assert tracker.should_emit(event, now=6.0)


def test_events_are_frozen() -> None:
    event = ProgressTracker("1B", 10, clock=FakeClock()).update(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.bytes_done = 2  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="window"):
        ProgressTracker("1B", 10, window=0)


@given(
    total=st.none() | st.integers(min_value=0, max_value=10**12),
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=10, allow_nan=False),
            st.integers(min_value=0, max_value=10**12),
        ),
        max_size=50,
    ),
)
def test_events_stay_in_range(total: int | None, steps: list[tuple[float, int]]) -> None:
    clock = FakeClock()
    tracker = ProgressTracker("k", total, clock=clock)
    for delay, done in steps:
        clock.now += delay
        event = tracker.update(done)
        assert 0.0 <= event.percent <= 100.0
        assert event.bytes_per_second >= 0.0
        assert event.eta_seconds is None or event.eta_seconds >= 0.0
        if total is None:
            assert event.percent == 0.0 and event.eta_seconds is None
