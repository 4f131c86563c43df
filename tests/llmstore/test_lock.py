"""The self-removing cross-process lock: exclusion, waiting, cancelling, crashes, races."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmstore import _lock
from llmstore._lock import LockBusyError, _release, _try_lock, hold_lock, lock_path, try_remove_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl locks are POSIX")

CHILD_SCRIPT = """
import importlib.util
import sys
from pathlib import Path
# Load _lock.py alone: importing the llmstore package would make every child slow to start.
spec = importlib.util.spec_from_file_location("llmstore_lock", sys.argv[2])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
fd = lock._try_lock(Path(sys.argv[1]))
print("held" if fd is not None else "busy", flush=True)
sys.stdin.readline()
"""


class Child:
    """A separate Python process that tries the lock once and keeps what it got."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-c", CHILD_SCRIPT, str(path), _lock.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.answer = self.process.stdout.readline().strip()

    def finish(self) -> None:
        if self.process.poll() is None:
            self.process.communicate("done\n", timeout=10)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.communicate(timeout=10)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.finish()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else -1


def test_lock_path_sits_beside_the_file(tmp_path: Path) -> None:
    assert lock_path(tmp_path / "m.gguf") == tmp_path / "m.gguf.lock"


def test_second_holder_is_refused_when_not_waiting(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf.lock"

    async def main() -> None:
        async with hold_lock(path, wait=False):
            assert path.exists()
            with pytest.raises(LockBusyError, match=r"m\.gguf\.lock"):
                async with hold_lock(path, wait=False):
                    pytest.fail("two holders at once")
            assert not try_remove_lock(path)
            assert path.exists()
        assert not path.exists()
        async with hold_lock(path, wait=False):  # free again
            pass

    fds = open_fds()
    asyncio.run(main())
    assert not path.exists()
    assert open_fds() == fds


def test_waiter_enters_only_after_the_holder_leaves(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf.lock"
    events: list[str] = []

    async def waiter() -> None:
        async with hold_lock(path, wait=True):
            events.append("waiter in")

    async def main() -> None:
        async with hold_lock(path, wait=True):
            events.append("holder in")
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0.2)
            assert not task.done()
            events.append("holder out")
        started = time.monotonic()
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 1

    asyncio.run(main())
    assert events == ["holder in", "holder out", "waiter in"]
    assert not path.exists()


def test_lock_is_released_when_the_body_raises_or_is_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf.lock"

    async def holds_forever(entered: asyncio.Event) -> None:
        async with hold_lock(path, wait=False):
            entered.set()
            await asyncio.sleep(3600)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="boom"):
            async with hold_lock(path, wait=False):
                raise RuntimeError("boom")
        assert not path.exists()
        entered = asyncio.Event()
        task = asyncio.create_task(holds_forever(entered))
        await entered.wait()
        assert path.exists()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not path.exists()
        async with hold_lock(path, wait=False):
            pass

    fds = open_fds()
    asyncio.run(main())
    assert open_fds() == fds


