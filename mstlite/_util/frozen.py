"""Immutable snapshot containers: plain dict and list subclasses that refuse mutation."""

from __future__ import annotations

from enum import Enum
from typing import Any, NoReturn, SupportsIndex

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw", "unshare"]


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(
        f"snapshots are immutable: {type(self).__name__} cannot be changed; "
        "change the tree through an action, or change a mutable copy: dict(snapshot) or "
        "list(snapshot) copies one level, json.loads(json.dumps(snapshot)) all of it"
    )


class FrozenDict(dict[str, Any]):
    """A snapshot of a model or map: equal to a plain dict, but read-only.

    Being a real ``dict`` subclass keeps ``json.dumps`` and ``==`` with plain
    dicts working at C speed; copying returns the same object, since nothing
    can change it.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: object) -> FrozenDict:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)

    __hash__ = None


class FrozenList(list[Any]):
    """A snapshot of an array: equal to a plain list, but read-only."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: object) -> FrozenList:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))

    def __repr__(self) -> str:
        return list.__repr__(self)

    def __getitem__(self, index: SupportsIndex | slice) -> Any:
        if isinstance(index, slice):
            return FrozenList(list.__getitem__(self, index))
        return list.__getitem__(self, index)

    __hash__ = None


EMPTY_DICT = FrozenDict()
EMPTY_LIST = FrozenList()


def freeze(value: Any) -> Any:
    """Return an immutable deep copy of a JSON value; frozen parts are shared as they are.

    Raises ``TypeError`` for anything that is not JSON (sets, objects, non-string keys).
    """
    kind = type(value)
    if kind is FrozenDict or kind is FrozenList:
        return value
    if value is None or kind is str or kind is int or kind is bool or kind is float:
        return value
    if isinstance(value, dict):
        if isinstance(value, FrozenDict):  # a model's snapshot: its values are frozen
            return FrozenDict(value)
        out = FrozenDict()
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"JSON object keys must be strings, got {key!r}")
            dict.__setitem__(out, key, freeze(item))
        return out
    if isinstance(value, (list, tuple)):
        return FrozenList([freeze(item) for item in value])
    # Subclasses (str enums, IntEnum, numpy-free int subclasses) are stored as the plain value.
    if isinstance(value, Enum):
        return freeze(value.value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{type(value).__name__} is not a JSON value: {value!r}")


def thaw(value: Any) -> Any:
    """Return a plain, mutable deep copy of a snapshot (dicts and lists)."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def unshare(value: Any) -> Any:
    """A copy of a snapshot made of new containers (of the same classes), leaves shared.

    A node built from a snapshot keeps it as its own; when the snapshot holds
    another live node's snapshot objects, the new nodes get copies, so each
    snapshot object belongs to one node (MST compares them by identity). Every
    occurrence is copied apart. Iterative: snapshots may be deeper than
    Python's recursion limit.
    """
    if not isinstance(value, (FrozenDict, FrozenList)):
        return value
    root = type(value)() if isinstance(value, dict) else FrozenList()
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        pairs = source.items() if isinstance(source, dict) else enumerate(source)
        items: list[Any] = []
        for key, child in pairs:
            if isinstance(child, (FrozenDict, FrozenList)):
                copy = type(child)() if isinstance(child, dict) else FrozenList()
                stack.append((child, copy))
                child = copy
            if isinstance(source, dict):
                dict.__setitem__(target, key, child)
            else:
                items.append(child)
        if items:
            list.extend(target, items)
    return root
