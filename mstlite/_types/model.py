"""Model types and model nodes: ModelType compiles its properties, ModelNode lives.

The ``Model`` base class users subclass (its metaclass reads the annotations)
is in ``_types.declare``; this module is the node kind and its type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from threading import get_ident
from typing import Any, ClassVar

from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from mstlite._engine.runtime import current_runtime
from mstlite._engine.transaction import Transaction
from mstlite._node.node import BY_IDENTITY, Node
from mstlite._node.tree import Tree
from mstlite._types.base import MISSING, NodeType, Type, finish_root, own_copy, where
from mstlite._types.forms import Form, ModelForm
from mstlite._types.props import Prop
from mstlite._types.wrappers import MaybeType
from mstlite._util.frozen import FrozenDict, freeze
from mstlite.errors import TreeError

__all__ = [
    "ModelNode",
    "ModelType",
    "identifiers_unique_at_end",
    "snapshot_default",
    "used_twice",
]


class ModelType(NodeType):
    """The type of a Model class; its properties are compiled on first use.

    ``compile`` (given by the metaclass) turns the class's annotations into
    ``(props, defaults)`` the first time they are needed, so models may refer to
    classes defined after them.
    """

    is_complex = True

    def __init__(
        self,
        cls: type[ModelNode],
        compile: Callable[[ModelType], tuple[dict[str, Type], dict[str, Any]]],
    ) -> None:
        super().__init__(cls.__name__)
        self.cls = cls
        self._compile = compile
        self._props: dict[str, Type] | None = None
        self.defaults: dict[str, Any] = {}
        self.identifier_attribute: str | None = None
        # Properties whose stored value is built by the type (nodes, safe references).
        self.built_props: tuple[tuple[str, Type], ...] = ()
        self._ref = f"{cls.__module__}.{cls.__qualname__}:{id(self)}"
        self._form: ModelForm | None = None
        # The class of this type's normalized snapshots: a FrozenDict that also says
        # "already a valid snapshot of this type", so validation can keep it as it is
        # (MST reconciles an array item given its node's own snapshot object).
        self.snapshot_class: type[FrozenDict] = type(
            "FrozenDict", (FrozenDict,), {"__slots__": (), "__module__": FrozenDict.__module__}
        )

    @property
    def props(self) -> dict[str, Type]:
        """The model's properties by name, in declaration order (resolved on first use).

        Raises ``TypeError`` when an annotation names a type that does not exist yet
        (a forward reference not defined by then).
        """
        if self._props is None:
            self._finalize()
        assert self._props is not None
        return self._props

    def _finalize(self) -> None:
        props, defaults = self._compile(self)
        self.defaults = defaults
        self.identifier_attribute = next((n for n, k in props.items() if k.is_identifier), None)
        self.built_props = tuple(
            (n, k) for n, k in props.items() if k.is_complex or k.contains_safe_references()
        )
        self._props = props
        for name, kind in props.items():
            type.__setattr__(self.cls, name, Prop.for_type(name, kind))

    # ------------------------------------------------------------- validation
    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        """The typed-dict schema of the model's snapshots (defaults filled in).

        Registered once in ``defs`` under the model's reference, so recursive models work.
        """
        ref = self._ref
        if ref not in defs:
            defs[ref] = cs.any_schema()  # placeholder while recursing
            fields: dict[str, Any] = {}
            for name, kind in self.props.items():
                schema = kind.build_schema(defs)
                default = self.defaults[name]
                if default is MISSING:
                    fields[name] = cs.typed_dict_field(schema, required=True)
                else:
                    fields[name] = cs.typed_dict_field(
                        cs.with_default_schema(
                            schema, default=snapshot_default(default), validate_default=True
                        ),
                        required=False,
                    )
            defs[ref] = cs.no_info_after_validator_function(
                self.snapshot_class,
                cs.typed_dict_schema(
                    fields,
                    # "drop" (a model's choice) reads snapshots of a newer schema as MST does.
                    extra_behavior="ignore" if self.drops_unknown_keys else "forbid",
                    cls_name=self.name,
                ),
                ref=ref,
            )
        return cs.definition_reference_schema(ref)

    def form(self) -> Form:
        """Plain dicts whose properties have their types' forms (asked for on first use,
        so a model may hold itself)."""
        form = self._form
        if form is None:
            form = self._form = ModelForm(lambda: {n: k.form() for n, k in self.props.items()})
        return form

    def normalize(self, snapshot: Any, where: str = "") -> Any:
        """A snapshot this type made is kept as it is (the same object); else validated."""
        if type(snapshot) is self.snapshot_class:
            current_runtime().preserved = True  # nodes built from it get copies
            return snapshot
        return super().normalize(snapshot, where)

    @property
    def drops_unknown_keys(self) -> bool:
        """Whether snapshot keys the model does not declare are dropped (else rejected)."""
        return getattr(self.cls, "_mst_unknown_keys", "reject") == "drop"

    def default_snapshot(self) -> Any:
        """``MISSING``: a model property needs a snapshot or a default."""
        return MISSING

    # --------------------------------------------------------------- nodes
    def accepts_node(self, node: Node) -> bool:
        """Whether ``node`` is an instance of this model's class (subclasses included)."""
        return isinstance(node, self.cls)

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Any) -> Any:
        """Build a model instance from a normalized snapshot at ``parent[key]`` in ``tree``."""
        node = self.cls.__new__(self.cls)
        self.setup(node, snapshot, parent, key, tree)
        return node

    def setup_root(self, node: ModelNode, normalized: Any, env: Any) -> ModelNode:
        """Make ``node`` (made by ``Model.__init__``) the root of a new tree, as
        ``create_from_normalized`` does for a node it makes."""
        self.setup(node, own_copy(normalized), None, None, None)
        finish_root(node, env)
        return node

    def setup(
        self, node: ModelNode, snapshot: Any, parent: Node | None, key: Any, tree: Any
    ) -> None:
        # The hot path of building trees: Node._init_node inlined (a method call per
        # node costs about 5% of building a tree); keep the two in step.
        """Set up ``node`` (an instance not yet initialized) from a normalized snapshot.

        Builds the child nodes and registers the identifier; raises
        ``IdentifierClashError`` when another node of this type in the tree has it.
        """
        node._parent = parent
        node._key = key
        node._snap = snapshot
        node._atoms = None
        node._ext = None
        node._alive = True
        if tree is None:
            tree = Tree(node, None)
        node._tree = tree
        data = dict(snapshot)
        node._data = data
        for name, kind in self.built_props:
            value = data[name]
            if value is not None:
                data[name] = kind.instantiate(value, node, name, tree)
        attribute = self.identifier_attribute
        if attribute is not None:
            identifier = data[attribute]
            same = tree.ids.get(identifier)
            if same is not None and any(other._type is self for other in same):
                if tree.deferred_ids is None:
                    raise used_twice(node, identifier)
                tree.deferred_ids.append(node)  # the old one may yet leave: see apply_snapshot
            node._register_identifier(identifier)
        if node._has_hooks:
            tree.rt.pending_created.append(node)

    def can_reuse(self, old: Node, snapshot: Any) -> bool:
        """Whether ``old`` may take ``snapshot`` in place: same model and same identifier."""
        return isinstance(old, self.cls) and self.same_identity(old, snapshot)

    def same_identity(self, node: ModelNode, snapshot: Any) -> bool:
        """Whether ``snapshot`` describes ``node``: this model and the same identifier (if any)."""
        if type(node)._mst_type is not self:
            return False
        attribute = self.identifier_attribute
        return attribute is None or node._data[attribute] == snapshot[attribute]


