"""Dependency tracking, MobX style: atoms, computed values and reactions.

A derivation (computed or reaction) records the atoms it reads while it runs.
A write marks the atom's observers stale: reactions are queued to run after
the outermost action commits, computeds become stale and pass "possibly
stale" on to their own observers, so a reaction re-runs only when a value it
depends on really changed, and each derivation runs at most once per commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mstlite._runtime import RT, report_error
from mstlite.errors import MstError

__all__ = ["Atom", "Computed", "Derivation", "Reaction", "report_observed", "untracked"]

UP_TO_DATE = 0
POSSIBLY_STALE = 1
STALE = 2


class Atom:
    """One observable value: a model property, an array, a map key."""

    __slots__ = ("__weakref__", "observers")

    def __init__(self) -> None:
        self.observers: set[Derivation] = set()

    def report_changed(self) -> None:
        for derivation in list(self.observers):
            if derivation.state == UP_TO_DATE:
                derivation.on_become_stale()
            derivation.state = STALE


def report_observed(observable: Atom | Computed) -> None:
    tracking = RT.tracking
    if tracking is not None:
        tracking.new_observing.append(observable)


class Derivation:
    """Something that reads observables and must re-run when they change."""

    __slots__ = ("__weakref__", "name", "new_observing", "observing", "state")

    def __init__(self, name: str) -> None:
        self.name = name
        self.state = STALE
        self.observing: set[Atom | Computed] = set()
        self.new_observing: list[Atom | Computed] = []

    def on_become_stale(self) -> None:
        raise NotImplementedError

    def should_compute(self) -> bool:
        if self.state == UP_TO_DATE:
            return False
        if self.state == POSSIBLY_STALE:
            previous = RT.tracking
            RT.tracking = None  # checking dependencies is not reading them
            try:
                for observable in list(self.observing):
                    if isinstance(observable, Computed):
                        try:
                            observable.get()
                        except Exception:
                            pass  # the derivation will see the error when it runs
                        if self.state == STALE:
                            return True
            finally:
                RT.tracking = previous
            self.state = UP_TO_DATE
            return False
        return True

    def track(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` recording what it reads; update the subscriptions to match."""
        previous = RT.tracking
        self.new_observing = []
        RT.tracking = self
        try:
            return fn()
        finally:
            RT.tracking = previous
            self.state = UP_TO_DATE
            self._bind_dependencies()

    def _bind_dependencies(self) -> None:
        new = set(self.new_observing)
        self.new_observing = []
        old = self.observing
        for observable in old - new:
            observable.observers.discard(self)
        for observable in new - old:
            observable.observers.add(self)
        self.observing = new

    def clear_observing(self) -> None:
        for observable in self.observing:
            observable.observers.discard(self)
        self.observing = set()
        self.state = STALE


class Computed(Derivation):
    """A cached derived value; also observable by other derivations."""

    __slots__ = ("computing", "error", "fn", "observers", "value")

    _NONE: Any = object()

    def __init__(self, fn: Callable[[], Any], name: str) -> None:
        super().__init__(name)
        self.fn = fn
        self.observers: set[Derivation] = set()
        self.value: Any = Computed._NONE
        self.error: BaseException | None = None
        self.computing = False

    def on_become_stale(self) -> None:
        for derivation in list(self.observers):
            if derivation.state == UP_TO_DATE:
                derivation.state = POSSIBLY_STALE
                derivation.on_become_stale()

    def get(self) -> Any:
        if self.computing:
            raise MstError(f"cycle detected: computed {self.name!r} reads itself")
        report_observed(self)
        if self.should_compute():
            old_value, old_error = self.value, self.error
            self.computing = True
            try:
                self.value = self.track(self.fn)
                self.error = None
            except Exception as error:
                self.value = Computed._NONE
                self.error = error
            finally:
                self.computing = False
            changed = (
                self.error is not None or old_error is not None or not _same(old_value, self.value)
            )
            if changed:
                for derivation in self.observers:
                    if derivation.state == POSSIBLY_STALE:
                        derivation.state = STALE
        if self.error is not None:
            raise self.error
        return self.value

    def dispose(self) -> None:
        self.clear_observing()
        self.value = Computed._NONE
        self.error = None


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


class Reaction(Derivation):
    """Runs ``on_invalidate`` after a commit that changed what it last read."""

    __slots__ = ("disposed", "on_invalidate", "scheduled")

    def __init__(self, name: str, on_invalidate: Callable[[Reaction], None]) -> None:
        super().__init__(name)
        self.on_invalidate = on_invalidate
        self.scheduled = False
        self.disposed = False

    def on_become_stale(self) -> None:
        self.schedule()

    def schedule(self) -> None:
        if not self.scheduled and not self.disposed:
            self.scheduled = True
            RT.pending_reactions.append(self)

    def run(self) -> None:
        self.scheduled = False
        if self.disposed:
            return
        try:
            if self.should_compute():
                self.on_invalidate(self)
        except Exception as error:
            report_error(error, f"reaction {self.name!r}")

    def dispose(self) -> None:
        self.disposed = True
        self.clear_observing()
        # Drop the effect so a kept disposer does not keep its closure alive.
        self.on_invalidate = _disposed


def _disposed(reaction: Reaction) -> None:
    return None


def untracked(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` without recording what it reads."""
    previous = RT.tracking
    RT.tracking = None
    try:
        return fn()
    finally:
        RT.tracking = previous
