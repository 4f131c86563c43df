"""Undo and redo built on inverse patches: ``UndoManager(tree)``.

One history entry per outermost action; a flow's stretches form one entry
(as MobX-State-Tree's UndoManager does); ``group()`` merges several actions
into one entry and ``without_undo()`` keeps changes out of the history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mstlite._api.middleware import ActionContext, add_middleware
from mstlite._api.patching import apply_patch, on_patch
from mstlite._engine.reactivity import Atom, report_observed
from mstlite._engine.transaction import Transaction, run_pending_reactions
from mstlite._node.node import Node
from mstlite._util.frozen import freeze

if TYPE_CHECKING:
    from mstlite.typing import Patch

__all__ = ["HistoryEntry", "UndoManager"]


@dataclass(slots=True)
class HistoryEntry:
    """The patches of one undoable step and their inverses."""

    patches: list[Patch] = field(default_factory=list)
    inverse_patches: list[Patch] = field(default_factory=list)


class UndoManager:
    """Records undoable steps of ``tree`` and undoes or redoes them.

    ``can_undo``/``can_redo`` are observable by reactions. ``max_history``
    bounds the number of entries kept (oldest dropped first). The manager
    hooks into its own tree only: a commit of another tree never reaches it.
    """

    def __init__(self, tree: Node, *, max_history: int = 100) -> None:
        self.tree = tree
        self.max_history = max_history
        self._history: list[HistoryEntry] = []
        self._position = 0
        self._pending = HistoryEntry()
        self._skip = 0
        self._group: HistoryEntry | None = None
        self._group_depth = 0
        # Flow id -> the entry its stretches are collected in until it ends.
        self._flows: dict[int, HistoryEntry] = {}
        self._atom = Atom()
        self._disposers = [
            on_patch(tree, self._record),
            add_middleware(tree, self._middleware),
        ]
        self._hooks = tree._tree.commit_hooks
        self._hooks.append(self._on_commit)

    # ------------------------------------------------------------ recording
    def _record(self, patch: Patch, inverse: Patch) -> None:
        if self._skip:
            return
        self._pending.patches.append(patch)
        self._pending.inverse_patches.append(inverse)

    def _middleware(self, call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        if call.type in ("flow_return", "flow_throw"):
            try:
                return next_(call)
            finally:
                self._close_flow(call.root_id)
        return next_(call)

    def _on_commit(self, tx: Transaction) -> None:
        # A stretch of a flow carries the flow's id on its transaction itself.
        flow = tx.flow or None
        entry = self._pending
        if not entry.patches:
            return
        self._pending = HistoryEntry()
        if self._group is not None:
            target = self._group
        elif flow is not None:
            target = self._flows.setdefault(flow, HistoryEntry())
        else:
            self._push(entry)
            return
        target.patches.extend(entry.patches)
        target.inverse_patches.extend(entry.inverse_patches)

    def _close_flow(self, flow: int) -> None:
        entry = self._flows.pop(flow, None)
        if entry is not None and entry.patches:
            if self._group is not None:
                self._group.patches.extend(entry.patches)
                self._group.inverse_patches.extend(entry.inverse_patches)
            else:
                self._push(entry)

    def _push(self, entry: HistoryEntry) -> None:
        del self._history[self._position :]
        self._history.append(entry)
        if len(self._history) > self.max_history:
            del self._history[: len(self._history) - self.max_history]
        self._position = len(self._history)
        self._atom.report_changed(self.tree._tree.rt)

    # ------------------------------------------------------------- public
    @property
    def history(self) -> list[HistoryEntry]:
        """The recorded entries, oldest first (entries past ``undo_index`` can be redone)."""
        report_observed(self.tree._tree.rt, self._atom)
        return list(self._history)

    @property
    def undo_index(self) -> int:
        """How many entries are currently applied."""
        report_observed(self.tree._tree.rt, self._atom)
        return self._position

    @property
    def can_undo(self) -> bool:
        """True when there is an entry to undo."""
        report_observed(self.tree._tree.rt, self._atom)
        return self._position > 0

    @property
    def can_redo(self) -> bool:
        """True when there is an undone entry to redo."""
        report_observed(self.tree._tree.rt, self._atom)
        return self._position < len(self._history)

    def undo(self) -> None:
        """Undo the last entry; raises ``IndexError`` when there is none."""
        if self._position == 0:
            raise IndexError("nothing to undo")
        entry = self._history[self._position - 1]
        self._step([freeze(p) for p in reversed(entry.inverse_patches)], -1)

    def redo(self) -> None:
        """Redo the next undone entry; raises ``IndexError`` when there is none."""
        if self._position >= len(self._history):
            raise IndexError("nothing to redo")
        entry = self._history[self._position]
        self._step([freeze(p) for p in entry.patches], 1)

    def _step(self, patches: list[Any], move: int) -> None:
        """Apply ``patches`` and move the position, as one action: both or neither."""

        def run() -> None:
            apply_patch(self.tree, patches)
            rt = self.tree._tree.rt
            tx = rt.tx
            assert tx is not None
            tx.journal.append((self._restore_position, self._position))
            self._position += move
            self._atom.report_changed(rt)

        with self._skipping():
            self.tree._transact(run)

    def _restore_position(self, position: int) -> None:
        self._position = position
        self._atom.report_changed(self.tree._tree.rt)

    def clear(self) -> None:
        """Forget the whole history."""
        self._history.clear()
        self._position = 0
        self._changed()

    def _changed(self) -> None:
        rt = self.tree._tree.rt
        self._atom.report_changed(rt)
        run_pending_reactions(rt)

    @contextlib.contextmanager
    def group(self) -> Iterator[None]:
        """Merge every change made inside the ``with`` block into one entry."""
        outer = self._group is None
        if outer:
            self._group = HistoryEntry()
        try:
            yield
        finally:
            if outer:
                entry, self._group = self._group, None
                if entry is not None and entry.patches:
                    self._push(entry)
                    run_pending_reactions(self.tree._tree.rt)

    @contextlib.contextmanager
    def _skipping(self) -> Iterator[None]:
        self._skip += 1
        try:
            yield
        finally:
            self._skip -= 1

    def without_undo(self, fn: Callable[[], Any] | None = None) -> Any:
        """Run ``fn()`` (or a ``with`` block) without recording its changes."""
        if fn is None:
            return self._skipping()
        with self._skipping():
            return fn()

    def dispose(self) -> None:
        """Stop recording."""
        for dispose in self._disposers:
            dispose()
        self._disposers = []
        if self._on_commit in self._hooks:
            self._hooks.remove(self._on_commit)
