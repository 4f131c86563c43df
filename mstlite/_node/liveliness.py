"""Liveliness checking: what reading a dead node does (MST's ``setLivelinessChecking``).

A node dies when it is removed from its tree or destroyed; reading it then
returns its last value, which is almost always a bug (a reference kept to a
replaced node). By default such a read warns with ``LivelinessWarning``;
``"error"`` makes it raise ``DeadNodeError``; ``"ignore"`` allows it. The mode
is process-wide, as in MobX-State-Tree.

The reads check ``node._alive`` (one attribute test) and call ``dead_read``
only for a dead node, so live reads pay next to nothing.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal, TypeAlias

from mstlite.errors import DeadNodeError, LivelinessWarning

if TYPE_CHECKING:
    from mstlite._node.node import Node

__all__ = ["LivelinessMode", "dead_read", "get_liveliness_checking", "set_liveliness_checking"]

LivelinessMode: TypeAlias = Literal["warn", "error", "ignore"]
_MODES = ("warn", "error", "ignore")
_mode: LivelinessMode = "warn"


def set_liveliness_checking(mode: LivelinessMode) -> None:
    """What reading a dead (removed or destroyed) node does, for the whole process.

    ``"warn"`` (the default) warns with ``LivelinessWarning`` and returns the
    last value; ``"error"`` raises ``DeadNodeError``; ``"ignore"`` returns the
    last value silently. Raises ``ValueError`` for any other mode.
    """
    global _mode
    if mode not in _MODES:
        raise ValueError(
            f"liveliness checking mode must be 'warn', 'error' or 'ignore', not {mode!r}"
        )
    _mode = mode


def get_liveliness_checking() -> LivelinessMode:
    """The current liveliness checking mode: ``"warn"``, ``"error"`` or ``"ignore"``."""
    return _mode


def dead_read(node: Node, what: str) -> None:
    """A read of ``what`` on the dead ``node``: warn, raise or allow, as the mode says."""
    if _mode == "ignore":
        return
    message = (
        f"reading {what} of a dead {node._type.name} (last at {node._path() or '/'!r}): it "
        "was removed from its tree or destroyed, so this is its last value, no longer "
        "kept up to date; read the live node instead (keep its identifier or path, not the "
        "object), or detach() it to keep it alive. "
        "set_liveliness_checking('error' or 'ignore') changes what this does"
    )
    if _mode == "error":
        raise DeadNodeError(message)
    # stacklevel 3: the user's line that read (dead_read <- the descriptor <- it).
    warnings.warn(message, LivelinessWarning, stacklevel=3)
