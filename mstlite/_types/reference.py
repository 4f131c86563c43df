"""References: a snapshot holds the target's identifier; reads resolve the live node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from mstlite._node.identifiers import IDENTIFIER, add_safe_reference
from mstlite._node.node import Node
from mstlite._types.base import Type, where
from mstlite._types.forms import NEVER, Form, leaf
from mstlite._types.reference_array import ReferenceArrayNode
from mstlite.errors import InvalidReferenceError, TreeError

if TYPE_CHECKING:
    from mstlite._engine.transaction import Transaction
    from mstlite._node.tree import Tree

__all__ = ["ReferenceArrayNode", "ReferenceType"]  # the first: arrays of safe references


class ReferenceType(Type):
    """``Ref[T]``: stores the identifier of a ``T`` node of the same tree.

    A plain reference raises ``InvalidReferenceError`` when read while its
    target is missing; a safe reference is set to ``None`` (or removed from its
    array or map) when its target leaves the tree.
    """

    needs_read = True

    def __init__(self, target: Type, *, safe: bool = False) -> None:
        super().__init__(f"{'safe_reference' if safe else 'reference'}[{target.name}]")
        self.target = target
        self.safe = safe

    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        return cs.no_info_before_validator_function(
            _identifier_of_node, cs.str_schema(strict=True, min_length=1)
        )

    def contains_safe_references(self) -> bool:
        return self.safe

    def form(self) -> Form:
        # Reconciling a safe reference registers it again: that path stays.
        return NEVER if self.safe else leaf(str)

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Tree | None) -> Any:
        if self.safe and parent is not None and tree is not None:
            add_safe_reference(tree, snapshot, parent, key)
        return snapshot

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        if isinstance(value, Node):
            if not self.target.accepts_node(value):
                raise TreeError(
                    f"cannot store a reference to {value._type.name} at {where(parent, key)!r}: "
                    f"it must point to a {self.target.name}"
                )
            identifier = value._identifier()
            if identifier is None:
                raise TreeError(
                    f"cannot reference {value._describe()}: it has no identifier property"
                )
        else:
            identifier = self.normalize(value, where(parent, key))
        if self.safe:
            add_safe_reference(parent._tree, identifier, parent, key)
        return identifier

    def resolve(self, identifier: str, owner: Node | None) -> Any:
        if owner is None:
            return identifier
        tree = owner._tree
        if tree.rt.tracking is not None:
            # What the identifier resolves to: changed by the identifier index whenever
            # a node with it joins or leaves the tree (the target appears, is removed,
            # or is replaced by a new node with the same identifier). And the
            # reference itself: the owner's slot, observed by the read that got here.
            tree.root._observe((IDENTIFIER, identifier))
        node = tree.find(identifier, self.target.accepts_node)
        if node is None:
            if self.safe:
                return None
            raise InvalidReferenceError(
                f"the reference to {self.target.name} {identifier!r} held by "
                f"{owner._describe()} cannot be resolved: no such node is in the tree; add "
                "the target first, or use safe_reference to drop dangling references"
            )
        return node

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        return self.resolve(stored, owner)


def _identifier_of_node(value: Any) -> Any:
    if isinstance(value, Node):
        identifier = value._identifier()
        return identifier if identifier is not None else value
    return value
