"""Dependency tracking, MobX style: atoms, computed values and reactions.

A derivation (computed or reaction) records the atoms it reads while it runs.
A write marks the atom's observers stale: reactions are queued to run after
the outermost action commits, computeds become stale and pass "possibly
stale" on to their own observers, so a reaction re-runs only when a value it
depends on really changed, and each derivation runs at most once per commit.

An atom keeps its observers in an insertion-ordered dict, so derivations are
notified (and reactions run) in the order they first subscribed, every run.
A run logs what it reads: a node's property as the pair (the node's atom
table, key), flat in one list, so a read appends two references it already
holds and looks nothing up; computeds and standalone atoms in a second list,
in read order. Most runs read what the run before read, in the same order:
two list comparisons at C speed then show that no subscription changes.
Otherwise the atoms are looked up (created if new) and diffed as sets. Every
function takes the runtime of the thread it runs in: the engine has no global
state.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from mstlite._engine.runtime import IDLE, Runtime, current_runtime, report_error
from mstlite.errors import MstError

__all__ = [
    "Atom",
    "Computed",
    "Derivation",
    "Reaction",
    "report_observed",
    "same_value",
    "untracked",
]

UP_TO_DATE = 0
POSSIBLY_STALE = 1
STALE = 2


class Atom:
    """One observable value: a model property, an array, a map key."""

    __slots__ = ("__weakref__", "observers")

    def __init__(self) -> None:
        self.observers: dict[Derivation, None] = {}

    def report_changed(self, rt: Runtime) -> None:
        for derivation in list(self.observers):
            if derivation.state == UP_TO_DATE:
                derivation.on_become_stale(rt)
            derivation.state = STALE


def report_observed(rt: Runtime, observable: Atom | Computed) -> None:
    """Record that the running derivation of ``rt`` read ``observable``."""
    tracking = rt.tracking
    if tracking is not None and tracking is not IDLE:
        others = tracking.others
        if others is None:
            tracking.others = [observable]
        else:
            others.append(observable)


class Derivation:
    """Something that reads observables and must re-run when they change."""

    __slots__ = (
        "__weakref__",
        "computeds",
        "log",
        "name",
        "observing",
        "others",
        "seen_log",
        "seen_others",
        "state",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = STALE
        self.observing: set[Atom | Computed] = set()
        # The computeds among ``observing``, in the order they were first read.
        self.computeds: tuple[Computed, ...] = ()
        # This run's reads of node atoms: (atom table, key) pairs, flat (two appends a read).
        self.log: list[Any] = []
        # This run's reads of computeds and standalone atoms, in order (None: none yet;
        # most derivations read none, and a list fewer is less memory to reach).
        self.others: list[Atom | Computed] | None = None
        # The logs of the run that set ``observing`` (None: compare unequal, rebind).
        self.seen_log: list[Any] | None = None
        self.seen_others: list[Atom | Computed] | None = None

    def on_become_stale(self, rt: Runtime) -> None:
        raise NotImplementedError

    def should_compute(self, rt: Runtime) -> bool:
        if self.state == UP_TO_DATE:
            return False
        if self.state == POSSIBLY_STALE:
            previous = rt.tracking
            rt.tracking = rt.idle  # checking dependencies is not reading them
            try:
                for computed in self.computeds:  # a tuple: rebinding it is no harm
                    try:
                        computed.get(rt)
                    except Exception:
                        pass  # the derivation will see the error when it runs
                    if self.state == STALE:
                        return True
            finally:
                rt.tracking = previous or rt.idle
            self.state = UP_TO_DATE
            return False
        return True

    def track(self, rt: Runtime, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` recording what it reads; update the subscriptions to match."""
        previous = rt.tracking
        if self.log or self.others:  # a run of this derivation inside its own run
            self.log = []
            self.others = None
        rt.tracking = self
        try:
            return fn()
        finally:
            # ``or``: a runtime that became checked meanwhile restores its new idle value.
            rt.tracking = previous or rt.idle
            self.state = UP_TO_DATE
            log, others = self.log, self.others
            # ``==`` on the logs is identity on their atom tables: a table is made with
            # the atom of the read that made it, never loses an atom, and an Atom
            # equals only itself, so two distinct tables never compare equal.
            if log == self.seen_log and others == self.seen_others:
                log.clear()  # read what the last run read: the subscriptions stand
                self.others = None
            else:
                self._bind_dependencies()

    def _bind_dependencies(self) -> None:
        log, others = self.log, self.others
        tables, keys = log[0::2], log[1::2]
        try:
            new: set[Atom | Computed] = set(map(dict.__getitem__, tables, keys))
        except KeyError:  # some atom does not exist yet: create it
            new = set(map(_atom_in, tables, keys))
        if others:
            new.update(others)
        old = self.observing
        if not old:  # the first run (or the first since a dispose): nothing to diff
            for observable in new:
                observable.observers[self] = None
        elif new != old:  # e.g. the same reads in another order: one C-level comparison
            for observable in old - new:
                observable.observers.pop(self, None)
            for observable in new - old:  # each atom's own observer order is what is seen
                observable.observers[self] = None
        self.observing = new
        self.computeds = (
            tuple(o for o in dict.fromkeys(others) if isinstance(o, Computed)) if others else ()
        )
        # Keep the log to compare the next run with, unless it is mostly repeated reads
        # (then it would hold far more than the set it stands for).
        self.seen_log = log if len(log) <= 4 * len(new) + 64 else None
        self.seen_others = others
        self.log = []
        self.others = None

    def clear_observing(self) -> None:
        for observable in list(self.observing):
            observable.observers.pop(self, None)
        self.observing = set()
        self.computeds = ()
        self.seen_log = None  # the next run subscribes again, even to the same reads
        self.seen_others = None
        self.state = STALE


