"""The persisted state file and the debounced saver, with real files and real asyncio."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmstore._persist import FORMAT, VERSION, DebouncedSaver, StateFile, write_atomic
from llmstore.errors import StateFileError

STATE = {
    "is_initialized": True,
    "error": None,
    "models": [{"key": "1B", "display_name": "Llama 3.2 1B", "progress": 12.5}],
    "selected_model_key": "1B",
}


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def corrupt_copies(state_file: Path) -> list[Path]:
    return sorted(state_file.parent.glob(f"{state_file.name}.corrupt-*"))


class Recorder:
    """A save callable that records values and how many saves ever ran at once."""

    def __init__(self, seconds: Callable[[Any], float] = lambda value: 0.0) -> None:
        self.saved: list[Any] = []
        self.active = 0
        self.peak = 0
        self.seconds = seconds
        self._guard = threading.Lock()

    def __call__(self, value: Any) -> None:
        with self._guard:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.seconds(value))
            self.saved.append(value)
        finally:
            with self._guard:
                self.active -= 1


# --- StateFile ---------------------------------------------------------------------------


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    state_file.save(STATE)
    assert listing(tmp_path) == ["state.json"]
    document = json.loads((tmp_path / "state.json").read_text(encoding="utf-8"))
    assert document == {"format": FORMAT, "version": VERSION, "state": STATE}
    assert StateFile(tmp_path / "state.json").load() == STATE
    assert state_file.warning is None


def test_missing_file_loads_as_none_without_warning(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    assert state_file.load() is None
    assert state_file.warning is None
    assert listing(tmp_path) == []


def test_saving_again_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    for index in range(20):
        state_file.save({"n": index})
    assert state_file.load() == {"n": 19}
    assert listing(tmp_path) == ["state.json"]


@pytest.mark.parametrize("bad", [{"value": object()}, {"value": {1, 2}}])
def test_failed_save_keeps_the_old_file(tmp_path: Path, bad: dict[str, Any]) -> None:
    path = tmp_path / "state.json"
    StateFile(path).save(STATE)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        StateFile(path).save(bad)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["state.json"]


def test_failed_rename_removes_the_temporary_and_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.mkdir()  # the rename over it fails after the data was written and fsynced
    (path / "keep").write_text("x")
    with pytest.raises(StateFileError, match="cannot save the state to") as info:
        StateFile(path).save(STATE)
    assert str(path) in str(info.value)
    assert listing(tmp_path) == ["state.json"]
    assert listing(path) == ["keep"]


def test_missing_parent_dir_is_a_state_file_error(tmp_path: Path) -> None:
    with pytest.raises(StateFileError):
        StateFile(tmp_path / "missing" / "state.json").save(STATE)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_read_only_dir_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateFile(path).save({"n": 1})
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(StateFileError):
            StateFile(path).save({"n": 2})
    finally:
        tmp_path.chmod(0o700)
    assert StateFile(path).load() == {"n": 1}
    assert listing(tmp_path) == ["state.json"]


def test_write_atomic_replaces_whole_content(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    write_atomic(path, b"a" * 100_000)
    write_atomic(path, b"short")
    assert path.read_bytes() == b"short"
    assert listing(tmp_path) == ["blob"]


BAD_FILES = [
    (b'{"format": "llmstore-state", "version": 1, "state": ', "it is not valid JSON"),
    (b"\xff\xfe\x00garbage", "it is not valid JSON"),
    (b"[" * 100_000, "it is not valid JSON"),
    (b'{"hello": "world"}', "it is not an llmstore state file"),
    (b"[1, 2, 3]", "it is not an llmstore state file"),
    (b'"just a string"', "it is not an llmstore state file"),
    (b'{"format": "llmstore-state", "version": 2, "state": {}}', "it has version 2"),
    (b'{"format": "llmstore-state", "state": {}}', "it has version None"),
    (b'{"format": "llmstore-state", "version": 1, "state": []}', "it has no state object"),
    (b'{"format": "llmstore-state", "version": 1}', "it has no state object"),
]


@pytest.mark.parametrize(("content", "problem"), BAD_FILES)
def test_unusable_file_is_moved_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, problem: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    state_file = StateFile(path)
    with caplog.at_level(logging.WARNING, logger="llmstore"):
        assert state_file.load() is None
    (aside,) = corrupt_copies(path)
    assert aside.read_bytes() == content
    assert not path.exists()
    assert state_file.warning is not None
    assert problem in state_file.warning
    assert f"moved it to {aside}" in state_file.warning
    assert [r.getMessage() for r in caplog.records if r.name == "llmstore"] == [state_file.warning]
    # The next load starts fresh, and a save works again.
    assert state_file.load() is None
    assert state_file.warning is None
    state_file.save(STATE)
    assert state_file.load() == STATE


def test_unreadable_path_is_reported_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.mkdir()
    state_file = StateFile(path)
    assert state_file.load() is None
    assert state_file.warning is not None
    assert "cannot read the state file" in state_file.warning
    assert path.is_dir()


def test_leftover_temporaries_are_removed_on_load(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    StateFile(path).save(STATE)
    for name in (".state.json.abc123.tmp", ".state.json.x.tmp"):
        (tmp_path / name).write_text("half a save")
    others = [".other.json.abc.tmp", "state.json.tmp", ".state.json.keep"]
    for name in others:
        (tmp_path / name).write_text("not ours")
    assert StateFile(path).load() == STATE
    assert listing(tmp_path) == sorted([*others, "state.json"])


state_documents = st.one_of(
    st.binary(max_size=200),
    st.fixed_dictionaries(
        {},
        optional={
            "format": st.sampled_from([FORMAT, "other", None, 1]),
            "version": st.sampled_from([VERSION, 0, 2, "1", None, 1.5]),
            "state": st.one_of(st.none(), st.lists(st.integers()), st.just(STATE)),
        },
    ).map(lambda document: json.dumps(document).encode("utf-8")),
)


@settings(max_examples=150, deadline=None)
@given(content=state_documents)
def test_any_file_content_never_raises_from_load(
    tmp_path_factory: pytest.TempPathFactory, content: bytes
) -> None:
    directory = tmp_path_factory.mktemp("state")
    path = directory / "state.json"
    path.write_bytes(content)
    state_file = StateFile(path)
    state = state_file.load()
    if state is None:
        assert state_file.warning is not None
        (aside,) = corrupt_copies(path)
        assert aside.read_bytes() == content
    else:
        assert isinstance(state, dict)
        assert state_file.warning is None
        assert path.read_bytes() == content


# --- DebouncedSaver ----------------------------------------------------------------------


def test_many_schedules_in_one_go_coalesce_into_one_write() -> None:
    recorder = Recorder()
    saver: DebouncedSaver[int] = DebouncedSaver(recorder, delay=60)

    async def main() -> None:
        for value in range(1000):
            saver.schedule(value)
        await saver.flush()

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started < 5  # flush did not wait out the delay
    assert recorder.saved == [999]


def test_schedules_over_time_are_debounced_and_the_last_one_lands() -> None:
    recorder = Recorder()
    saver: DebouncedSaver[int] = DebouncedSaver(recorder, delay=0.05)

    async def main() -> None:
        for value in range(1, 41):
            saver.schedule(value)
            await asyncio.sleep(0.005)
        deadline = time.monotonic() + 5
        while recorder.saved[-1:] != [40] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert recorder.saved[-1] == 40  # written by the timer, without any flush
    assert len(recorder.saved) <= 10
    assert recorder.saved == sorted(recorder.saved)


def test_flush_and_aclose_write_what_is_pending() -> None:
    recorder = Recorder()
    saver: DebouncedSaver[str] = DebouncedSaver(recorder, delay=60)

    async def main() -> None:
        saver.schedule("first")
        await saver.flush()
        assert recorder.saved == ["first"]
        await saver.flush()  # nothing pending: no write
        assert recorder.saved == ["first"]
        saver.schedule("second")
        await saver.aclose()
        assert recorder.saved == ["first", "second"]
        saver.schedule("after close")  # still saved, without waiting out the delay
        await asyncio.wait_for(_until(lambda: recorder.saved[-1] == "after close"), 5)

    asyncio.run(main())


async def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.005)


def test_writes_never_overlap_and_the_last_value_wins_under_load() -> None:
    recorder = Recorder(seconds=lambda value: 0.002)
    saver: DebouncedSaver[int] = DebouncedSaver(recorder, delay=0.001)

    async def main() -> None:
        done = False

        async def flusher() -> None:
            while not done:
                await saver.flush()
                await asyncio.sleep(0)

        flushers = [asyncio.create_task(flusher()) for _ in range(3)]
        for value in range(300):
            saver.schedule(value)
            await asyncio.sleep(0.0005)
        done = True
        await asyncio.gather(*flushers)
        await saver.aclose()

    asyncio.run(main())
    assert recorder.peak == 1
    assert recorder.saved[-1] == 299
    assert len(recorder.saved) < 300


def test_schedule_while_a_flush_writes_never_overlaps_it() -> None:
    # "2" is slow to save, "3" fast: were they written at once, 2 would land last.
    recorder = Recorder(seconds=lambda value: 0.2 if value == 2 else 0.0)
    saver: DebouncedSaver[int] = DebouncedSaver(recorder, delay=0.001)

    async def main() -> None:
        async def flush_then_schedule() -> None:
            await saver.flush()
            saver.schedule(2)  # right after the first write, before the other flush resumes

        saver.schedule(1)
        first = asyncio.create_task(flush_then_schedule())
        second = asyncio.create_task(saver.flush())
        await asyncio.sleep(0.05)  # the slow write of 2 is under way
        saver.schedule(3)
        await asyncio.gather(first, second)
        await saver.aclose()

    asyncio.run(main())
    assert recorder.peak == 1
    assert recorder.saved[-1] == 3
    assert recorder.saved[0] == 1


def test_save_error_is_logged_kept_and_does_not_stop_later_saves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    saved: list[str] = []

    def save(value: str) -> None:
        if value == "bad":
            raise StateFileError("disk on fire")
        saved.append(value)

    saver: DebouncedSaver[str] = DebouncedSaver(save, delay=60)

    async def main() -> None:
        saver.schedule("bad")
        await saver.flush()
        assert isinstance(saver.error, StateFileError)
        assert saved == []
        saver.schedule("good")
        await saver.flush()
        assert saved == ["good"]
        assert saver.error is None

    with caplog.at_level(logging.ERROR, logger="llmstore"):
        asyncio.run(main())
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "llmstore: disk on fire")
    ]


def test_schedule_without_a_running_loop_saves_at_once() -> None:
    saved: list[int] = []

    def save(value: int) -> None:
        if value < 0:
            raise ValueError("negative")
        saved.append(value)

    saver: DebouncedSaver[int] = DebouncedSaver(save, delay=60)
    saver.schedule(1)
    assert saved == [1]
    saver.schedule(-1)
    assert isinstance(saver.error, ValueError)
    saver.schedule(2)
    assert saved == [1, 2]
    assert saver.error is None


def test_saver_with_a_state_file_persists_the_newest_state(tmp_path: Path) -> None:
    state_file = StateFile(tmp_path / "state.json")
    saver: DebouncedSaver[dict[str, Any]] = DebouncedSaver(state_file.save, delay=0.01)

    async def main() -> None:
        for index in range(50):
            saver.schedule({"n": index})
            if index % 10 == 0:
                await asyncio.sleep(0.005)
        await saver.aclose()

    asyncio.run(main())
    assert StateFile(tmp_path / "state.json").load() == {"n": 49}
    assert listing(tmp_path) == ["state.json"]