def test_cancelled_waiter_leaves_no_lock_held(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf.lock"
    entered: list[str] = []

    async def waiter() -> None:
        async with hold_lock(path, wait=True):
            entered.append("waiter")

    async def main() -> None:
        async with hold_lock(path, wait=False):
            task = asyncio.create_task(waiter())
            await asyncio.sleep(0.12)  # a few polls
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert not path.exists()
        await asyncio.sleep(0.12)  # a leftover poller would take the lock now
        assert not path.exists()
        async with hold_lock(path, wait=False):
            pass

    fds = open_fds()
    asyncio.run(main())
    assert entered == []
    assert open_fds() == fds


def test_try_remove_lock_removes_only_free_locks(tmp_path: Path) -> None:
    free = tmp_path / "free.lock"
    free.write_text("")
    assert try_remove_lock(free) is True
    assert not free.exists()
    assert try_remove_lock(tmp_path / "missing.lock") is True
    assert os.listdir(tmp_path) == []
    held = tmp_path / "held.lock"
    fd = _try_lock(held)
    assert fd is not None
    try:
        assert try_remove_lock(held) is False
        assert held.exists()
        assert _try_lock(held) is None  # a second open file description conflicts too
    finally:
        _release(held, fd)
    assert not held.exists()


def test_other_process_holding_the_lock_excludes_us(tmp_path: Path, children: list[Child]) -> None:
    path = tmp_path / "m.gguf.lock"
    child = Child(path)
    children.append(child)
    assert child.answer == "held"
    entered: list[float] = []

    async def waiter() -> None:
        async with hold_lock(path, wait=True):
            entered.append(time.monotonic())

    async def main() -> None:
        with pytest.raises(LockBusyError):
            async with hold_lock(path, wait=False):
                pytest.fail("held at the same time as another process")
        assert try_remove_lock(path) is False
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.2)
        assert not task.done()
        released = time.monotonic()
        await asyncio.to_thread(child.finish)
        await asyncio.wait_for(task, 5)
        assert entered[0] >= released

    asyncio.run(main())
    assert not path.exists()


def test_we_holding_the_lock_excludes_another_process(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "m.gguf.lock"

    async def main() -> str:
        async with hold_lock(path, wait=False):
            child = await asyncio.to_thread(Child, path)
            children.append(child)
            return child.answer

    assert asyncio.run(main()) == "busy"
    late = Child(path)
    children.append(late)
    assert late.answer == "held"


def test_lock_of_a_crashed_process_is_free_and_removable(
    tmp_path: Path, children: list[Child]
) -> None:
    path = tmp_path / "m.gguf.lock"
    child = Child(path)
    children.append(child)
    assert child.answer == "held"
    child.kill()
    assert path.exists()  # the crash left the file, but the kernel dropped the lock
    assert try_remove_lock(path) is True
    assert not path.exists()

    async def main() -> None:
        async with hold_lock(path, wait=False):
            assert path.exists()

    asyncio.run(main())


def test_planted_symlink_lock_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "m.gguf.lock"
    link.symlink_to(target)

    async def main() -> None:
        async with hold_lock(link, wait=False):
            pytest.fail("locked through a symlink")

    with pytest.raises(OSError):
        asyncio.run(main())
    assert not target.exists()


def test_holders_waiters_and_removers_never_hold_at_once(tmp_path: Path) -> None:
    """The unlink race: a lock removed on release must never let two holders in."""
    path = tmp_path / "m.gguf.lock"
    guard = threading.Lock()
    stop = threading.Event()
    counts = {"inside": 0, "peak": 0, "entries": 0, "busy": 0}
    errors: list[BaseException] = []

    def enter() -> None:
        with guard:
            counts["inside"] += 1
            counts["entries"] += 1
            counts["peak"] = max(counts["peak"], counts["inside"])

    def leave() -> None:
        with guard:
            counts["inside"] -= 1

    async def holder(wait: bool) -> None:
        while not stop.is_set():
            try:
                async with hold_lock(path, wait=wait):
                    enter()
                    time.sleep(0.0002)  # let other threads race for the lock meanwhile
                    await asyncio.sleep(0)
                    leave()
            except LockBusyError:
                with guard:
                    counts["busy"] += 1
            await asyncio.sleep(0)

    def run_loop() -> None:
        async def main() -> None:
            await asyncio.gather(holder(False), holder(False), holder(True))

        try:
            asyncio.run(main())
        except BaseException as error:  # surfaced by the main thread
            errors.append(error)

    def remove_repeatedly() -> None:
        while not stop.is_set():
            try_remove_lock(path)

    threads = [threading.Thread(target=run_loop) for _ in range(4)]
    threads += [threading.Thread(target=remove_repeatedly) for _ in range(2)]
    fds = open_fds()
    for thread in threads:
        thread.start()
    time.sleep(0.8)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert counts["peak"] == 1
    assert counts["inside"] == 0
    assert counts["entries"] > 50  # the race really ran
    assert counts["busy"] > 50
    assert not path.exists()
    assert open_fds() == fds
