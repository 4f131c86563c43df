"""The RFC 6902 core shared by ``mstlite.patch.apply`` (plain JSON) and ``apply_patch`` (trees).

One parser (``parse``), one set of index and member rules with their messages
(``index``, ``missing_member``, ``step``), one dispatcher of the six operations
(``Document.apply``) and one batch loop (``apply_all``): a document kind only
says how to read, put and remove a value at a path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from mstlite._util.json_pointer import join_json_path, split_json_path
from mstlite.errors import PatchError

__all__ = [
    "Document",
    "apply_all",
    "compare_json",
    "index",
    "kind_of",
    "missing_member",
    "parse",
    "short",
    "step",
]

_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")
_NEEDS_VALUE: Final = frozenset({"add", "replace", "test"})
_NEEDS_FROM: Final = frozenset({"move", "copy"})
_PLAIN_OPS: Final = frozenset({"add", "remove", "replace", "test"})
_MISSING: Final[Any] = object()


def as_batch(patches: object) -> Iterable[object]:
    """One patch or a list of them, as an iterable of patches."""
    if isinstance(patches, Mapping):
        return (patches,)
    if isinstance(patches, Iterable) and not isinstance(patches, str | bytes):
        return patches
    raise PatchError(
        f"patches must be a patch (a dict with 'op' and 'path') or a list of them, "
        f"got {type(patches).__name__}"
    )


def apply_all(document: Document, patches: Iterable[object]) -> None:
    """Apply each patch in order; a failure raises ``PatchError`` naming the patch."""
    for number, patch in enumerate(patches):
        try:
            # Unpacked, not apply(*...): a plain call of a Python function is cheaper.
            op, parts, source, value = parse(patch)
            document.apply(op, parts, source, value)
        except PatchError as error:
            raise PatchError(f"patch {number}{describe(patch)}: {error}") from None


def compare_json(a: object, b: object) -> bool:
    """Whether two JSON values are equal as RFC 6902's ``test`` defines it.

    Numbers are equal when numerically equal (``1 == 1.0``), but booleans are not
    numbers (``True`` is not ``1``); objects are equal when they hold the same
    members whatever their order; arrays when their items are equal in order.
    """
    if a is b:  # Shared subtrees of structurally shared snapshots stop here.
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float):
        return isinstance(b, int | float) and a == b
    if a is None:
        return b is None
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(compare_json(item, b.get(key, _MISSING)) for key, item in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(compare_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def describe(patch: object) -> str:
    """`` (op '/path')`` for error messages, as far as the patch allows."""
    if not isinstance(patch, Mapping):
        return ""
    op, path = patch.get("op"), patch.get("path")
    if not isinstance(op, str):
        return ""
    return f" ({op} {path!r})" if isinstance(path, str) else f" ({op})"


def parse(patch: object) -> tuple[str, list[str], list[str] | None, Any]:
    """Check ``patch`` and return ``(op, path parts, from parts or None, value)``."""
    if type(patch) is dict:
        # Most patches in one pass: a plain dict, an op with no 'from', a path with
        # no escapes. Anything else (and every error) takes the checks below.
        op, path = patch.get("op"), patch.get("path")
        if type(op) is str and op in _PLAIN_OPS and type(path) is str and path[:1] == "/":
            value = patch.get("value", _MISSING)
            if "~" not in path and (value is not _MISSING or op == "remove"):
                return op, path[1:].split("/"), None, value
    return _checked(patch)


def _checked(patch: object) -> tuple[str, list[str], list[str] | None, Any]:
    if not isinstance(patch, Mapping):
        raise PatchError(
            f"a patch must be a dict with 'op' and 'path', got {type(patch).__name__} "
            f"{short(patch)}"
        )
    op = patch.get("op", _MISSING)
    if op is _MISSING:
        raise PatchError(f"the patch has no 'op'; add one of {', '.join(_OPS)}: {short(patch)}")
    if not isinstance(op, str) or op not in _OPS:
        raise PatchError(f"unknown op {op!r}; use one of {', '.join(_OPS)}")
    parts = _pointer(patch, "path", op)
    source = _pointer(patch, "from", op) if op in _NEEDS_FROM else None
    value = patch.get("value", _MISSING)
    if value is _MISSING and op in _NEEDS_VALUE:
        verb = "compare with" if op == "test" else "write"
        raise PatchError(f"'{op}' needs a 'value' member: the JSON value to {verb}")
    return op, parts, source, value


def _pointer(patch: Mapping[str, object], member: str, op: str) -> list[str]:
    pointer = patch.get(member, _MISSING)
    if pointer is _MISSING:
        raise PatchError(
            f"'{op}' needs a '{member}' member: a JSON pointer such as '/todos/0' "
            "('' for the whole document)"
        )
    if not isinstance(pointer, str):
        raise PatchError(
            f"'{member}' must be a string (a JSON pointer such as '/todos/0'), "
            f"got {type(pointer).__name__} {pointer!r}"
        )
    try:
        return split_json_path(pointer)
    except PatchError as error:
        raise PatchError(f"bad '{member}': {error}") from None


def short(value: object) -> str:
    """``repr(value)`` cut to 80 characters, for messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def kind_of(value: object) -> str:
    """What ``value`` is, for messages: "an object", "the int 3", ..."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool) or value is None:
        return f"the scalar {value!r}"
    if isinstance(value, int | float | str):
        return f"the {type(value).__name__} {short(value)}"
    return f"a {type(value).__name__} (not JSON)"


def _allowed(size: int, appending: bool) -> str:
    if appending:
        return f"0 to {size}, or '-' to append"
    return f"0 to {size - 1}" if size else "none, the array is empty"


def index(size: int, token: str, parts: list[str], depth: int, op: str) -> int:
    """The array index ``token`` names in an array of ``size`` items (at ``parts[:depth]``).

    ``size`` is allowed (and ``-`` means it) only for add's last token.
    """
    # The common case first, without building the error messages' location: a plain
    # decimal index in range (no sign, no leading zero: isdigit() on ASCII digits).
    if token.isascii() and token.isdigit() and (token[0] != "0" or len(token) == 1):
        position = int(token)
        if position < size:
            return position
    appending = op == "add" and depth == len(parts) - 1
    where = join_json_path(parts[:depth])
    if token == "-":
        if appending:
            return size
        raise PatchError(
            f"'-' (the end of the array at {where!r}) names no item: it is only valid as "
            f"the last token of an 'add' path; valid indexes here: {_allowed(size, False)}"
        )
    if not (token.isdigit() and token.isascii()):
        raise PatchError(
            f"{token!r} is not an array index: the value at {where!r} is an array, whose "
            f"items are addressed by number; valid indexes: {_allowed(size, appending)}"
        )
    if token[0] == "0" and len(token) > 1:
        raise PatchError(
            f"{token!r} is not an array index: leading zeros are not allowed (RFC 6901); "
            f"write {token.lstrip('0') or '0'!r}"
        )
    index = int(token)
    if index < size or (appending and index == size):
        return index
    raise PatchError(
        f"index {index} is out of range for the array at {where!r}, which has {size} "
        f"item{'s' * (size != 1)}; valid indexes: {_allowed(size, appending)}"
    )


def missing_member(parts: list[str], depth: int, op: str) -> PatchError:
    """The error for an object member named by ``parts[depth]`` that does not exist."""
    where = join_json_path(parts[:depth])
    if depth < len(parts) - 1:
        hint = (
            f"add {join_json_path(parts[: depth + 1])!r} first: missing objects are not "
            "created on the way"
            if op == "add"
            else "check the path against the document"
        )
    elif op in ("remove", "replace"):
        hint = "use 'add' to create it"
    else:
        hint = "check the path against the document"
    return PatchError(f"the object at {where!r} has no member {parts[depth]!r}; {hint}")


def step(container: object, parts: list[str], depth: int, op: str) -> Any:
    """The child of a JSON ``container`` at ``parts[depth]``; PatchError if there is none."""
    token = parts[depth]
    if isinstance(container, dict):
        # .get, not [ ]: a defaultdict would create the member it is asked for.
        child = container.get(token, _MISSING)
        if child is _MISSING:
            raise missing_member(parts, depth, op)
        return child
    if isinstance(container, list):
        # Only a final add token may be len(container), and _step never sees one.
        return container[index(len(container), token, parts, depth, op)]
    raise PatchError(
        f"{join_json_path(parts[: depth + 1])!r} does not exist: the value at "
        f"{join_json_path(parts[:depth])!r} is {kind_of(container)}, not an object or array"
    )


class Document:
    """A document patches apply to: the six operations over three primitives.

    ``get`` reads the value at a path, ``put`` adds or replaces it, ``remove``
    takes it out and returns it; each raises ``PatchError`` with the shared
    messages. ``copied`` is told when a copy is about to put the copied value.
    """

    def get(self, parts: list[str], op: str) -> Any:
        raise NotImplementedError

    def put(self, op: str, parts: list[str], value: Any) -> None:
        raise NotImplementedError

    def remove(self, parts: list[str], op: str) -> Any:
        raise NotImplementedError

    def copied(self) -> None:
        """A value is being copied: it may now be referenced twice."""

    def apply(self, op: str, parts: list[str], source: list[str] | None, value: Any) -> None:
        """Apply one parsed operation."""
        if op == "test":
            actual = self.get(parts, op)
            if not compare_json(actual, value):
                raise PatchError(
                    f"test failed: expected {short(value)}, found {short(actual)}; the "
                    "document is not in the state these patches were made for"
                )
        elif op == "add" or op == "replace":
            self.put(op, parts, value)
        elif op == "remove":
            self.remove(parts, op)
        else:
            assert source is not None
            if op == "copy":
                value = self.get(source, op)
                # Told before the put: the value may be a container the put changes
                # (copying a value into itself), and must stay as it was.
                self.copied()
                self.put("add", parts, value)
            elif source != parts:
                if len(parts) > len(source) and parts[: len(source)] == source:
                    raise PatchError(
                        f"cannot move {join_json_path(source)!r} into its own child; "
                        "copy it there, or move it to a path outside itself"
                    )
                self.put("add", parts, self.remove(source, op))
            else:
                self.get(source, op)  # Moving a value onto itself: it must still exist.
