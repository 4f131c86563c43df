"""The ``.part`` file of an unfinished download and its JSON sidecar."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import final

__all__ = [
    "PartialState",
    "discard_partial",
    "load_resumable",
    "partial_bytes",
    "partial_paths",
    "read_sidecar",
    "write_sidecar",
]


@final
@dataclass(frozen=True, slots=True)
class PartialState:
    """What the sidecar records about a ``.part`` file: where its bytes came from.

    ``etag`` and ``last_modified`` are the validators sent back in ``If-Range``
    on resume, so a changed file is downloaded again from the start.
    """

    url: str
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None
    #: a segmented download's pieces as ``(start, end, next byte)``; the .part
    #: then has its full size, so only these say what is in it
    pieces: tuple[tuple[int, int, int], ...] | None = None


def partial_paths(dest: Path) -> tuple[Path, Path]:
    """Return ``(part, sidecar)``: ``<name>.part`` and ``<name>.part.json`` next to ``dest``."""
    return dest.with_name(dest.name + ".part"), dest.with_name(dest.name + ".part.json")


def read_sidecar(sidecar: Path) -> PartialState | None:
    """Read a sidecar; ``None`` when it is missing, unreadable or malformed."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: nested too deeply
        return None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        return None
    etag, modified, total = data.get("etag"), data.get("last_modified"), data.get("total")
    if not (etag is None or isinstance(etag, str)):
        return None
    if not (modified is None or isinstance(modified, str)):
        return None
    if not (total is None or (isinstance(total, int) and not isinstance(total, bool))):
        return None
    try:
        pieces = _pieces(data.get("pieces"))
    except ValueError:
        return None
    return PartialState(
        url=data["url"], etag=etag, last_modified=modified, total=total, pieces=pieces or None
    )


def _pieces(value: object) -> tuple[tuple[int, int, int], ...] | None:
    """The ``pieces`` of a sidecar; ``ValueError`` when malformed."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("pieces is not a list")
    pieces = []
    for item in value:
        if not (
            isinstance(item, list)
            and len(item) == 3
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in item)
        ):
            raise ValueError(f"bad piece {item!r}")
        pieces.append((item[0], item[1], item[2]))
    return tuple(pieces)


def write_sidecar(sidecar: Path, state: PartialState) -> None:
    """Write the sidecar atomically (a crash leaves the old one or the new one)."""
    tmp = sidecar.with_name(sidecar.name + ".tmp")
    tmp.write_text(json.dumps(asdict(state)), encoding="utf-8")
    os.replace(tmp, sidecar)


def partial_bytes(dest: Path) -> int:
    """How many bytes an interrupted download of ``dest`` already has (0 if none).

    A segmented download's ``.part`` has its full size from the start: its
    sidecar's pieces say how much of it is filled.
    """
    part, sidecar = partial_paths(dest)
    state = read_sidecar(sidecar)
    if state is not None and state.pieces is not None:
        return sum(done - start for start, _end, done in state.pieces)
    try:
        return os.lstat(part).st_size
    except OSError:
        return 0


def discard_partial(dest: Path) -> None:
    """Delete the ``.part`` file and sidecar of ``dest`` if they exist. Never raises."""
    part, sidecar = partial_paths(dest)
    for path in (part, sidecar, sidecar.with_name(sidecar.name + ".tmp")):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def load_resumable(
    dest: Path, url: str, expected_size: int | None
) -> tuple[PartialState | None, int]:
    """Return the state and size of a leftover ``.part`` of ``dest`` worth resuming.

    A leftover from another URL, without a readable sidecar, longer than the
    file can be, or not a regular file, is deleted and ``(None, 0)`` returned.
    """
    part, sidecar = partial_paths(dest)
    state = read_sidecar(sidecar)
    try:
        info = os.lstat(part)  # a symlink planted as the .part is never written through
        size = info.st_size if stat.S_ISREG(info.st_mode) else -1
    except OSError:
        size = -1
    limit = expected_size if expected_size is not None else (state.total if state else None)
    if (
        state is None
        or state.pieces is not None  # a segmented download's: one stream cannot resume it
        or size < 0
        or state.url != url
        or (limit is not None and size > limit)
    ):
        discard_partial(dest)
        return None, 0
    if expected_size is not None and state.total is not None and state.total != expected_size:
        discard_partial(dest)
        return None, 0
    return state, size
