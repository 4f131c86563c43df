"""Models: classes whose annotations declare properties, and their type, ModelType."""

from __future__ import annotations

import sys
import typing
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic_core import CoreSchema
from pydantic_core import core_schema as cs

from mstlite._node import Node, _register
from mstlite._props import (
    ComputedProp,
    Prop,
    ReadProp,
    VolatileProp,
)
from mstlite._runtime import RT, Transaction
from mstlite._snapshot import FrozenDict, freeze
from mstlite._tree import Tree
from mstlite._types_base import (
    MISSING,
    NodeType,
    Type,
    build_normalized,
    pending_created,
    run_created_hooks,
    snapshot_of,
)
from mstlite._types_scalar import IdentifierType
from mstlite._types_util import MaybeType, OptionalType
from mstlite.errors import TreeError

__all__ = ["Model", "ModelType", "model_registry"]

M = TypeVar("M", bound="Model")

#: Model classes by name, to resolve forward references written as strings.
model_registry: dict[str, type[Model]] = {}

_HOOKS = ("after_create", "after_attach", "before_detach", "before_destroy")
_RESERVED = {"create", "is_", "validate", "json_schema"}


class ModelType(NodeType):
    """The type of a Model class; its properties are compiled on first use."""

    is_complex = True

    def __init__(self, cls: type[Model], namespace: Mapping[str, Any]) -> None:
        super().__init__(cls.__name__)
        self.cls = cls
        self._namespace = namespace
        self._props: dict[str, Type] | None = None
        self.defaults: dict[str, Any] = {}
        self.identifier_attribute: str | None = None
        # Properties whose stored value is built by the type (nodes, safe references).
        self.built_props: tuple[tuple[str, Type], ...] = ()
        self._ref = f"{cls.__module__}.{cls.__qualname__}:{id(self)}"

    @property
    def props(self) -> dict[str, Type]:
        if self._props is None:
            self._finalize()
        assert self._props is not None
        return self._props

    def _finalize(self) -> None:
        from mstlite._annotations import to_type

        cls = self.cls
        props: dict[str, Type] = {}
        defaults: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            own = klass.__dict__.get("_mst_own_props")
            if own is None:
                continue
            namespace = ChainMap(
                dict(klass.__dict__.get("_mst_namespace", {})),
                klass.__dict__.get("_mst_globals") or vars(sys.modules.get(klass.__module__, sys)),
                model_registry,
            )
            for name, (annotation, default) in own.items():
                if isinstance(annotation, str):
                    try:
                        annotation = eval(annotation, {}, namespace)
                    except NameError:
                        annotation = typing.ForwardRef(annotation)
                try:
                    kind = to_type(annotation, namespace.get)
                except TypeError as error:
                    raise TypeError(f"{cls.__name__}.{name}: {error}") from None
                if isinstance(kind, OptionalType) and default is MISSING:
                    default = kind.default_snapshot()
                if default is MISSING and not isinstance(kind, IdentifierType):
                    default = _implicit_default(kind)
                props[name] = kind
                defaults[name] = default
        self.defaults = defaults
        self.identifier_attribute = next(
            (n for n, k in props.items() if isinstance(k, IdentifierType)), None
        )
        self.built_props = tuple(
            (n, k) for n, k in props.items() if k.is_complex or k.contains_safe_references()
        )
        self._props = props
        for name, kind in props.items():
            descriptor = ReadProp(name, kind) if kind.needs_read else Prop(name, kind)
            type.__setattr__(cls, name, descriptor)

    # ------------------------------------------------------------- validation
    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
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
                            schema, default=_snapshot_default(default), validate_default=True
                        ),
                        required=False,
                    )
            defs[ref] = cs.no_info_after_validator_function(
                FrozenDict,
                cs.typed_dict_schema(fields, extra_behavior="forbid", cls_name=self.name),
                ref=ref,
            )
        return cs.definition_reference_schema(ref)

    def default_snapshot(self) -> Any:
        return MISSING

    # --------------------------------------------------------------- nodes
    def accepts_node(self, node: Node) -> bool:
        return isinstance(node, self.cls)

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Any) -> Any:
        node = self.cls.__new__(self.cls)
        self.setup(node, snapshot, parent, key, tree)
        return node

    def setup(self, node: Model, snapshot: Any, parent: Node | None, key: Any, tree: Any) -> None:
        # The hot path of building trees: Node._init_node inlined.
        node._parent = parent
        node._key = key
        node._snap = snapshot
        node._atoms = None
        node._meta = None
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
                raise TreeError(
                    f"identifier {identifier!r} of {self.name} is used twice in the tree "
                    f"(again at {node._path() or '/'!r}); identifiers are unique per type"
                )
            _register(tree, identifier, node, RT.tx.journal if RT.tx is not None else None)
        if node._has_hooks:
            pending_created.append(node)

    def can_reuse(self, old: Node, snapshot: Any) -> bool:
        return isinstance(old, self.cls) and self.same_identity(old, snapshot)

    def same_identity(self, node: Model, snapshot: Any) -> bool:
        if type(node)._mst_type is not self:
            return False
        attribute = self.identifier_attribute
        return attribute is None or node._data[attribute] == snapshot[attribute]


