"""Global runtime state: the running transaction, the tracking derivation, commit.

A tree is used from one thread, so this state is module-global (as in MobX):
every property read checks one attribute (``RT.tracking``) and every write
appends to one journal (``RT.tx``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mstlite._json_pointer import join_json_path
from mstlite.errors import MstError

if TYPE_CHECKING:
    from mstlite._node import Node
    from mstlite._reactivity import Derivation, Reaction
    from mstlite._tree import Tree

__all__ = ["RT", "Transaction", "report_error", "run_in_transaction"]

logger = logging.getLogger("mstlite")

JournalEntry = tuple[Any, ...]


class Transaction:
    """Everything one outermost action changed, so it can be committed or undone."""

    __slots__ = ("action_calls", "journal", "killed", "patches", "thread", "trees")

    def __init__(self) -> None:
        # (undo_function, *args) entries, undone in reverse on rollback.
        self.journal: list[JournalEntry] = []
        # (listeners, path_parts, op, value, old_value) to deliver at commit.
        self.patches: list[tuple[Any, ...]] = []
        # Trees that have snapshot listeners and were changed.
        self.trees: set[Tree] = set()
        # Nodes removed from their tree; destroyed for good at commit.
        self.killed: list[Node] = []
        self.action_calls: list[tuple[Callable[[Any], None], Any]] = []
        self.thread = threading.get_ident()


class Runtime:
    """The process-wide state; one instance, ``RT``."""

    __slots__ = (
        "commit_hooks",
        "committing",
        "depth",
        "on_error",
        "pending_reactions",
        "tracking",
        "tx",
    )

    def __init__(self) -> None:
        self.tx: Transaction | None = None
        self.depth = 0
        self.tracking: Derivation | None = None
        self.pending_reactions: list[Reaction] = []
        self.committing = False
        self.on_error: Callable[[BaseException], None] | None = None
        # Called with each committed transaction, after its listeners (undo managers).
        self.commit_hooks: list[Callable[[Transaction], None]] = []


RT = Runtime()


def report_error(error: BaseException, where: str) -> None:
    """Report an exception raised by a listener or reaction without stopping the others."""
    logger.error("error in %s", where, exc_info=error)
    hook = RT.on_error
    if hook is not None:
        try:
            hook(error)
        except Exception:  # the error hook itself must not break the commit
            logger.exception("error in the on_error hook")


def _check_thread(tx: Transaction) -> None:
    if tx.thread != threading.get_ident():
        raise MstError(
            "an mstlite action ran in a thread while another thread's action was running; "
            "a tree is used from one thread (the asyncio loop's): hand work over with "
            "loop.call_soon_threadsafe()"
        )


def run_in_transaction(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` as an action: join the running transaction or start, commit or undo one."""
    tx = RT.tx
    if tx is not None:
        _check_thread(tx)
        RT.depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            RT.depth -= 1
    tx = RT.tx = Transaction()
    RT.depth = 1
    try:
        result = fn(*args, **kwargs)
    except BaseException:
        RT.tx = None
        RT.depth = 0
        rollback(tx)
        raise
    RT.tx = None
    RT.depth = 0
    commit(tx)
    return result


def run_stretch(fn: Callable[[], Any], passthrough: BaseException | None) -> Any:
    """Run one stretch of a flow as a transaction.

    Like ``run_in_transaction``, except that when the stretch ends by letting
    ``passthrough`` (the error just delivered into the flow, e.g. a
    cancellation) propagate, its changes are committed: they are the flow's
    cleanup, not the cause of the failure.
    """
    if RT.tx is not None:
        return run_in_transaction(fn)
    tx = RT.tx = Transaction()
    RT.depth = 1
    try:
        result = fn()
    except BaseException as error:
        RT.tx = None
        RT.depth = 0
        if passthrough is not None and (
            error is passthrough or type(error) is type(passthrough) is asyncio_cancelled()
        ):
            commit(tx)
        else:
            rollback(tx)
        raise
    RT.tx = None
    RT.depth = 0
    commit(tx)
    return result


def asyncio_cancelled() -> type[BaseException]:
    import asyncio

    return asyncio.CancelledError


def rollback(tx: Transaction) -> None:
    """Undo every journaled change of ``tx``, newest first."""
    journal = tx.journal
    for entry in reversed(journal):
        entry[0](*entry[1:])
    journal.clear()
    _run_pending_reactions()


def commit(tx: Transaction) -> None:
    """Finish ``tx``: destroy removed nodes, then tell listeners and reactions, in order."""
    for node in tx.killed:
        node._finalize_destroy()
    for listeners, parts, op, value, old_value in tx.patches:
        _deliver_patch(listeners, parts, op, value, old_value)
    for tree in tx.trees:
        tree.notify_snapshot_listeners()
    for listener, call in tx.action_calls:
        try:
            listener(call)
        except Exception as error:
            report_error(error, "an on_action listener")
    for hook in list(RT.commit_hooks):
        try:
            hook(tx)
        except Exception as error:
            report_error(error, "a commit hook")
    _run_pending_reactions()


def _deliver_patch(
    listeners: list[tuple[int, Callable[[Any, Any], None]]],
    parts: list[str],
    op: str,
    value: Any,
    old_value: Any,
) -> None:
    for prefix, listener in listeners:
        path = join_json_path(parts[prefix:])
        patch, inverse = make_patch_pair(op, path, value, old_value)
        try:
            listener(patch, inverse)
        except Exception as error:
            report_error(error, "an on_patch listener")


_MISSING: Any = object()


def make_patch_pair(
    op: str, path: str, value: Any, old_value: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Build a patch and its inverse as plain RFC 6902 dicts."""
    if op == "replace":
        return {"op": "replace", "path": path, "value": value}, {
            "op": "replace",
            "path": path,
            "value": old_value,
        }
    if op == "add":
        return {"op": "add", "path": path, "value": value}, {"op": "remove", "path": path}
    return {"op": "remove", "path": path}, {"op": "add", "path": path, "value": old_value}


def _run_pending_reactions() -> None:
    if RT.committing or RT.tx is not None:
        return
    RT.committing = True
    try:
        rounds = 0
        while RT.pending_reactions:
            rounds += 1
            if rounds > 100:
                pending = RT.pending_reactions
                RT.pending_reactions = []
                report_error(
                    MstError(
                        "reactions kept changing state for 100 rounds; a reaction probably "
                        f"triggers itself (first: {pending[0].name!r})"
                    ),
                    "reactions",
                )
                break
            batch = RT.pending_reactions
            RT.pending_reactions = []
            for reaction in batch:
                reaction.run()
    finally:
        RT.committing = False
