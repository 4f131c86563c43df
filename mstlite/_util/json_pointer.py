"""RFC 6901 JSON pointers: escaping, joining and splitting path segments."""

from __future__ import annotations

from collections.abc import Iterable

from mstlite.errors import PatchError

__all__ = ["escape_json_path", "join_json_path", "split_json_path", "unescape_json_path"]


def escape_json_path(segment: str) -> str:
    """Escape one path segment: ``~`` becomes ``~0`` and ``/`` becomes ``~1``.

    >>> escape_json_path("a/b~c")
    'a~1b~0c'
    """
    # Most segments (property names, indexes) need no escaping: skip both scans' allocations.
    if "~" in segment:
        segment = segment.replace("~", "~0")
    if "/" in segment:
        segment = segment.replace("/", "~1")
    return segment


def unescape_json_path(segment: str) -> str:
    """Undo ``escape_json_path`` on one segment: ``~1`` becomes ``/``, ``~0`` becomes ``~``.

    Raises ``PatchError`` when a ``~`` is not followed by ``0`` or ``1``: RFC 6901
    allows no other escape, and guessing would address the wrong member.

    >>> unescape_json_path("a~1b~0c")
    'a/b~c'
    """
    if "~" not in segment:
        return segment
    if segment.count("~") != segment.count("~0") + segment.count("~1"):
        raise PatchError(
            f"{segment!r} holds a '~' that is not followed by '0' or '1'; "
            "escape '~' as '~0' and '/' as '~1' (RFC 6901)"
        )
    # "~1" first: the reverse order would turn "~01" into "/" instead of "~1".
    return segment.replace("~1", "/").replace("~0", "~")


def join_json_path(parts: Iterable[str | int]) -> str:
    """Build a JSON pointer from unescaped segments: ``""`` for none, else ``"/a/b"``.

    >>> join_json_path(["todos", 0, "a/b"])
    '/todos/0/a~1b'
    """
    texts = [part if isinstance(part, str) else str(part) for part in parts]
    if not texts:
        return ""
    joined = "/".join(texts)
    # A segment needs escaping only if it holds "~" or "/" (rare): one C-level check of all.
    if "~" in joined or joined.count("/") != len(texts) - 1:
        joined = "/".join(escape_json_path(text) for text in texts)
    return "/" + joined


def split_json_path(path: str) -> list[str]:
    """Split a JSON pointer into its unescaped segments: ``""`` gives ``[]``.

    Array indexes stay strings (``"/todos/0"`` gives ``["todos", "0"]``): only the
    container they are applied to says whether a segment is an index. Raises
    ``PatchError`` naming ``path`` when it is not empty and does not start with
    ``/`` (pointers are absolute: ``"todos/0"`` is not one), or holds a bad escape.

    >>> split_json_path("/todos/0/a~1b")
    ['todos', '0', 'a/b']
    """
    if not path:
        return []
    if path[0] != "/":
        raise PatchError(
            f"{path!r} is not a JSON pointer: it must be '' (the whole document) "
            f"or start with '/'; write {'/' + path!r}"
        )
    segments = path[1:].split("/")
    if "~" not in path:
        return segments
    try:
        return [unescape_json_path(segment) for segment in segments]
    except PatchError as error:
        raise PatchError(f"{path!r} is not a valid JSON pointer: {error}") from None
