"""The persisted store snapshot: atomic writes, debounced saves, corrupt files moved aside."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from llmstore.errors import StateFileError

__all__ = [
    "FORMAT",
    "VERSION",
    "DebouncedSaver",
    "StateFile",
    "fsync_directory",
    "write_atomic",
]

logger = logging.getLogger("llmstore")

FORMAT = "llmstore-state"
VERSION = 1

_T = TypeVar("_T")


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves the old file or the new one.

    Written to a unique temporary file beside it, fsynced, renamed over it,
    and the directory fsynced so the rename itself survives a power loss.
    """
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (best effort: Windows cannot open directories)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class StateFile:
    """The JSON file holding the store's snapshot, with a format marker and version."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        #: set by ``load`` when a bad file was moved aside
        self.warning: str | None = None

    def load(self, *, read_only: bool = False) -> dict[str, Any] | None:
        """The saved snapshot, or None when there is none or it was unusable.

        A file that is not ours or is corrupt is renamed to
        ``<name>.corrupt-<time>`` (kept for the user to look at) and
        ``warning`` says so. Temporary files of interrupted saves are removed.
        With ``read_only`` nothing is renamed or removed.
        """
        self.warning = None
        if not read_only:
            self._remove_leftovers()
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            self.warning = f"cannot read the state file {self.path}: {error.strerror}; ignored it"
            return None
        problem = None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as error:  # RecursionError: nested too deeply
            problem = f"it is not valid JSON ({error})"
        else:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                problem = "it is not an llmstore state file"
            elif type(data.get("version")) is not int or data["version"] != VERSION:
                problem = f"it has version {data.get('version')!r}, this llmstore reads {VERSION}"
            elif not isinstance(data.get("state"), dict):
                problem = "it has no state object"
        if problem is None:
            state: dict[str, Any] = data["state"]
            return state
        if read_only:
            self.warning = f"the state file {self.path} is unusable: {problem}; ignored it"
            return None
        aside = self._aside_path()
        try:
            os.replace(self.path, aside)
            where = f"moved it to {aside}"
        except OSError as error:
            where = f"could not move it aside ({error.strerror})"
        self.warning = (
            f"the state file {self.path} was unusable: {problem}; {where} and started fresh"
        )
        logger.warning("%s", self.warning)
        return None

    def save(self, state: Any) -> None:
        """Write ``state`` atomically; ``StateFileError`` when that is impossible."""
        document = {"format": FORMAT, "version": VERSION, "state": state}
        data = json.dumps(document, indent=1, sort_keys=True).encode("utf-8")
        try:
            write_atomic(self.path, data)
        except OSError as error:
            raise StateFileError(
                f"cannot save the state to {self.path}: {error.strerror or error}"
            ) from error

    def _aside_path(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        number = 1
        while aside.exists():  # never overwrite an earlier copy
            number += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{number}")
        return aside

    def _remove_leftovers(self) -> None:
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.path.parent):
                if entry.name.startswith(f".{self.path.name}.") and entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


class DebouncedSaver(Generic[_T]):
    """Saves the latest value at most once per ``delay`` seconds, off the event loop.

    ``schedule`` is cheap and may be called on every commit; writes never
    overlap and always end with the newest value. ``aclose`` writes what is
    pending and waits for it. Without a running loop, ``schedule`` saves at once.
    """

    def __init__(self, save: Callable[[_T], None], *, delay: float = 0.25) -> None:
        self._save = save
        self.delay = delay
        self._value: _T | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        #: the last save's error (also logged), cleared by a successful save
        self.error: Exception | None = None

    def schedule(self, value: _T) -> None:
        """Remember ``value`` as the one to save next."""
        self._value, self._dirty = value, True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._save_now()
            return
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run())

    async def flush(self) -> None:
        """Save what is pending now and wait until it is on disk."""
        # Only the task writes, so writes never overlap and always land in order.
        while self._dirty or (self._task is not None and not self._task.done()):
            if self._task is None or self._task.done():
                self._wake = asyncio.Event()
                self._task = asyncio.get_running_loop().create_task(self._run())
            assert self._wake is not None
            self._wake.set()
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Flush; later ``schedule`` calls still save (synchronously if no loop runs)."""
        self._closing = True
        await self.flush()

    async def _run(self) -> None:
        assert self._wake is not None
        while self._dirty:
            if not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.delay)
            await self._write_pending()

    async def _write_pending(self) -> None:
        # Taken on the loop thread, so a schedule() racing the write is never lost.
        value, self._dirty = self._value, False
        await asyncio.to_thread(self._write, value)

    def _save_now(self) -> None:
        value, self._dirty = self._value, False
        self._write(value)

    def _write(self, value: _T | None) -> None:
        try:
            self._save(value)  # type: ignore[arg-type]
            self.error = None
        except Exception as error:
            self.error = error
            logger.error("llmstore: %s", error)
