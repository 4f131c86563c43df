"""What a snapshot given to ``apply_snapshot`` leaves as it was: the nodes' own snapshots.

A server that sends back its state sends mostly what the tree holds. An item
of an array of identified models that equals, in exact form
(``_types.forms``), the current snapshot of the node at its position is
replaced by that snapshot object before validation: validation then keeps it
as it is (``keep_known_items``) and reconciliation finds its node by identity
(``reconcile_items``). That is what MST does given an item's own snapshot, and
where it ends given an equal one (the same node, no patch, nothing notified),
so only the changed items are validated and reconciled. Comparing is ``==``
at C speed over the array, then one type pass per leaf column over the equal
items.
"""

from __future__ import annotations

import operator
from threading import get_ident
from typing import Any

from mstlite._node.node import Node
from mstlite._types.array import ArrayNode, ArrayType, listed_model
from mstlite._types.base import Type
from mstlite._types.map import MapNode, MapType
from mstlite._types.model import ModelNode, ModelType
from mstlite._types.wrappers import UnionType, _Wrapper

__all__ = ["share_unchanged"]


def share_unchanged(node: Node, snapshot: Any) -> Any:
    """``snapshot`` with the array items under ``node`` that are exactly their nodes'
    current snapshots replaced by those snapshot objects.

    Containers holding a replaced item are copied (the caller's snapshot is
    never changed); ``snapshot`` itself is returned when nothing is shared, and
    always for a dead node or one of another thread (applying says why).
    """
    if not node._alive or node._tree.rt.ident != get_ident():
        return snapshot
    try:
        return _share(node, snapshot)
    except RecursionError:  # a deep recursive type: no shortcut, validation does it all
        return snapshot


def _share(node: Node, value: Any) -> Any:
    if isinstance(node, ArrayNode):
        return _share_items(node, value) if type(value) is list else value
    if type(value) is not dict:
        return value
    if isinstance(node, ModelNode):
        data = node._data
        names = _holders(type(node)._mst_type)
    elif isinstance(node, MapNode) and _reaches_items(node._type):
        data = node._items
        names = tuple(value)
    else:
        return value
    shared = value
    for name in names:
        child = data.get(name)
        if isinstance(child, Node) and name in value:
            given = value[name]
            new = _share(child, given)
            if new is not given:
                if shared is value:
                    shared = dict(value)
                shared[name] = new
    return shared


def _share_items(array: ArrayNode, value: list[Any]) -> list[Any]:
    items = array._items
    item_type = array._type.item
    model = listed_model(item_type)
    if not items or not isinstance(model, ModelType) or model.identifier_attribute is None:
        return value  # MST rebuilds an unidentified item given an equal new snapshot
    snaps = list(array._get_snapshot())
    try:
        equal = list(map(operator.eq, value, snaps))
    except Exception:  # an item that cannot be compared: validation says what it is
        return value
    same = [position for position, verdict in enumerate(equal) if verdict is True]
    candidates = [value[position] for position in same]
    form = item_type.form()
    if not form.all_exact(candidates):  # e.g. an int given for a float: validate those
        mask = form.exact_mask(candidates)
        same = [position for position, exact in zip(same, mask, strict=True) if exact]
    known = model.snapshot_class
    shared = list(value)
    for position in same:
        snap = snaps[position]
        if type(snap) is known:  # not None (list[X | None]), nor a subclass's snapshot
            shared[position] = snap
    changed = [position for position, verdict in enumerate(equal) if verdict is not True]
    changed.extend(range(len(equal), len(value)))
    _unshare_claimed(array, value, shared, changed, model)
    if _holders(model):
        _share_within_changed(items, value, shared, changed, model)
    return shared


def _unshare_claimed(
    array: ArrayNode, value: list[Any], shared: list[Any], changed: list[int], model: ModelType
) -> None:
    """Give back the items whose node's identifier a changed item names too.

    Which place then gets the node (and which one clashes) is decided as for
    any other snapshot: MST's in-order scan, as ``reconcile_items`` does it.
    """
    attribute = model.identifier_attribute
    ids = array._tree.ids
    for position in changed:
        given = value[position]
        if type(given) is not dict:
            continue
        identifier = given.get(attribute)
        if type(identifier) is not str:
            continue
        for node in ids.get(identifier, ()):
            place = node._key
            if node._parent is array and place < len(shared) and shared[place] is not value[place]:
                shared[place] = value[place]


def _share_within_changed(
    items: list[Any], value: list[Any], shared: list[Any], changed: list[int], model: ModelType
) -> None:
    """Share inside the changed items given at their node's place (their own arrays)."""
    attribute = model.identifier_attribute
    assert attribute is not None
    for position in changed:
        if position >= len(items):
            break  # the rest are past the end: no node there
        node = items[position]
        given = value[position]
        if (
            isinstance(node, ModelNode)
            and type(given) is dict
            and type(given.get(attribute)) is str
            and given[attribute] == node._identifier()
        ):
            shared[position] = _share(node, given)


def _holders(model: ModelType) -> tuple[str, ...]:
    """The properties of ``model`` whose values can hold arrays of identified models."""
    cached: tuple[str, ...] | None = model.__dict__.get("_sharing_holders")
    if cached is None:
        cached = tuple(name for name, kind in model.built_props if _reaches(kind, set()))
        model._sharing_holders = cached  # type: ignore[attr-defined]
    return cached


def _reaches_items(kind: MapType[Any]) -> bool:
    return _reaches(kind.item, set())


def _reaches(kind: Type, visiting: set[int]) -> bool:
    """Whether a value of ``kind`` can hold an array of identified models."""
    if id(kind) in visiting:
        return False  # a cycle adds no new place to reach
    visiting.add(id(kind))
    if isinstance(kind, ArrayType):
        model = listed_model(kind.item)
        if isinstance(model, ModelType) and model.identifier_attribute is not None:
            return True
        return _reaches(kind.item, visiting)
    if isinstance(kind, MapType):
        return _reaches(kind.item, visiting)
    if isinstance(kind, ModelType):
        return any(_reaches(prop, visiting) for prop in kind.props.values())
    if isinstance(kind, UnionType):
        return any(_reaches(member, visiting) for member in kind.members)
    if isinstance(kind, _Wrapper):
        return _reaches(kind.inner, visiting)
    return False
