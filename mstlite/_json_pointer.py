"""RFC 6901 JSON pointer helpers (temporary; replaced by the patch helper's module)."""

from __future__ import annotations

from collections.abc import Iterable

from mstlite.errors import PatchError


def escape_json_path(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def unescape_json_path(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def join_json_path(parts: Iterable[str | int]) -> str:
    return "".join("/" + escape_json_path(str(p)) for p in parts)


def split_json_path(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with '/'")
    return [unescape_json_path(p) for p in path[1:].split("/")]