def snapshot_default(default: Any) -> Any:
    """The snapshot form of a property default given in a class body."""
    if isinstance(default, datetime):
        return default.isoformat()
    if isinstance(default, Node):
        raise TypeError("a default must be a snapshot, not a node: use get_snapshot(node)")
    return freeze(default)


class ModelNode(Node):
    """The node side of models; users subclass ``mstlite.Model``."""

    __slots__ = ("_data",)
    _data: dict[str, Any]
    _mst_type: ClassVar[ModelType]

    # ---------------------------------------------------------------- node side
    def _identifier(self) -> str | None:
        attribute = type(self)._mst_type.identifier_attribute
        return None if attribute is None else self._data[attribute]

    def _children(self) -> Iterator[Node]:
        for value in self._data.values():
            if isinstance(value, Node):
                yield value

    def _build_snapshot(self) -> Any:
        kind = type(self)._mst_type
        snapshot = kind.snapshot_class(self._data)
        for name, _ in kind.built_props:
            value = snapshot[name]
            if isinstance(value, Node):
                dict.__setitem__(snapshot, name, value._get_snapshot())
        return snapshot

    def _set_prop(self, prop: Prop, value: Any) -> None:
        rt = self._tree.rt
        tx = rt.tx
        if tx is None or rt.ident != get_ident() or not self._alive:
            tx = self._write_tx()  # raises the error that applies, or None
            if tx is None:
                self._outside_action(self._set_prop, prop, value)
                return
        name = prop.name
        kind = prop.type
        assert kind is not None
        old = self._data[name]
        if type(value) is kind.stored_as_is:
            new = value  # to_stored's own first case, without the call
        elif kind.is_complex and old is not None:
            new = kind.reconcile(old, value, self, name, tx)
        else:
            new = kind.to_stored(value, self, name, tx)
        self._put_slot(tx, name, old, new, True)

    def _store_slot(
        self, key: Any, new: Any, existed: bool, old: Any, old_snapshot: Any
    ) -> tuple[Any, ...]:
        if key == type(self)._mst_type.identifier_attribute:
            raise TreeError(
                f"cannot change the identifier of {self._describe()} from {old!r} to {new!r}; "
                "identifiers are fixed: create a new node instead"
            )
        self._data[key] = new
        return (_restore_prop, self, key, old)

    def _apply_normalized(self, snapshot: Any, tx: Transaction) -> None:
        """Reconcile this node with a normalized snapshot of its own type."""
        if snapshot is self._snap:
            return
        data = self._data
        for name, kind in type(self)._mst_type.props.items():
            old = data[name]
            value = snapshot[name]
            if isinstance(old, Node) and value is not None:
                new = kind.reconcile_normalized(old, value, self, name, tx)
            elif value is None or not (kind.is_complex or kind.contains_safe_references()):
                if value is old or (
                    type(value) is type(old) and value == old and type(value) not in BY_IDENTITY
                ):
                    continue  # unchanged: most properties of most nodes
                new = value
            else:
                new = kind.instantiate_here(value, self, name)
            self._put_slot(tx, name, old, new, True)

    def _remove_child(self, child: Node, tx: Transaction, detach: bool = False) -> None:
        name = child._key
        mst_type = type(self)._mst_type
        kind = mst_type.props[name]
        if isinstance(kind, MaybeType):
            self._put_slot(tx, name, child, None, True, detach)
            return
        default = mst_type.defaults[name]
        if default is MISSING:
            raise TreeError(
                f"cannot detach {child._describe()}: property {type(self).__name__}.{name} "
                "is required and has no default; declare it as X | None (or give it a "
                "default) to allow removing its node"
            )
        # As MST: the slot takes the property's default. A detached node leaves and a
        # new one is built; destroy reconciles the node with the default, which keeps
        # it when it may take the default (MST's stream: fine-grained patches).
        snapshot = kind.normalize(snapshot_default(default), where(self, name))
        if detach:
            new = kind.instantiate_here(snapshot, self, name)
        else:
            new = kind.reconcile_normalized(child, snapshot, self, name, tx)
        self._put_slot(tx, name, child, new, True, detach)

    def _slot_value(self, key: Any) -> Any:
        return self._data.get(key)

    def _clear_reference(self, identifier: str, where: Any) -> None:
        tx = self._tree.rt.tx
        assert tx is not None
        self._put_slot(tx, where, identifier, None, True)

    def _drop_safe_reference(self, identifier: str) -> None:
        for name, kind in type(self)._mst_type.built_props:
            if kind.contains_safe_references() and self._data[name] == identifier:
                self._clear_reference(identifier, name)

    def __repr__(self) -> str:
        state = "" if self._alive else " (dead)"
        return f"<{type(self).__name__} {self._path() or '/'}{state}>"


