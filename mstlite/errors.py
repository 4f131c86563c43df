"""The mstlite error hierarchy: one base class, one class per cause."""

from __future__ import annotations

from typing import Any

__all__ = [
    "DeadNodeError",
    "InvalidReferenceError",
    "LivelinessWarning",
    "MstError",
    "PatchError",
    "ProtectionError",
    "ThreadError",
    "TreeError",
    "ValidationError",
]


class MstError(Exception):
    """Base class of every error mstlite raises on purpose."""


class ValidationError(MstError, ValueError):
    """Raised when a snapshot or value does not match its type.

    ``errors`` lists every problem found, each a dict with ``path`` (a JSON
    pointer relative to the value being checked), ``message`` and, when
    pydantic found it, ``type`` (pydantic's error code). Nothing was built or
    changed when this is raised.
    """

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors: list[dict[str, Any]] = errors or []


class ProtectionError(MstError):
    """Raised when a protected tree is changed outside of an action."""


class PatchError(MstError):
    """Raised when a JSON patch is malformed or cannot be applied.

    A list of patches is applied entirely or not at all, so nothing has changed
    when this is raised.
    """


class InvalidReferenceError(MstError):
    """Raised when a reference is read but its target is not in the tree."""


class DeadNodeError(MstError):
    """Raised when a destroyed or removed node is changed, or read while
    ``set_liveliness_checking("error")`` is in force."""


class LivelinessWarning(UserWarning):
    """Warned when a destroyed or removed node is read (its last value is returned).

    The default of ``set_liveliness_checking``; ``"error"`` raises
    ``DeadNodeError`` instead and ``"ignore"`` silences it. Filter it with the
    ``warnings`` module like any other category.
    """


class TreeError(MstError):
    """Raised when an operation would break the tree's shape.

    Examples: adding a node that already has a parent, creating a cycle,
    two nodes of one type with the same identifier, or an unknown path.
    """


class ThreadError(MstError):
    """Raised when a live node is used from a thread that does not own its tree.

    A tree belongs to the thread that created it (or that last called
    ``adopt`` on it): every write, and every read made inside an action,
    computed view or reaction, must happen there. Snapshots may be read anywhere.
    """