def _implicit_default(kind: Type) -> Any:
    from mstlite._array import ArrayType
    from mstlite._map import MapType

    base = kind
    while True:
        if isinstance(base, MaybeType):
            return None
        if isinstance(base, ArrayType):
            return []
        if isinstance(base, MapType):
            return {}
        inner = getattr(base, "inner", None)
        if inner is None or not isinstance(inner, Type):
            return MISSING
        base = inner


def _snapshot_default(default: Any) -> Any:
    if isinstance(default, datetime):
        return default.isoformat()
    if isinstance(default, Node):
        raise TypeError("a default must be a snapshot, not a node: use get_snapshot(node)")
    return freeze(default)


class ModelMeta(type):
    """Collects annotated properties and gives every model class ``__slots__``."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> ModelMeta:
        namespace.setdefault("__slots__", ())
        own: dict[str, tuple[Any, Any]] = {}
        volatiles: dict[str, VolatileProp[Any]] = {}
        for prop, annotation in namespace.get("__annotations__", {}).items():
            if prop.startswith("_") or _is_classvar(annotation):
                continue
            if prop in _RESERVED:
                raise TypeError(f"{name}.{prop}: {prop!r} is reserved by mstlite.Model")
            default = namespace.pop(prop, MISSING)
            if isinstance(default, VolatileProp):
                default.name = prop
                volatiles[prop] = default
                namespace[prop] = default
                continue
            own[prop] = (annotation, default)
            namespace[prop] = Prop(prop, None)
        for attr, value in namespace.items():
            if isinstance(value, VolatileProp) and attr not in volatiles:
                value.name = attr
            if isinstance(value, ComputedProp) and value.name is None:
                value.name = attr
        namespace["_mst_own_props"] = own
        caller = sys._getframe(1)
        namespace["_mst_namespace"] = (
            dict(caller.f_locals) if caller.f_code.co_name != "<module>" else {}
        )
        # Names resolve in the defining module's globals, kept here: sys.modules may
        # later map the module's name to another module (two pytest conftest files).
        namespace["_mst_globals"] = caller.f_globals
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if any(isinstance(base, ModelMeta) for base in bases):
            model_cls: Any = cls
            model_cls._mst_type = model_cls._type = ModelType(model_cls, namespace)
            model_cls._has_hooks = any(getattr(cls, hook, None) is not None for hook in _HOOKS)
            model_registry[name] = model_cls
        return cls


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return typing.get_origin(annotation) is ClassVar


class Model(Node, metaclass=ModelMeta):
    """Base class of models: annotations declare properties, ``@action`` methods change them.

    Create instances with ``MyModel.create(snapshot, env=...)`` or
    ``MyModel(**snapshot)``; both validate the whole snapshot first and raise
    ``ValidationError`` listing every problem.
    """

    __slots__ = ("_data",)
    _data: dict[str, Any]
    _mst_type: ClassVar[ModelType]
    _mst_own_props: ClassVar[dict[str, tuple[Any, Any]]]

    def __init__(self, snapshot: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        kind = type(self)._mst_type
        if snapshot is None:
            snapshot = fields
        elif fields:
            snapshot = {**snapshot, **fields}
        kind.setup(self, kind.normalize(snapshot), None, None, None)
        run_created_hooks()

    @classmethod
    def create(cls: type[M], snapshot: Mapping[str, Any] | None = None, *, env: Any = None) -> M:
        """Validate ``snapshot`` and build a new tree whose root is an instance of ``cls``.

        ``env`` is shared by the whole tree (``get_env``). Raises ``ValidationError``
        listing every problem, before anything is built.
        """
        kind = cls._mst_type
        normalized = kind.normalize({} if snapshot is None else snapshot)
        return build_normalized(kind, normalized, env)  # type: ignore[no-any-return]

    @classmethod
    def is_(cls, value: Any) -> bool:
        """True when ``value`` is a valid snapshot of this model, or an instance of it."""
        return cls._mst_type.is_(value)

    @classmethod
    def validate(cls, snapshot: Any) -> list[dict[str, Any]]:
        """Every problem of ``snapshot`` as ``{"path", "message", ...}``; [] when valid."""
        return cls._mst_type.validate(snapshot)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema of this model's snapshots."""
        return cls._mst_type.json_schema()

    # ---------------------------------------------------------------- node side
    def _identifier(self) -> str | None:
        attribute = type(self)._mst_type.identifier_attribute
        return None if attribute is None else self._data[attribute]

    def _children(self) -> Iterator[Node]:
        for value in self._data.values():
            if isinstance(value, Node):
                yield value

    def _build_snapshot(self) -> Any:
        snapshot = FrozenDict(self._data)
        for name, _ in type(self)._mst_type.built_props:
            value = snapshot[name]
            if isinstance(value, Node):
                dict.__setitem__(snapshot, name, value._get_snapshot())
        return snapshot

    def _set_prop(self, prop: Prop, value: Any) -> None:
        if RT.tx is None:
            self._outside_action(self._set_prop, prop, value)
            return
        tx = self._write_tx()
        name = prop.name
        kind = prop.type
        assert kind is not None
        data = self._data
        old = data[name]
        if kind.is_complex and old is not None:
            new = kind.reconcile(old, value, self, name, tx)
        else:
            new = kind.to_stored(value, self, name, tx)
        self._store(tx, name, old, new)

    def _store(self, tx: Transaction, name: str, old: Any, new: Any) -> None:
        if new is old or (type(new) is type(old) and not isinstance(new, Node) and new == old):
            return
        if name == type(self)._mst_type.identifier_attribute:
            raise TreeError(
                f"cannot change the identifier of {self._describe()} from {old!r} to {new!r}; "
                "identifiers are fixed: create a new node instead"
            )
        tree = self._tree
        old_snapshot = snapshot_of(old) if tree.patch_listener_count else None
        self._data[name] = new
        tx.journal.append((_restore_prop, self, name, old))
        # Release first: safe references cleared by it emit their patches before this one,
        # so a replica replaying the list in order ends in the same state.
        if isinstance(old, Node) and old._parent is self:
            old._release(tx)
        if tree.patch_listener_count:
            self._emit(tx, "replace", name, snapshot_of(new), old_snapshot)
        self._invalidate(tx.journal)
        self._changed(name)
        if tree.snapshot_listeners:
            tx.trees.add(tree)

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
            elif kind.is_complex or kind.contains_safe_references():
                new = None if value is None else _instantiate_in(kind, value, self, name)
            else:
                new = value
            self._store(tx, name, old, new)

    def _remove_child(self, child: Node, tx: Transaction) -> None:
        name = child._key
        kind = type(self)._mst_type.props[name]
        if not isinstance(kind, MaybeType):
            raise TreeError(
                f"cannot detach {child._describe()}: property {type(self).__name__}.{name} "
                "is required; declare it as X | None to allow removing its node"
            )
        self._store(tx, name, child, None)

    def _drop_safe_reference(self, identifier: str) -> None:
        tx = RT.tx
        assert tx is not None
        for name, kind in type(self)._mst_type.built_props:
            if kind.contains_safe_references() and self._data[name] == identifier:
                self._store(tx, name, identifier, None)

    def __repr__(self) -> str:
        state = "" if self._alive else " (dead)"
        return f"<{type(self).__name__} {self._path() or '/'}{state}>"


def _instantiate_in(kind: Type, snapshot: Any, parent: Node, key: Any) -> Any:
    try:
        return kind.instantiate(snapshot, parent, key, parent._tree)
    finally:
        run_created_hooks()


def _restore_prop(node: Model, name: str, old: Any) -> None:
    node._data[name] = old
    node._changed(name)


def model_type_of(cls: type[Model]) -> ModelType:
    return cls._mst_type


def hooks_of(cls: type[Model]) -> Iterator[Callable[[], None]]:
    for hook in _HOOKS:
        method = getattr(cls, hook, None)
        if method is not None:
            yield method
