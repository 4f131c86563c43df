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
from typing import Any

from mstlite._util import rfc6902
from mstlite._util.json_pointer import join_json_path
from mstlite._util.rfc6902 import compare_json
from mstlite.errors import PatchError
from mstlite.typing import JSONValue, Patch

__all__ = ["apply", "compare_json", "validate_patch"]


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
    state = _Application(document)
    rfc6902.apply_all(state, rfc6902.as_batch(patches))
    result: JSONValue = state.document
    return result


def validate_patch(patch: object) -> None:
    """Check that ``patch`` is a well-formed RFC 6902 operation, without applying it.

    Raises ``PatchError`` saying what is wrong: not a dict, a missing or unknown
    ``op``, a missing or non-string ``path`` or ``from``, a pointer that is not
    RFC 6901, or a missing ``value``. Members the RFC does not define are ignored.
    """
    rfc6902.parse(patch)


class _Application(rfc6902.Document):
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

    def copied(self) -> None:
        # The copied subtree is about to be referenced twice: changing either place
        # in place would change both (or put the value inside itself), so from here
        # on everything is copied again, including the containers the copy goes into.
        self.owned.clear()

    def get(self, parts: list[str], op: str) -> Any:
        value = self.document
        for depth in range(len(parts)):
            value = rfc6902.step(value, parts, depth, op)
        return value

    def _chain(self, parts: list[str], op: str) -> list[Any]:
        """The containers from the root to the parent of the target, outermost first."""
        chain = [self.document]
        for depth in range(len(parts) - 1):
            chain.append(rfc6902.step(chain[-1], parts, depth, op))
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
                f"there is nothing to {op} inside {rfc6902.kind_of(container)} at "
                f"{join_json_path(parts[:-1])!r}: only objects and arrays have members"
            )
        return chain, container

    def put(self, op: str, parts: list[str], value: Any) -> None:
        if not parts:  # The whole document: nothing of the old one is kept.
            self.document = value
            self.owned.clear()
            return
        chain, container = self._target(parts, op)
        key = parts[-1]
        if isinstance(container, dict):
            if op == "replace" and key not in container:
                raise rfc6902.missing_member(parts, len(parts) - 1, op)
            changed = self._own(container)
            changed[key] = value
        else:
            index = rfc6902.index(len(container), key, parts, len(parts) - 1, op)
            changed = self._own(container)
            if op == "add":
                changed.insert(index, value)
            else:
                changed[index] = value
        self._commit(chain, parts, changed)

    def remove(self, parts: list[str], op: str) -> Any:
        """Remove the value at ``parts`` and return it."""
        if not parts:
            raise PatchError(
                f"cannot {op} the whole document; use 'replace' with path '' to swap it"
            )
        chain, container = self._target(parts, op)
        key = parts[-1]
        if isinstance(container, dict):
            if key not in container:
                raise rfc6902.missing_member(parts, len(parts) - 1, op)
            changed = self._own(container)
            value = changed.pop(key)
        else:
            index = rfc6902.index(len(container), key, parts, len(parts) - 1, op)
            changed = self._own(container)
            value = changed.pop(index)
        self._commit(chain, parts, changed)
        return value
