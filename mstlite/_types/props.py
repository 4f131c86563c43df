"""Descriptors for model properties, computed views and volatile state; lifecycle hooks."""

from __future__ import annotations

from collections.abc import Callable
from threading import get_ident
from typing import TYPE_CHECKING, Any, Generic, Literal, Never, TypeVar, overload

from mstlite._engine.reactivity import Computed
from mstlite._node.liveliness import dead_read
from mstlite.errors import ValidationError

if TYPE_CHECKING:
    from mstlite._types.base import Type
    from mstlite._types.model import ModelNode as Model

__all__ = ["ComputedProp", "Prop", "ReadProp", "VolatileProp", "computed", "volatile"]

T = TypeVar("T")


class Prop(property):
    """A model property: reads are tracked, writes go through the node.

    A ``property`` whose getter is a closure over the name: the interpreter calls
    it straight from the attribute lookup, which a class with a Python-level
    ``__get__`` cannot match (a view over 10,000 todos makes 10,000 reads).
    """

    name: str
    type: Type | None

    def __init__(self, name: str, kind: Type | None) -> None:
        self.name = name
        self.type = kind
        getter = self._getter(name)
        # The getter's docstring (a ``property`` subclass takes its ``__doc__`` from there).
        getter.__doc__ = f"Model property {name!r}: tracked when read by views and reactions."
        super().__init__(getter, self._assign, self._refuse_delete)

    @staticmethod
    def for_type(name: str, kind: Type) -> Prop:
        """The descriptor of property ``name`` of type ``kind``."""
        return ReadProp(name, kind) if kind.needs_read else Prop(name, kind)

    def _getter(self, name: str) -> Callable[[Model], Any]:
        def read(obj: Model) -> Any:
            rt = obj._tree.rt
            tracking = rt.tracking
            if tracking is not None:
                # Node._observe_in's common case inlined (one thread, the node has an
                # atom table): log the read as two appends, nothing looked up.
                atoms = obj._atoms
                if atoms is not None and rt.idle is None:
                    log = tracking.log
                    log.append(atoms)
                    log.append(name)
                else:
                    obj._observe_in(rt, name)
            if not obj._alive:
                dead_read(obj, name)
            return obj._data[name]

        return read

    def _assign(self, obj: Model, value: Any) -> None:
        try:
            obj._set_prop(self, value)
        except ValidationError as error:
            if type(error) is not ValidationError:  # identifier clashes say it already
                raise
            raise _assignment_error(obj, self, value, error) from None

    def _refuse_delete(self, obj: Model) -> None:
        raise AttributeError(f"cannot delete property {self.name!r} of a model")


class ReadProp(Prop):
    """A property whose stored snapshot form differs from what users see."""

    def _getter(self, name: str) -> Callable[[Model], Any]:
        kind = self.type
        assert kind is not None
        convert = kind.read

        def read(obj: Model) -> Any:
            rt = obj._tree.rt
            if rt.tracking is not None:
                obj._observe_in(rt, name)
            if not obj._alive:
                dead_read(obj, name)
            return convert(obj._data[name], obj)

        return read


class ComputedProp(Generic[T]):
    """A cached view: recomputed only after something it read changed."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name: str | None = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> ComputedProp[T]: ...
    @overload
    def __get__(self, obj: Model, owner: type | None = None) -> T: ...
    def __get__(self, obj: Model | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        rt = obj._tree.rt
        if rt.ident != get_ident():
            # Another thread's tree: refused inside its actions and views; else
            # computed without touching the owner's dependency graph.
            obj._foreign_read(rt)
            return self.fn(obj)
        cache = obj._extras().computeds
        value = cache.get(self.name)  # type: ignore[arg-type]
        if value is None:
            if not obj._alive:  # a dead node's views are computed, not cached
                return self.fn(obj)
            value = cache[self.name] = Computed(  # type: ignore[index]
                self.fn, f"{type(obj).__name__}.{self.name}", obj
            )
        return value.get(rt)

    # ``Never``: to type checkers no value may be assigned (the view is read-only).
    def __set__(self, obj: Model, value: Never) -> None:
        raise AttributeError(
            f"computed view {self.name!r} is read-only: change the properties it reads "
            "(in an action) instead"
        )


def computed(fn: Callable[[Any], T]) -> ComputedProp[T]:
    """Decorate a model method as a cached view (read as an attribute)."""
    return ComputedProp(fn)


class VolatileProp(Generic[T]):
    """Per-instance state that is not part of snapshots or patches (e.g. a running task).

    Changing it is tracked by reactions and, on a protected tree, needs an action.
    """

    def __init__(self, default: T, factory: Callable[[], T] | None = None) -> None:
        self.default = default
        self.factory = factory
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _store(self, obj: Model) -> dict[str, Any]:
        return obj._extras().volatile

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> VolatileProp[T]: ...
    @overload
    def __get__(self, obj: Model, owner: type | None = None) -> T: ...
    def __get__(self, obj: Model | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        if obj._tree.rt.tracking is not None:
            obj._observe(("volatile", self.name))
        if not obj._alive:
            dead_read(obj, self.name)
        store = self._store(obj)
        if self.name not in store:
            store[self.name] = self.factory() if self.factory is not None else self.default
        return store[self.name]

    def __set__(self, obj: Model, value: T) -> None:
        tx = obj._write_tx()
        if tx is None:
            obj._outside_action(self.__set__, obj, value)
            return
        store = self._store(obj)
        missing = object()
        old = store.get(self.name, missing)
        if old is value:
            return
        store[self.name] = value
        tx.journal.append((_restore_volatile, obj, store, self.name, old, missing))
        obj._changed(("volatile", self.name))


def _assignment_error(
    obj: Model, prop: Prop, value: Any, error: ValidationError
) -> ValidationError:
    """The snapshot validator's error, told as the assignment it was."""
    assert prop.type is not None
    where = f"{type(obj).__name__}.{prop.name} at {obj._path() or '/'!r}"
    lines = [f"cannot assign {_short_repr(value)} to {where}: it is a {prop.type.name}"]
    lines += [f"  {p['path'] or '/'}: {p['message']}" for p in error.errors]
    lines.append(f"assign a valid {prop.type.name} instead; nothing was changed")
    return ValidationError("\n".join(lines), error.errors)


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _restore_volatile(obj: Model, store: dict[str, Any], name: str, old: Any, missing: Any) -> None:
    if old is missing:
        store.pop(name, None)
    else:
        store[name] = old
    obj._changed(("volatile", name))


@overload
def volatile(default: T, *, init: Literal[False] = False) -> T: ...
@overload
def volatile(*, factory: Callable[[], T], init: Literal[False] = False) -> T: ...
def volatile(
    default: Any = None, *, factory: Callable[[], Any] | None = None, init: bool = False
) -> Any:
    """Declare volatile state on a model: ``task: asyncio.Task | None = volatile(None)``.

    ``factory`` (called once per instance, on first read) gives each instance
    its own mutable value: ``seen: set[str] = volatile(factory=set)``. Volatile
    state is not a constructor argument (``init`` exists for type checkers,
    which read ``volatile`` as a dataclass field specifier, and must stay
    False); raises ``TypeError`` when ``init`` is true.
    """
    if init:
        raise TypeError("volatile state is not a constructor argument: init must be False")
    return VolatileProp(default, factory)
