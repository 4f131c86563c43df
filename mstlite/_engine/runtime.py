"""The engine state of one thread: its transaction, tracking derivation, pending reactions.

Every thread that uses mstlite gets its own ``Runtime`` (``current_runtime``).
A tree holds the runtime of the thread that owns it, so the hot paths read
``node._tree.rt`` (two attribute loads) instead of looking the thread up.

Writes compare the owner's ident with the writer's: one comparison. Reads stay
one ``is None`` test while a single runtime exists: ``rt.tracking`` is ``None``
when nothing records reads. As soon as a second thread gets a runtime, every
runtime's idle value becomes ``IDLE`` (a non-None marker), so each read of a
live node takes the checked path, which compares the owner thread with the
reader and raises ``ThreadError`` for a foreign read made inside an action,
computed view or reaction (a thread gets a runtime when it builds a tree, starts
an action or a reaction, or reads another thread's view). Before that, a thread
without a runtime cannot be inside an action or derivation, so its reads cannot
corrupt anything; while the owner records reads, such a read is at worst one
spurious dependency (an extra recomputation, never a stale value).

Nothing here relies on the GIL: each runtime is changed by its own thread only,
except that the switch to checked reads sets the first runtime's idle value
(under a lock; a derivation it is running restores ``previous or idle``).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mstlite.errors import ThreadError

if TYPE_CHECKING:
    from mstlite._engine.reactivity import Derivation, Reaction
    from mstlite._engine.transaction import Delivery, Transaction

__all__ = [
    "IDLE",
    "MAX_ROUNDS",
    "Runtime",
    "current_runtime",
    "foreign_use",
    "report_error",
]

logger = logging.getLogger("mstlite")

#: How many rounds of reactions (or nested on_snapshot commits) may keep changing
#: state before the engine stops them with an error.
MAX_ROUNDS = 100


class _Idle:
    """The ``tracking`` value of an idle runtime once several threads use mstlite.

    Not ``None``, so every read takes the checked path; it records nothing.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "IDLE"


IDLE: Any = _Idle()


class Runtime:
    """The engine state of one thread."""

    __slots__ = (
        "__weakref__",
        "action_stack",
        "call_ids",
        "commit_queue",
        "committing",
        "delivery",
        "ident",
        "idle",
        "on_error",
        "pending_created",
        "pending_reactions",
        "preserved",
        "reference_seq",
        "thread_name",
        "tracking",
        "tx",
    )

    def __init__(self, idle: Any) -> None:
        thread = threading.current_thread()
        self.ident = thread.ident
        self.thread_name = thread.name
        # The running outermost transaction, or None.
        self.tx: Transaction | None = None
        # The derivation recording reads; ``idle`` (None or IDLE) when none is.
        self.idle: Any = idle
        self.tracking: Derivation | None = idle
        self.pending_reactions: list[Reaction] = []
        self.committing = False
        # While a commit delivers: the transactions its listeners committed since.
        self.commit_queue: list[Transaction] | None = None
        # The ``Delivery`` of this thread's commits, made at the first and reused: one
        # commit delivers at a time (the others wait in ``commit_queue``).
        self.delivery: Delivery | None = None
        #: Called with each exception a listener or reaction raised (after logging).
        self.on_error: Callable[[BaseException], None] | None = None
        # Nodes just built whose after_create hook is still to run.
        self.pending_created: list[Any] = []
        # Set when validation kept snapshot objects of live nodes as they are (to
        # reconcile by identity, as MST does); a node built from such a value must
        # get copies, so no two nodes share a snapshot object. Cleared when the
        # outermost action or creation ends.
        self.preserved = False
        # The middleware calls running now, innermost last, and their id source.
        self.action_stack: list[Any] = []
        self.call_ids = itertools.count(1)
        # Numbers safe references in the order they start watching their target (the
        # order MST clears them in); ``adopt`` carries it forward into the new thread.
        self.reference_seq = 0

    def active(self) -> bool:
        """True while an action runs or a derivation records reads in this thread."""
        tracking = self.tracking
        return self.tx is not None or (tracking is not None and tracking is not IDLE)

    def __repr__(self) -> str:
        return f"<mstlite runtime of thread {self.thread_name!r}>"


class _Registry:
    """Finds the calling thread's runtime; switches to checked reads at the second one."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.several = False
        self.first: Runtime | None = None

    def create(self) -> Runtime:
        with self.lock:
            if self.first is None:
                rt = Runtime(None)
                self.first = rt
            else:
                rt = Runtime(IDLE)
                if not self.several:
                    self.several = True
                    first = self.first
                    # Its own thread restores ``previous or idle`` after tracking, so a
                    # read it is recording now keeps its derivation.
                    first.idle = IDLE
                    if first.tracking is None:
                        first.tracking = IDLE
            self.local.rt = rt
            return rt


_registry = _Registry()


def current_runtime() -> Runtime:
    """The calling thread's runtime (created on first use)."""
    try:
        rt: Runtime = _registry.local.rt
    except AttributeError:
        rt = _registry.create()
    return rt


def foreign_use(owner: Runtime, what: str) -> ThreadError:
    """The error for using a live node of ``owner``'s tree from another thread."""
    return ThreadError(
        f"{what} belongs to a tree owned by thread {owner.thread_name!r} "
        f"(ident {owner.ident}), but thread {threading.current_thread().name!r} used it; "
        "a tree is changed, and read inside actions, views and reactions, only by its "
        "owner thread: read get_snapshot() here, hand work to the owner (e.g. "
        "loop.call_soon_threadsafe), or, once the tree is idle, call adopt(root) in this "
        "thread to take it over"
    )


def report_error(error: BaseException, where: str, rt: Runtime | None = None) -> None:
    """Report an exception raised by a listener or reaction without stopping the others."""
    logger.error("error in %s", where, exc_info=error)
    hook = (rt if rt is not None else current_runtime()).on_error
    if hook is not None:
        try:
            hook(error)
        except Exception:  # the error hook itself must not break the commit
            logger.exception("error in the on_error hook")
