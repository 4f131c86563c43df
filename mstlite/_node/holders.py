"""What a node holding safe references answers to the tree's index (_node/identifiers.py).

A model or a map is a keyed holder: each slot holding a safe reference has
its registration number in the tree's index (``{key: number}``), and a slot
still refers to the identifier it was numbered for as long as it holds it
(every new reference written there is numbered anew). An array of safe
references numbers its items itself (``ReferenceArrayNode``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from mstlite._node.identifiers import restore_number

__all__ = ["ReferenceHolder"]


class ReferenceHolder:
    """The safe-reference side of ``Node`` (a mixin: no state of its own)."""

    __slots__ = ()

    #: Whether this holder numbers its references itself (an array of them:
    #: ``ReferenceArrayNode``); else each slot's number is kept in the tree's index.
    _numbers_items: ClassVar[bool] = False

    def _slot_value(self, key: Any) -> Any:
        """What slot ``key`` stores now (``None`` when it is empty or absent)."""
        raise NotImplementedError

    def _references_to(self, identifier: str, keys: dict[Any, int] | None) -> list[tuple[int, Any]]:
        """``(number, where)`` of each safe reference to ``identifier`` this node holds;
        ``keys`` is its entry of the tree's index (a keyed holder: slot -> number)."""
        if not keys:
            return []
        return [(seq, key) for key, seq in keys.items() if self._slot_value(key) == identifier]

    def _clear_reference(self, identifier: str, where: Any) -> None:
        """Clear the safe reference to ``identifier`` at ``where`` (from ``_references_to``)."""
        raise NotImplementedError

    def _renumber_reference(
        self, keys: dict[Any, int] | None, where: Any, seq: int
    ) -> tuple[Any, ...]:
        """Give the reference at ``where`` the number ``seq``; return the journal entry
        undoing it."""
        assert keys is not None
        old = keys.get(where)
        keys[where] = seq
        return (restore_number, keys, where, old)

    def _drop_safe_reference(self, identifier: str) -> None:
        """Clear every safe reference to ``identifier`` this node holds."""
        raise NotImplementedError
