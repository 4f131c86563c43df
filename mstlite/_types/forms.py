"""Forms: whether a value equal to a type's snapshot is that snapshot exactly.

``apply_snapshot`` skips validating and reconciling the items of an incoming
snapshot that are what the tree already holds (the common case: a server
sends back a mostly equal state). Python's ``==`` finds them at C speed but
is loose: ``True == 1 == 1.0``, a ``str`` subclass equals its ``str``, and
an equal but new frozen value is a change (frozen values compare by
identity, as in MST). A form is the other half of the test, by type: given
values that each ``==`` some valid snapshot of its type, ``all_exact`` says
whether every one of them has that snapshot's very form (plain ``dict`` and
``list`` containers, each leaf of the leaf type the snapshot holds), so that
validating it would give that snapshot back and reconciling it would change
nothing. It checks a whole column of values per leaf (``map(type, ...)``
into a set), so the cost stays at C speed too. Types whose equal snapshots
may still differ (unions, maps, safe references, date-times) have the form
``NEVER``; an array of unidentified models (MST rebuilds them given equal new
snapshots) is exact only when empty, a frozen value only as a string or None.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

__all__ = ["NEVER", "ArrayForm", "Form", "LateForm", "ModelForm", "leaf", "nullable"]

_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))
# Equal across types (True == 1 == 1.0): a leaf may allow one of them only.
_NUMBERS = frozenset((int, float, bool))
_DICTS = frozenset((dict,))
_LISTS = frozenset((list,))
_not_none = partial(operator.is_not, None)
_END = object()


class Form:
    """The exact-form test of one type; see the module docstring.

    Both methods take values that each ``==`` some valid snapshot of the type.
    """

    __slots__ = ()

    def all_exact(self, values: Iterable[Any]) -> bool:
        """Whether every one of ``values`` is the snapshot it equals, exactly (fast path)."""
        raise NotImplementedError

    def exact_mask(self, values: list[Any]) -> list[bool]:
        """For each of ``values``, whether it is the snapshot it equals, exactly."""
        raise NotImplementedError


class _Never(Form):
    __slots__ = ()

    def all_exact(self, values: Iterable[Any]) -> bool:
        return next(iter(values), _END) is _END  # true of no values (an empty array)

    def exact_mask(self, values: list[Any]) -> list[bool]:
        return [False] * len(values)


NEVER: Form = _Never()
"""The form of types whose equal snapshots may differ: no value is exact (so only an
empty array of them, or None in a ``X | None``, is)."""


class _Leaf(Form):
    __slots__ = ("allowed",)

    def __init__(self, allowed: frozenset[type]) -> None:
        self.allowed = allowed

    def all_exact(self, values: Iterable[Any]) -> bool:
        return self.allowed.issuperset(map(type, values))

    def exact_mask(self, values: list[Any]) -> list[bool]:
        return list(map(self.allowed.__contains__, map(type, values)))


def leaf(*types: type) -> Form:
    """The form of a scalar whose snapshots are of ``types`` (NEVER if ``==`` cannot tell them)."""
    allowed = frozenset(types)
    if not allowed <= _JSON_SCALARS or len(allowed & _NUMBERS) > 1:
        return NEVER
    return _Leaf(allowed)


class _Nullable(Form):
    __slots__ = ("inner",)

    def __init__(self, inner: Form) -> None:
        self.inner = inner

    def all_exact(self, values: Iterable[Any]) -> bool:
        return self.inner.all_exact(filter(_not_none, values))

    def exact_mask(self, values: list[Any]) -> list[bool]:
        verdicts = iter(self.inner.exact_mask(list(filter(_not_none, values))))
        return [value is None or next(verdicts) for value in values]


def nullable(inner: Form) -> Form:
    """The form of ``X | None`` given the form of ``X``."""
    if isinstance(inner, _Leaf):
        return leaf(*inner.allowed, type(None))
    return _Nullable(inner)  # None is exact even when nothing else is


def _within(
    kinds: frozenset[type], values: list[Any], inner: Callable[[list[Any]], list[bool]]
) -> list[bool]:
    """Per value: whether its type is in ``kinds`` and ``inner`` (asked about those only) agrees."""
    fits = list(map(kinds.__contains__, map(type, values)))
    if all(fits):
        return inner(values)
    verdicts = iter(inner(list(itertools.compress(values, fits))))
    return [fit and next(verdicts) for fit in fits]


class ArrayForm(Form):
    """Plain lists whose items, all together, have the item's form."""

    __slots__ = ("item",)

    def __init__(self, item: Form) -> None:
        self.item = item

    def all_exact(self, values: Iterable[Any]) -> bool:
        values = list(values)
        if not _LISTS.issuperset(map(type, values)):
            return False
        return self.item.all_exact(itertools.chain.from_iterable(values))

    def exact_mask(self, values: list[Any]) -> list[bool]:
        return _within(_LISTS, values, self._lists_mask)

    def _lists_mask(self, lists: list[list[Any]]) -> list[bool]:
        verdicts = self.item.exact_mask(list(itertools.chain.from_iterable(lists)))
        if all(verdicts):
            return [True] * len(lists)
        ends = list(itertools.accumulate(map(len, lists)))
        return [
            all(verdicts[end - len(items) : end]) for items, end in zip(lists, ends, strict=True)
        ]


class ModelForm(Form):
    """Plain dicts whose every property column has the property's form.

    The properties' forms are asked for on first use, so a model may hold
    itself (recursive types); ``==`` with a snapshot already says the keys are
    exactly the model's properties.
    """

    __slots__ = ("_columns", "_props")

    def __init__(self, props: Callable[[], Mapping[str, Form]]) -> None:
        self._props = props
        self._columns: list[tuple[Callable[[Any], Any], Form]] | None = None

    def _resolved(self) -> list[tuple[Callable[[Any], Any], Form]]:
        columns = self._columns
        if columns is None:
            props = self._props()
            columns = self._columns = [(operator.itemgetter(n), f) for n, f in props.items()]
        return columns

    def all_exact(self, values: Iterable[Any]) -> bool:
        values = list(values)
        if not _DICTS.issuperset(map(type, values)):
            return False
        return all(form.all_exact(map(get, values)) for get, form in self._resolved())

    def exact_mask(self, values: list[Any]) -> list[bool]:
        return _within(_DICTS, values, self._dicts_mask)

    def _dicts_mask(self, dicts: list[dict[str, Any]]) -> list[bool]:
        mask = [True] * len(dicts)
        for get, form in self._resolved():
            mask = list(map(operator.and_, mask, form.exact_mask(list(map(get, dicts)))))
        return mask


class LateForm(Form):
    """The form of a type resolved on first use (forward references, recursion)."""

    __slots__ = ("_form", "_resolve")

    def __init__(self, resolve: Callable[[], Form]) -> None:
        self._resolve = resolve
        self._form: Form | None = None

    def _resolved(self) -> Form:
        form = self._form
        if form is None:
            form = self._form = self._resolve()
        return form

    def all_exact(self, values: Iterable[Any]) -> bool:
        return self._resolved().all_exact(values)

    def exact_mask(self, values: list[Any]) -> list[bool]:
        return self._resolved().exact_mask(values)
