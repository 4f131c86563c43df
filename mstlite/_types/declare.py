"""``Model``, the class users subclass: its metaclass reads annotations into a ModelType."""

from __future__ import annotations

import sys
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Self, dataclass_transform

from typing_extensions import TypeVar

from mstlite._node.node import Node
from mstlite._types.annotations import to_type
from mstlite._types.array import ArrayType
from mstlite._types.base import MISSING, Type, build_normalized
from mstlite._types.forward import Namespace
from mstlite._types.map import MapType
from mstlite._types.model import ModelNode, ModelType
from mstlite._types.props import ComputedProp, Prop, VolatileProp, volatile
from mstlite._types.reference import ReferenceType
from mstlite._types.wrappers import LateType, MaybeType, OptionalType
from mstlite._util.frozen import FrozenDict

__all__ = ["Model", "ModelMeta"]

if TYPE_CHECKING:
    from mstlite.typing import ModelSnapshot
else:  # the same type; importing mstlite.typing here would load it with mstlite
    ModelSnapshot = Mapping[str, Any]

SnapshotOut = TypeVar("SnapshotOut", default=ModelSnapshot)
"""A model's snapshot type (what ``get_snapshot`` returns), its first type parameter."""
SnapshotIn = TypeVar("SnapshotIn", default=Mapping[str, Any])
"""What a model's ``create`` takes, its second type parameter."""

_HOOKS = ("after_create", "after_attach", "before_detach", "before_destroy")
_UNKNOWN_KEYS = ("reject", "drop")
_RESERVED = {"create", "is_", "validate", "json_schema"}


def compile_props(kind: ModelType) -> tuple[dict[str, Type], dict[str, Any]]:
    """The properties and defaults of a model class, from its and its bases' annotations."""
    cls = kind.cls
    props: dict[str, Type] = {}
    defaults: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        own = klass.__dict__.get("_mst_own_props")
        if own is None:
            continue
        namespace = Namespace(
            klass,
            klass.__dict__.get("_mst_namespace", {}),
            klass.__dict__.get("_mst_globals") or vars(sys.modules.get(klass.__module__, sys)),
        )
        for name, (annotation, default) in own.items():
            if isinstance(annotation, str):
                try:
                    annotation = namespace.evaluate(annotation)
                except TypeError:
                    annotation = typing.ForwardRef(annotation)  # resolved on first use
            try:
                prop = to_type(annotation, namespace)
            except TypeError as error:
                raise TypeError(f"{cls.__name__}.{name}: {error}") from None
            if isinstance(prop, OptionalType) and default is MISSING:
                default = prop.default_snapshot()
            if default is MISSING and not prop.is_identifier:
                default = _implicit_default(prop)
            props[name] = prop
            defaults[name] = default
    return props, defaults


def _implicit_default(kind: Type) -> Any:
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


# To type checkers a model class is a keyword-only dataclass: ``Todo(id="a")``
# checks field names and types, as pydantic's BaseModel does. ``volatile`` is a
# field specifier whose ``init`` is False: volatile state is not a constructor
# argument (it is not part of snapshots).
@dataclass_transform(kw_only_default=True, field_specifiers=(volatile,))
class ModelMeta(type):
    """Collects annotated properties and gives every model class ``__slots__``."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        *,
        unknown_keys: Literal["reject", "drop"] | None = None,
        **kwargs: Any,
    ) -> ModelMeta:
        # A class keyword (``class M(Model, unknown_keys="drop")``) rather than
        # __init_subclass__: pyright checks a metaclass's keywords, and mypy checks
        # neither when there is a metaclass.
        if unknown_keys is not None:
            if unknown_keys not in _UNKNOWN_KEYS:
                raise TypeError(
                    f"class {name}: unknown_keys={unknown_keys!r} is not one of "
                    f"{', '.join(map(repr, _UNKNOWN_KEYS))}; 'reject' (the default) refuses "
                    "snapshot keys the model does not declare, 'drop' ignores them as MST does"
                )
            namespace["_mst_unknown_keys"] = unknown_keys
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
            model_cls._mst_type = model_cls._type = ModelType(model_cls, compile_props)
            model_cls._has_hooks = any(getattr(cls, hook, None) is not None for hook in _HOOKS)
        return cls


def _node_fields(kind: ModelType, snapshot: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The fields of a constructor call that hold nodes (a node, or a list or
    dict of them), each as ``(its snapshot form, the value given)``."""
    found: dict[str, tuple[Any, Any]] = {}
    for name, value in snapshot.items():
        if isinstance(value, Node):
            has = True
        elif isinstance(value, list | tuple):
            has = any(isinstance(item, Node) for item in value)
        elif isinstance(value, dict):
            has = any(isinstance(item, Node) for item in value.values())
        else:
            continue
        prop = kind.props.get(name)
        if has and prop is not None and _holds_nodes(prop):
            found[name] = (_plain(value), value)
    return found


