"""RFC 6902 JSON patches on plain JSON values, for replaying patches without a tree.

``apply`` returns a new value and never changes its input. Only the containers
along the patched paths are copied; every untouched subtree is the very same
object in the result, so applying a patch to a large snapshot costs time
proportional to the depth of the paths, not the size of the document.

>>> from mstlite.patch import apply
>>> document = {"todos": [{"title": "Buy milk", "done": False}], "owner": {"name": "Ann"}}
>>> result = apply(document, [
...     {"op": "replace", "path": "/todos/0/done", "value": True},
...     {"op": "add", "path": "/todos/-", "value": {"title": "Call Bob", "done": False}},
... ])
>>> result["todos"][0]["done"], len(result["todos"])
(True, 2)
>>> document["todos"][0]["done"]  # the input is unchanged
False
>>> result["owner"] is document["owner"]  # untouched subtrees are shared
True

Values taken from patches are inserted as they are, not copied: treat the result
like a snapshot (read it, patch it again) rather than changing it in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from mstlite._json_pointer import join_json_path, split_json_path
from mstlite.errors import PatchError
from mstlite.typing import JSONValue, Patch

__all__ = ["apply", "compare_json", "validate_patch"]

_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")
_NEEDS_VALUE: Final = frozenset({"add", "replace", "test"})
_NEEDS_FROM: Final = frozenset({"move", "copy"})
_MISSING: Final[Any] = object()


def apply(
    document: JSONValue,
    patches: Patch | Mapping[str, object] | Iterable[Patch | Mapping[str, object]],
) -> JSONValue:
    """Apply one RFC 6902 patch, or a list of them in order, and return the new document.

    ``document`` is not changed; untouched subtrees of the result are shared with
    it (``is``). A list is applied entirely or not at all: when any patch is
    malformed or cannot be applied, ``PatchError`` is raised naming the patch
    (index, op and path), why it failed and what to do, and no result exists.
    """
    batch: Iterable[object]
    if isinstance(patches, Mapping):
        batch = (patches,)
    elif isinstance(patches, Iterable) and not isinstance(patches, str | bytes):
        batch = patches
    else:
        raise PatchError(
            f"patches must be a patch (a dict with 'op' and 'path') or a list of them, "
            f"got {type(patches).__name__}"
        )
    state = _Application(document)
    for index, patch in enumerate(batch):
        try:
            state.apply(*_parse(patch))
        except PatchError as error:
            raise PatchError(f"patch {index}{_describe(patch)}: {error}") from None
    result: JSONValue = state.document
    return result


def validate_patch(patch: object) -> None:
    """Check that ``patch`` is a well-formed RFC 6902 operation, without applying it.

    Raises ``PatchError`` saying what is wrong: not a dict, a missing or unknown
    ``op``, a missing or non-string ``path`` or ``from``, a pointer that is not
    RFC 6901, or a missing ``value``. Members the RFC does not define are ignored.
    """
    _parse(patch)


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


def _describe(patch: object) -> str:
    """`` (op '/path')`` for error messages, as far as the patch allows."""
    if not isinstance(patch, Mapping):
        return ""
    op, path = patch.get("op"), patch.get("path")
    if not isinstance(op, str):
        return ""
    return f" ({op} {path!r})" if isinstance(path, str) else f" ({op})"


def _parse(patch: object) -> tuple[str, list[str], list[str] | None, Any]:
    """Check ``patch`` and return ``(op, path parts, from parts or None, value)``."""
    if not isinstance(patch, Mapping):
        raise PatchError(
            f"a patch must be a dict with 'op' and 'path', got {type(patch).__name__} "
            f"{_short(patch)}"
        )
    op = patch.get("op", _MISSING)
    if op is _MISSING:
        raise PatchError(f"the patch has no 'op'; add one of {', '.join(_OPS)}: {_short(patch)}")
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


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool) or value is None:
        return f"the scalar {value!r}"
    if isinstance(value, int | float | str):
        return f"the {type(value).__name__} {_short(value)}"
    return f"a {type(value).__name__} (not JSON)"


def _allowed(size: int, appending: bool) -> str:
    if appending:
        return f"0 to {size}, or '-' to append"
    return f"0 to {size - 1}" if size else "none, the array is empty"


def _index(container: list[Any], token: str, parts: list[str], depth: int, op: str) -> int:
    """The array index ``token`` names in ``container`` (at ``parts[:depth]``).

    ``len(container)`` is allowed (and ``-`` means it) only for add's last token.
    """
    size = len(container)
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


def _missing_member(parts: list[str], depth: int, op: str) -> PatchError:
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


def _step(container: object, parts: list[str], depth: int, op: str) -> Any:
    """The child of ``container`` at ``parts[depth]``; raises PatchError if there is none."""
    token = parts[depth]
    if isinstance(container, dict):
        # .get, not [ ]: a defaultdict would create the member it is asked for.
        child = container.get(token, _MISSING)
        if child is _MISSING:
            raise _missing_member(parts, depth, op)
        return child
    if isinstance(container, list):
        # Only a final add token may be len(container), and _step never sees one.
        return container[_index(container, token, parts, depth, op)]
    raise PatchError(
        f"{join_json_path(parts[: depth + 1])!r} does not exist: the value at "
        f"{join_json_path(parts[:depth])!r} is {_kind(container)}, not an object or array"
    )


class _Application:
    """One ``apply`` call: the document so far and the containers it made.

    Containers this application copied (``owned``) are referenced only from the
    new document, so later patches change them in place instead of copying again;
    every other container (the input's, the patches' values) is never changed.
    """

    __slots__ = ("document", "owned")

    def __init__(self, document: JSONValue) -> None:
        self.document: Any = document
        # id -> container: holding the container keeps its id from being reused.
        self.owned: dict[int, Any] = {}

    def apply(self, op: str, parts: list[str], source: list[str] | None, value: Any) -> None:
        if op == "test":
            actual = self._get(parts, op)
            if not compare_json(actual, value):
                raise PatchError(
                    f"test failed: expected {_short(value)}, found {_short(actual)}; the "
                    "document is not in the state these patches were made for"
                )
        elif op == "add" or op == "replace":
            self._put(op, parts, value)
        elif op == "remove":
            self._remove(parts, op)
        else:
            assert source is not None
            if op == "copy":
                self._put("add", parts, self._get(source, op))
                # The copied subtree is now referenced twice: changing either place in
                # place would change both, so from here on everything is copied again.
                self.owned.clear()
            elif source != parts:
                if len(parts) > len(source) and parts[: len(source)] == source:
                    raise PatchError(
                        f"cannot move {join_json_path(source)!r} into its own child; "
                        "copy it there, or move it to a path outside itself"
                    )
                self._put("add", parts, self._remove(source, op))
            else:
                self._get(source, op)  # Moving a value onto itself: it must still exist.

    def _get(self, parts: list[str], op: str) -> Any:
        value = self.document
        for depth in range(len(parts)):
            value = _step(value, parts, depth, op)
        return value

    def _chain(self, parts: list[str], op: str) -> list[Any]:
        """The containers from the root to the parent of the target, outermost first."""
        chain = [self.document]
        for depth in range(len(parts) - 1):
            chain.append(_step(chain[-1], parts, depth, op))
        return chain

    def _own(self, container: Any) -> Any:
        if id(container) in self.owned:
            return container
        copy = dict(container) if isinstance(container, dict) else list(container)
        self.owned[id(copy)] = copy
        return copy

    def _commit(self, chain: list[Any], parts: list[str], changed: Any) -> None:
        """Link ``changed`` (the new parent of the target) into copies of its ancestors."""
        for depth in range(len(chain) - 2, -1, -1):
            if changed is chain[depth + 1]:
                return  # Changed in place: its (owned) ancestors already hold it.
            parent = self._own(chain[depth])
            if isinstance(parent, dict):
                parent[parts[depth]] = changed
            else:
                parent[int(parts[depth])] = changed
            changed = parent
        self.document = changed

    def _target(self, parts: list[str], op: str) -> tuple[list[Any], Any]:
        chain = self._chain(parts, op)
        container = chain[-1]
        if not isinstance(container, dict | list):
            raise PatchError(
                f"there is nothing to {op} inside {_kind(container)} at "
                f"{join_json_path(parts[:-1])!r}: only objects and arrays have members"
            )
        return chain, container

    def _put(self, op: str, parts: list[str], value: Any) -> None:
        if not parts:  # The whole document: nothing of the old one is kept.
            self.document = value
            self.owned.clear()
            return
        chain, container = self._target(parts, op)
        key = parts[-1]
        if isinstance(container, dict):
            if op == "replace" and key not in container:
                raise _missing_member(parts, len(parts) - 1, op)
            changed = self._own(container)
            changed[key] = value
        else:
            index = _index(container, key, parts, len(parts) - 1, op)
            changed = self._own(container)
            if op == "add":
                changed.insert(index, value)
            else:
                changed[index] = value
        self._commit(chain, parts, changed)

    def _remove(self, parts: list[str], op: str) -> Any:
        """Remove the value at ``parts`` and return it."""
        if not parts:
            raise PatchError(
                f"cannot {op} the whole document; use 'replace' with path '' to swap it"
            )
        chain, container = self._target(parts, op)
        key = parts[-1]
        if isinstance(container, dict):
            if key not in container:
                raise _missing_member(parts, len(parts) - 1, op)
            changed = self._own(container)
            value = changed.pop(key)
        else:
            index = _index(container, key, parts, len(parts) - 1, op)
            changed = self._own(container)
            value = changed.pop(index)
        self._commit(chain, parts, changed)
        return value