def _atom_in(atoms: dict[Any, Atom], key: Any) -> Atom:
    """The atom of ``key`` in a node's atom table, created on first use."""
    atom = atoms.get(key)
    if atom is None:
        atom = atoms[key] = Atom()
    return atom


class Computed(Derivation):
    """A cached derived value; also observable by other derivations.

    It holds its owner (the node whose view it is) weakly: the atoms it reads
    may belong to a longer-lived tree, and must not keep the owner's tree alive.
    When the owner is freed, the computed unsubscribes.
    """

    __slots__ = ("computing", "error", "fn", "observers", "owner", "value")

    _NONE: Any = object()

    def __init__(self, fn: Callable[[Any], Any], name: str, owner: Any) -> None:
        super().__init__(name)
        self.fn = fn
        self.observers: dict[Derivation, None] = {}
        self.value: Any = Computed._NONE
        self.error: Exception | None = None
        self.computing = False
        self.owner = weakref.ref(owner, _owner_freed(self))

    def on_become_stale(self, rt: Runtime) -> None:
        for derivation in list(self.observers):
            if derivation.state == UP_TO_DATE:
                derivation.state = POSSIBLY_STALE
                derivation.on_become_stale(rt)

    def _run(self) -> Any:
        return self.fn(self.owner())

    def get(self, rt: Runtime) -> Any:
        tracking = rt.tracking
        if tracking is not None and tracking is not IDLE:
            others = tracking.others  # report_observed, inlined
            if others is None:
                tracking.others = [self]
            else:
                others.append(self)
        if self.computing:
            # Reported first: the reader depends on this computed, so once the
            # cycle is gone it recomputes instead of keeping this error.
            raise MstError(f"cycle detected: computed {self.name!r} reads itself")
        if self.state != UP_TO_DATE and self.should_compute(rt):
            old_value, old_error = self.value, self.error
            self.computing = True
            try:
                self.value = self.track(rt, self._run)
                self.error = None
            except Exception as error:
                self.value = Computed._NONE
                self.error = error
            except BaseException:
                # KeyboardInterrupt and the like: nothing valid was computed; the
                # next read computes again.
                self.value, self.error = old_value, old_error
                self.state = STALE
                raise
            finally:
                self.computing = False
            changed = (
                self.error is not None
                or old_error is not None
                or not same_value(old_value, self.value)
            )
            if changed:
                for derivation in list(self.observers):
                    if derivation.state == POSSIBLY_STALE:
                        derivation.state = STALE
        if self.error is not None:
            raise self.error
        return self.value

    def dispose(self) -> None:
        self.clear_observing()
        self.value = Computed._NONE
        self.error = None


def _owner_freed(computed: Computed) -> Callable[[Any], None]:
    target = weakref.ref(computed)

    def freed(_: Any) -> None:
        alive = target()
        if alive is not None:
            alive.clear_observing()

    return freed


def same_value(a: Any, b: Any) -> bool:
    """The default equality of computeds and reactions: identical, or equal and same type."""
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


class Reaction(Derivation):
    """Runs ``on_invalidate`` after a commit that changed what it last read."""

    __slots__ = ("disposed", "on_invalidate", "rt", "scheduled")

    def __init__(
        self, name: str, on_invalidate: Callable[[Reaction], None], rt: Runtime | None = None
    ) -> None:
        super().__init__(name)
        self.on_invalidate = on_invalidate
        self.scheduled = False
        self.disposed = False
        # The runtime it last ran or was scheduled in.
        self.rt = rt if rt is not None else current_runtime()

    def on_become_stale(self, rt: Runtime) -> None:
        if not self.scheduled and not self.disposed:  # schedule(), inlined: the hot path
            self.scheduled = True
            self.rt = rt
            rt.pending_reactions.append(self)

    def schedule(self, rt: Runtime) -> None:
        if not self.scheduled and not self.disposed:
            self.scheduled = True
            self.rt = rt
            rt.pending_reactions.append(self)

    def track_in_place(self, fn: Callable[[], Any]) -> Any:
        """``track`` in the runtime this reaction runs in."""
        return self.track(self.rt, fn)

    def run(self, rt: Runtime) -> None:
        self.scheduled = False
        if self.disposed:
            return
        self.rt = rt
        state = self.state
        if state == UP_TO_DATE:
            return
        try:
            # ``should_compute`` inlined for STALE, the common case: a read atom changed.
            if state == STALE or self.should_compute(rt):
                self.on_invalidate(self)
        except Exception as error:
            report_error(error, f"reaction {self.name!r}", rt)

    def dispose(self) -> None:
        self.disposed = True
        self.clear_observing()
        # Drop the effect so a kept disposer does not keep its closure alive.
        self.on_invalidate = _disposed


def _disposed(reaction: Reaction) -> None:
    return None


def untracked(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` without recording what it reads."""
    rt = current_runtime()
    previous = rt.tracking
    rt.tracking = rt.idle
    try:
        return fn()
    finally:
        rt.tracking = previous or rt.idle
