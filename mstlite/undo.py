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

from mstlite._api.middleware import ActionContext, add_flow_middleware
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
        # The entries, flat: every patch and inverse of every entry, oldest first, and
        # where each entry ends in them (entry i spans _ends[i - 1] (or 0) to _ends[i]).
        # What the listener hears goes straight after the last entry, and the commit
        # hook files it: recording a step copies nothing and allocates no container
        # the cyclic collector would scan again and again as the history grows.
        self._patches: list[Patch] = []
        self._inverses: list[Patch] = []
        self._ends: list[int] = []
        self._position = 0
        self._skip = 0
        self._group: HistoryEntry | None = None
        # Flow id -> the entry its stretches are collected in until it ends.
        self._flows: dict[int, HistoryEntry] = {}
        self._atom = Atom()
        self._disposers = [
            on_patch(tree, self._record),
            add_flow_middleware(tree, self._flow_middleware),
        ]
        self._hooks = tree._tree.commit_hooks
        self._hooks.append(self._on_commit)

    # ------------------------------------------------------------ recording
    def _record(self, patch: Patch, inverse: Patch) -> None:
        if self._skip:
            return
        self._patches.append(patch)
        self._inverses.append(inverse)

    def _flow_middleware(self, call: ActionContext, next_: Callable[[ActionContext], Any]) -> Any:
        """Files a flow's entry when it ends (flow events only: see add_flow_middleware)."""
        if call.type in ("flow_return", "flow_throw"):
            try:
                return next_(call)
            finally:
                self._close_flow(call.root_id)
        return next_(call)

    def _filed(self) -> int:
        """Where the filed entries end in the flat lists (what follows is unfiled)."""
        ends = self._ends
        return ends[-1] if ends else 0

    def _on_commit(self, tx: Transaction) -> None:
        """File what the listener heard of ``tx`` (the commit just delivered)."""
        patches = self._patches
        ends = self._ends
        filed = ends[-1] if ends else 0  # self._filed(), inlined: this runs at every commit
        end = len(patches)
        if end == filed:
            return
        # A stretch of a flow carries the flow's id on its transaction itself.
        flow = tx.flow
        target: HistoryEntry | None = self._group
        if target is None and not flow:
            position = len(ends)
            if self._position == position and position < self.max_history:
                # _file's common case, inlined: no redo branch to drop, nothing to forget.
                ends.append(end)
                self._position = position + 1
                if self._atom.observers:
                    self._atom.report_changed(self.tree._tree.rt)
                return
        if target is None and flow:
            target = self._flows.get(flow)
            if target is None:
                target = self._flows[flow] = HistoryEntry()
        if target is None:  # the common case: one entry per outermost action
            self._file()
            return
        target.patches.extend(patches[filed:])
        target.inverse_patches.extend(self._inverses[filed:])
        del patches[filed:], self._inverses[filed:]

    def _close_flow(self, flow: int) -> None:
        entry = self._flows.pop(flow, None)
        if entry is not None and entry.patches:
            if self._group is not None:
                self._group.patches.extend(entry.patches)
                self._group.inverse_patches.extend(entry.inverse_patches)
            else:
                self._push(entry)

    def _push(self, entry: HistoryEntry) -> None:
        """File ``entry`` (a group's or a flow's) as the newest entry."""
        filed = self._filed()
        self._patches[filed:filed] = entry.patches  # before anything heard but unfiled
        self._inverses[filed:filed] = entry.inverse_patches
        self._file(filed + len(entry.patches))

    def _file(self, end: int | None = None) -> None:
        """Make the patches up to ``end`` (all heard so far by default) the newest
        entry, dropping the undone entries past the position and the oldest beyond
        ``max_history``."""
        ends = self._ends
        if end is None:
            end = len(self._patches)
        position = self._position
        if position < len(ends):  # a new step drops the redo branch
            cut = ends[position - 1] if position else 0
            filed = ends[-1]
            del self._patches[cut:filed], self._inverses[cut:filed], ends[position:]
            end -= filed - cut
        ends.append(end)
        if len(ends) > self.max_history:
            self._forget_oldest(len(ends) - max(self.max_history, 0))
        self._position = len(ends)
        if self._atom.observers:
            self._atom.report_changed(self.tree._tree.rt)

    def _forget_oldest(self, count: int) -> None:
        """Drop the ``count`` oldest entries."""
        ends = self._ends
        cut = ends[count - 1]
        del self._patches[:cut], self._inverses[:cut]
        ends[:] = [end - cut for end in ends[count:]]

    def _entry(self, index: int) -> tuple[list[Patch], list[Patch]]:
        """The patches and inverse patches of entry ``index``."""
        start = self._ends[index - 1] if index else 0
        end = self._ends[index]
        return self._patches[start:end], self._inverses[start:end]

    # ------------------------------------------------------------- public
    @property
    def history(self) -> list[HistoryEntry]:
        """The recorded entries, oldest first (entries past ``undo_index`` can be redone).

        Each read returns new entries: changing them does not change the history.
        """
        report_observed(self.tree._tree.rt, self._atom)
        return [HistoryEntry(*self._entry(index)) for index in range(len(self._ends))]

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
        return self._position < len(self._ends)

    def undo(self) -> None:
        """Undo the last entry; raises ``IndexError`` when there is none."""
        if self._position == 0:
            raise IndexError("nothing to undo")
        _, inverses = self._entry(self._position - 1)
        self._step([freeze(p) for p in reversed(inverses)], -1)

    def redo(self) -> None:
        """Redo the next undone entry; raises ``IndexError`` when there is none."""
        if self._position >= len(self._ends):
            raise IndexError("nothing to redo")
        patches, _ = self._entry(self._position)
        self._step([freeze(p) for p in patches], 1)

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
        filed = self._filed()
        del self._patches[:filed], self._inverses[:filed]
        self._ends.clear()
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