def used_twice(node: Node, identifier: str) -> TreeError:
    """The error of a second node of ``node``'s type with ``identifier`` in its tree."""
    return TreeError(
        f"identifier {identifier!r} of {node._type.name} is used twice in the tree "
        f"(again at {node._path() or '/'!r}); identifiers are unique per type"
    )


@contextmanager
def identifiers_unique_at_end(tree: Tree) -> Iterator[None]:
    """Check that identifiers are unique per type once the block's writes are all done.

    For ``apply_snapshot`` and ``apply_patch``: what they apply is valid or not
    as a whole, and an identifier may move to a place written before the one it
    leaves (MST's patch streams do that). Raises ``used_twice``'s error.
    """
    outer, tree.deferred_ids = tree.deferred_ids, []
    try:
        yield
        _check_deferred_identifiers(tree.deferred_ids)
    finally:
        tree.deferred_ids = outer


def _check_deferred_identifiers(nodes: list[Node]) -> None:
    """Raise ``used_twice`` for the first of ``nodes`` (built while their identifier was
    already in the tree) whose identifier is still held by another node of its type."""
    for node in nodes:
        identifier = node._identifier()
        if not node._alive or identifier is None:
            continue
        same = node._tree.ids.get(identifier, ())
        if any(other is not node and other._type is node._type for other in same):
            raise used_twice(node, identifier)


def _restore_prop(node: ModelNode, name: str, old: Any) -> None:
    node._data[name] = old
    node._changed(name)
