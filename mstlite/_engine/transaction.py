"""Transactions: run an action, commit it or roll it back; every nested action is a savepoint.

The outermost action of a thread opens a ``Transaction`` on that thread's
runtime; nested actions join it, each from a savepoint: when a nested action
raises, what it wrote (and the patches it queued) is undone before the
exception reaches its caller. The engine knows nothing of nodes: the journal
holds ``(undo_function, *args)`` entries and the patch queue ``(deliver, *args)``
entries (``deliver`` is called with the ``Delivery`` and the whole entry), both
written by the node layer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from mstlite._engine.runtime import MAX_ROUNDS, Runtime, report_error
from mstlite.errors import MstError

__all__ = ["Delivery", "Transaction", "commit", "run_in_transaction", "run_pending_reactions"]


class _Killed(Protocol):
    def _finalize_destroy(self) -> None: ...


class _Watched(Protocol):
    """A tree with snapshot listeners or commit hooks, changed by the transaction."""

    commit_hooks: list[Callable[[Transaction], None]]
    snapshot_listeners: list[Any]

    def notify_snapshot_listeners(self, delivery: Delivery) -> None: ...


class Transaction:
    """Everything one outermost action changed, so it can be committed or undone."""

    __slots__ = (
        "action_calls",
        "at_end",
        "flow",
        "journal",
        "killed",
        "patches",
        "trees",
        "waiting",
    )

    def __init__(self) -> None:
        # (undo_function, *args) entries, undone newest first on rollback.
        self.journal: list[tuple[Any, ...]] = []
        # (deliver_function, *args) entries, delivered in order at commit.
        self.patches: list[tuple[Any, ...]] = []
        # Trees with snapshot listeners or commit hooks that changed (ordered).
        self.trees: dict[_Watched, None] = {}
        # Nodes removed from their tree; destroyed for good at commit.
        self.killed: list[_Killed] = []
        self.action_calls: list[tuple[Callable[[Any], None], Any]] = []
        # (function, *args) run when the outermost action returns, still inside it (what
        # can only be decided once the whole action ran: a dangling safe reference).
        self.at_end: list[tuple[Any, ...]] = []
        # Keys of what waits for at_end to take effect (the numbers of safe references
        # set while their target was missing or ambiguous: nothing clears them before
        # the action ends).
        self.waiting: set[Any] = set()
        #: The id of the flow this transaction is a stretch of (0 for a plain action).
        self.flow = 0

    def rollback_to(self, journal: int, patches: int, killed: int, calls: int) -> None:
        """Undo what was done since a savepoint (the lengths of the queues then)."""
        entries = self.journal
        while len(entries) > journal:
            entry = entries.pop()
            entry[0](*entry[1:])
        del self.patches[patches:]
        del self.killed[killed:]
        del self.action_calls[calls:]


class Delivery:
    """Calls listeners at commit: an ``Exception`` is reported, the others still run,
    and the first ``BaseException`` (KeyboardInterrupt, ...) is raised once all ran."""

    __slots__ = ("interrupt", "queue", "rt")

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.interrupt: BaseException | None = None
        #: The transactions committed while this delivery runs (``Runtime.commit_queue``).
        self.queue: list[Transaction] = []

    def call(self, where: str, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as error:
            report_error(error, where, self.rt)
        except BaseException as error:
            if self.interrupt is None:
                self.interrupt = error


def run_in_transaction(rt: Runtime, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` as an action of ``rt``'s thread: a savepoint of the running transaction,
    or a new transaction committed when ``fn`` returns and rolled back when it raises."""
    tx = rt.tx
    if tx is not None:
        journal, patches = len(tx.journal), len(tx.patches)
        killed, calls = len(tx.killed), len(tx.action_calls)
        try:
            return fn(*args, **kwargs)
        except BaseException:
            tx.rollback_to(journal, patches, killed, calls)
            raise
    tx = rt.tx = Transaction()
    try:
        result = fn(*args, **kwargs)
        run_at_end(tx)
    except BaseException:
        rt.tx = None
        rollback(rt, tx)
        raise
    rt.tx = None
    commit(rt, tx)
    return result


def run_at_end(tx: Transaction) -> None:
    """Run what ``tx`` deferred to the end of its outermost action (in the order queued,
    including what those calls queue)."""
    while tx.at_end:
        entries, tx.at_end = tx.at_end, []
        for entry in entries:
            entry[0](*entry[1:])


def run_stretch(
    rt: Runtime, fn: Callable[[], Any], passthrough: BaseException | None, flow: int
) -> Any:
    """Run one stretch of a flow as a transaction.

    Like ``run_in_transaction``, except that when the stretch ends by letting
    ``passthrough`` (the error just delivered into the flow, e.g. a
    cancellation) propagate, its changes are committed: they are the flow's
    cleanup, not the cause of the failure.
    """
    tx = rt.tx
    if tx is not None:  # a flow started inside an action: its first stretch joins it
        if not tx.flow:
            tx.flow = flow
        return run_in_transaction(rt, fn)
    tx = rt.tx = Transaction()
    tx.flow = flow
    try:
        result = fn()
        run_at_end(tx)
    except BaseException as error:
        rt.tx = None
        if passthrough is not None and (
            error is passthrough or type(error) is type(passthrough) is asyncio.CancelledError
        ):
            commit(rt, tx)
        else:
            rollback(rt, tx)
        raise
    rt.tx = None
    commit(rt, tx)
    return result


