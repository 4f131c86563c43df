"""A cross-process lock file per model that removes itself when released.

``fcntl.flock`` is released by the kernel when its process dies, so a crash
never leaves a held lock. Removing the file on release is what usual lock
files avoid, because a waiter may then hold a lock on an unlinked file while
a newcomer locks a fresh one; we close that gap the classic way: after
locking, check that the path still names the locked file, else retry.
Waiting polls without blocking, so cancelling the waiting task is immediate
and never leaves a thread behind that would later take the lock.
Where ``fcntl`` is missing (Windows) ``filelock`` does the locking and the
file is left in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

__all__ = ["LockBusyError", "hold_lock", "lock_is_held", "lock_path", "try_remove_lock"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_POLL_SECONDS = 0.05


class LockBusyError(Exception):
    """The lock is held by another process and we were told not to wait."""


def lock_path(dest: Path) -> Path:
    """The lock file guarding ``dest``: ``<name>.lock`` beside it."""
    return dest.with_name(dest.name + ".lock")


def _try_lock(path: Path) -> int | None:
    """Lock ``path`` without waiting; the open descriptor, or None when it is held."""
    while True:
        # O_NOFOLLOW: a symlink planted as a lock must not create or lock its target.
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder before us removed it: lock the new file instead


def _release(path: Path, fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # while still holding it: see the module docstring
    os.close(fd)


def try_remove_lock(path: Path) -> bool:
    """Remove a lock file nobody holds; False when another process holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fd = _try_lock(path)
    except OSError:
        if os.path.islink(path):
            # Our locks are never symlinks: drop it (not its target), or every
            # download of the model would fail on it.
            with contextlib.suppress(OSError):
                os.unlink(path)
        return True  # unreadable: not a lock anyone can hold
    if fd is None:
        return False
    _release(path, fd)
    return True


def lock_is_held(path: Path) -> bool:
    """True while another process holds the lock at ``path``; creates and removes nothing.

    A shared lock is taken for an instant and dropped: it tells a held lock
    from a stale file without writing (a read-only command may not clean up).
    """
    if fcntl is None:  # pragma: no cover - Windows
        return path.exists()
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False  # gone, or a planted symlink: not a lock anyone holds
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.asynccontextmanager
async def hold_lock(path: Path, *, wait: bool) -> AsyncIterator[None]:
    """Hold the lock at ``path``; wait for it, or raise ``LockBusyError`` when ``wait`` is off."""
    if fcntl is None:  # pragma: no cover - Windows
        import filelock

        lock = filelock.FileLock(str(path))
        try:
            await asyncio.to_thread(lock.acquire, timeout=-1 if wait else 0)
        except filelock.Timeout:
            raise LockBusyError(str(path)) from None
        try:
            yield
        finally:
            lock.release()
        return
    while (fd := _try_lock(path)) is None:
        if not wait:
            raise LockBusyError(str(path))
        await asyncio.sleep(_POLL_SECONDS)
    try:
        yield
    finally:
        _release(path, fd)