def _holds_nodes(kind: Type) -> bool:
    """Whether a property of this type stores nodes (not identifiers of them)."""
    while isinstance(kind, MaybeType | LateType):
        kind = kind.inner
    return kind.is_complex and not isinstance(kind, ReferenceType)


def _plain(value: Any) -> Any:
    if isinstance(value, Node):
        return value._get_snapshot()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _put_nodes(node: Model, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, Node):
            setattr(node, name, value)
            continue
        setattr(node, name, {} if isinstance(value, dict) else [])
        container = getattr(node, name)
        if isinstance(value, dict):
            for key, item in value.items():
                container[key] = item
        else:
            container.extend(value)


def _is_classvar(annotation: Any) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return typing.get_origin(annotation) is ClassVar


class Model(ModelNode, Generic[SnapshotOut, SnapshotIn], metaclass=ModelMeta):
    """Base class of models: annotations declare properties, ``@action`` methods change them.

    Create instances with ``MyModel(field=value, ...)`` (checked by type
    checkers), ``MyModel.create(snapshot, env=...)`` or ``MyModel(**snapshot)``;
    each validates the whole snapshot first and raises ``ValidationError``
    listing every problem.

    The two optional type parameters name the model's snapshot types for type
    checkers, as MobX-State-Tree's ``SnapshotOut`` and ``SnapshotIn`` do:
    ``class Todo(Model[TodoSnapshot, TodoSnapshotIn])`` makes
    ``get_snapshot(todo)`` a ``TodoSnapshot`` and ``Todo.create`` take a
    ``TodoSnapshotIn`` (usually ``TypedDict`` classes; ``mstlite.snapshot_types(Todo)``
    writes them, ``mstlite.check_snapshot_types(Todo)`` checks them against the model).
    Without them a snapshot is a ``Mapping[str, JSONValue]`` and ``create``
    takes any mapping. They change nothing at run time.

    A snapshot key the model does not declare is a ``ValidationError``; declare
    ``class Todo(Model, unknown_keys="drop")`` to ignore such keys instead, as
    MobX-State-Tree does (snapshots written by a newer schema then load). The
    setting is the model's own (nested models keep theirs), inherited by
    subclasses, and applies wherever a snapshot of it is validated: ``create``,
    the constructor, ``apply_snapshot``, assigning a snapshot, ``validate``.
    """

    __slots__ = ()
    _mst_root: ClassVar[bool] = True
    _mst_own_props: ClassVar[dict[str, tuple[Any, Any]]]
    #: What a snapshot key the model does not declare does: "reject" (the default,
    #: ValidationError) or "drop" (ignored, as MST does). Chosen with the class
    #: keyword ``unknown_keys``, inherited by subclasses.
    _mst_unknown_keys: ClassVar[Literal["reject", "drop"]] = "reject"

    def __init__(self, snapshot: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
        """Build a new, unattached tree whose root is this instance, as ``create`` does.

        To type checkers the signature is the model's fields, keyword-only
        (``Todo(id="a", title="x")``); at run time a snapshot mapping may also be
        passed first. A field may hold nodes (``Store(todos=[Todo(id="a")])``,
        ``Store(selected=todo)`` for a reference): they are attached to the new
        tree, so each must be unattached (a root) and alive, else ``TreeError``.
        Raises ``ValidationError`` listing every problem before anything is built.
        """
        kind = type(self)._mst_type
        if snapshot is None:
            snapshot = fields
        elif fields:
            snapshot = {**snapshot, **fields}
        nodes = _node_fields(kind, snapshot)
        if not nodes:
            build_normalized(kind, kind.normalize(snapshot), None, self)
            return
        # Validated with the nodes' snapshots, built with their places empty; then
        # the nodes themselves take them through the ordinary write path (one
        # parent each, identifiers unique).
        normalized = kind.normalize({**snapshot, **{n: plain for n, (plain, _) in nodes.items()}})
        build_normalized(kind, FrozenDict({**normalized, **dict.fromkeys(nodes)}), None, self)
        self._transact(_put_nodes, self, {name: value for name, (_, value) in nodes.items()})

    @classmethod
    def create(cls, snapshot: SnapshotIn | None = None, *, env: Any = None) -> Self:
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