def rollback(rt: Runtime, tx: Transaction) -> None:
    """Undo every journaled change of ``tx``, newest first."""
    rt.preserved = False
    tx.rollback_to(0, 0, 0, 0)
    run_pending_reactions(rt)


def commit(rt: Runtime, tx: Transaction) -> None:
    """Finish ``tx``: destroy removed nodes, then tell listeners and reactions, in order.

    A transaction committed by a listener of another commit is queued, not
    delivered inside it: every listener hears of commits in the order they
    happened, and listeners that keep changing state stop after ``MAX_ROUNDS``.
    """
    rt.preserved = False
    queue = rt.commit_queue
    if queue is not None:
        queue.append(tx)
        return
    if not (tx.patches or tx.trees or tx.killed or tx.action_calls):
        run_pending_reactions(rt)  # nobody listens: only reactions to run
        return
    # The transaction is delivered first, without the queue: the common case, where
    # listeners commit nothing of their own, goes through no loop.
    delivery = rt.delivery
    if delivery is None:
        delivery = rt.delivery = Delivery(rt)
    delivery.interrupt = None
    queue = rt.commit_queue = delivery.queue  # empty: emptied below if anything is left
    try:
        if tx.trees or tx.killed or tx.action_calls:
            _deliver(delivery, tx)
        else:  # only patches (an action heard by on_patch listeners): _deliver, inlined
            for entry in tx.patches:
                entry[0](delivery, entry)
        if queue:
            _deliver_queued(delivery, queue)
    finally:
        rt.commit_queue = None
        if queue:  # a BaseException stopped the delivery: what it queued is dropped
            queue.clear()
    # Read before the reactions run: a commit of theirs reuses the delivery.
    interrupt = delivery.interrupt
    if interrupt is None:
        if rt.pending_reactions:
            run_pending_reactions(rt)
        return
    try:
        run_pending_reactions(rt)
    finally:
        raise interrupt


def _deliver_queued(delivery: Delivery, queue: list[Transaction]) -> None:
    """Deliver the transactions listeners committed while one was delivered, in order."""
    rounds = 1
    while queue:
        rounds += 1
        if rounds > MAX_ROUNDS:
            queue.clear()
            report_error(
                MstError(
                    f"on_snapshot/on_patch listeners kept changing state for {MAX_ROUNDS} "
                    "commits in a row; a listener probably triggers itself (make it "
                    "change state only when needed, or use a reaction)"
                ),
                "listeners",
                delivery.rt,
            )
            return
        _deliver(delivery, queue.pop(0))


def _deliver(delivery: Delivery, tx: Transaction) -> None:
    # The ``if``s skip empty queues: this runs once per action that has a listener.
    if tx.killed:
        for node in tx.killed:
            delivery.call("a disposer", node._finalize_destroy)
    for entry in tx.patches:  # each delivers to its listeners, catching what they raise
        entry[0](delivery, entry)  # the entry, not *entry[1:]: no slice per patch
    trees = tx.trees
    if trees:
        for tree in trees:
            if tree.snapshot_listeners:
                tree.notify_snapshot_listeners(delivery)
    if tx.action_calls:
        for listener, call in tx.action_calls:
            delivery.call("an on_action listener", listener, call)
    if trees:
        for tree in trees:
            for hook in tuple(tree.commit_hooks):
                try:  # Delivery.call, inlined: an UndoManager's hook runs at every commit
                    hook(tx)
                except Exception as error:
                    report_error(error, "a commit hook", delivery.rt)
                except BaseException as error:
                    if delivery.interrupt is None:
                        delivery.interrupt = error


def run_pending_reactions(rt: Runtime) -> None:
    """Run the reactions scheduled in ``rt``'s thread, in the order they were scheduled."""
    if not rt.pending_reactions or rt.committing or rt.tx is not None:
        return
    rt.committing = True
    try:
        rounds = 0
        while rt.pending_reactions:
            rounds += 1
            if rounds > MAX_ROUNDS:
                pending = rt.pending_reactions
                rt.pending_reactions = []
                for reaction in pending:
                    reaction.scheduled = False
                report_error(
                    MstError(
                        f"reactions kept changing state for {MAX_ROUNDS} rounds; a reaction "
                        f"probably triggers itself (first: {pending[0].name!r})"
                    ),
                    "reactions",
                    rt,
                )
                break
            batch = rt.pending_reactions
            rt.pending_reactions = []
            for reaction in batch:
                try:
                    reaction.run(rt)
                except BaseException:
                    # KeyboardInterrupt and the like propagate; the rest of the batch
                    # stays scheduled and runs at the next commit (a reaction is queued
                    # once: ``scheduled``).
                    rt.pending_reactions[:0] = batch[batch.index(reaction) + 1 :]
                    raise
    finally:
        rt.committing = False
