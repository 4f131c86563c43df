"""The type layer's base: what every type knows, and validation through pydantic-core.

A type describes; a node lives. Types are immutable and shared. Each builds a
pydantic-core schema whose output is the normalized, frozen snapshot
(defaults filled in), so one validation pass both checks and normalizes.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pydantic_core
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema, SchemaValidator
from pydantic_core import core_schema as cs

from mstlite._engine.runtime import Runtime, current_runtime
from mstlite._engine.transaction import run_in_transaction
from mstlite._node.identifiers import drop_dangling_at_creation
from mstlite._node.node import Node, snapshot_of
from mstlite._types.depth import check_nesting, check_room
from mstlite._types.forms import NEVER, Form
from mstlite._util.frozen import FrozenDict, FrozenList, thaw, unshare
from mstlite._util.json_pointer import escape_json_path
from mstlite.errors import TreeError, ValidationError

if TYPE_CHECKING:
    from mstlite._engine.transaction import Transaction
    from mstlite._node.tree import Tree

__all__ = [
    "MISSING",
    "IdentifierClashError",
    "NodeType",
    "Type",
    "build_normalized",
    "finish_root",
    "own_copy",
    "run_created_hooks",
    "snapshot_of",
    "validation_error",
]


class IdentifierClashError(ValidationError, TreeError):
    """Raised when a snapshot's identifiers clash in the tree it would build or change.

    Both errors at once: the snapshot is invalid, for a reason only the tree sees.
    """


def run_created_hooks(rt: Runtime) -> None:
    """Run ``after_create`` of the nodes just built in ``rt``'s thread, children first."""
    pending = rt.pending_created
    if not pending:
        return
    nodes = pending[:]
    pending.clear()
    for node in nodes:  # built children first, so children run before parents
        hook = getattr(node, "after_create", None)
        if hook is not None and node._alive:
            run_in_transaction(rt, hook)


def own_copy(normalized: Any) -> Any:
    """``normalized``, or a copy of it when validation kept live nodes' snapshot objects
    in it (a node built from it must not share them)."""
    return unshare(normalized) if current_runtime().preserved else normalized


def finish_root(node: Node, env: Mapping[str, Any] | None) -> None:
    """Finish the new tree just built under ``node``: its safe references to identifiers
    not in it dropped, ``env`` set, and the after_create hooks of its nodes run."""
    tree = node._tree
    tree.fresh = False
    if tree.safe_refs:
        drop_dangling_at_creation(tree)
    if env is not None:
        tree.env = env
    run_created_hooks(tree.rt)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# Union member labels start with this so they can be left out of error paths.
LABEL = "\x00"


class Type:
    """Base of every mstlite type.

    Public API: ``name``, ``create``, ``is_``, ``validate``, ``json_schema``.
    The rest is the contract between types and nodes.
    """

    #: Whether values of this type can be nodes (models, arrays, maps, ...).
    is_complex = False
    #: Whether the stored (snapshot) form must be converted when read.
    needs_read = False
    #: Whether this is the identifier type (a model's identifier property).
    is_identifier = False
    #: The identifier property of the nodes of this type (models only).
    identifier_attribute: str | None = None
    #: The Python type whose values ``to_stored`` returns as they are, unchecked
    #: (primitives): writes of one skip the call.
    stored_as_is: type | None = None

    def __init__(self, name: str) -> None:
        self.name = name
        self._validator: SchemaValidator | None = None

    def __repr__(self) -> str:
        return f"<mstlite type {self.name}>"

    # ------------------------------------------------------------- public API
    def create(self, snapshot: Any = None, *, env: Mapping[str, Any] | None = None) -> Any:
        """Validate ``snapshot`` and build a value (a new tree for complex types).

        Raises ``ValidationError`` listing every problem; nothing is built then.
        """
        if snapshot is None and self.default_snapshot() is not MISSING:
            snapshot = self.default_snapshot()
        normalized = self.normalize(snapshot)
        return build_normalized(self, normalized, env)

    def create_from_normalized(self, normalized: Any, env: Mapping[str, Any] | None) -> Any:
        """Build a value from a snapshot ``normalize`` returned (for leaves: the value read)."""
        return self.read(normalized)

    def is_(self, value: Any) -> bool:
        """True when ``value`` is a valid snapshot of this type, or a node of it."""
        if isinstance(value, Node):
            return self.accepts_node(value)
        return not self.validate(value)

    def validate(self, snapshot: Any) -> list[dict[str, Any]]:
        """List the problems of ``snapshot`` (each with ``path`` and ``message``); [] if valid."""
        try:
            self.normalize(snapshot)
        except ValidationError as error:
            return error.errors
        return []

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of this type's snapshots, made by pydantic."""
        return _JsonSchemaGenerator().generate(self.full_schema())

    # ---------------------------------------------------------- validation
    def build_schema(self, defs: dict[str, CoreSchema]) -> CoreSchema:
        """The pydantic-core schema of this type's snapshots; named schemas go into ``defs``.

        Every concrete type overrides it (``NotImplementedError`` here).
        """
        raise NotImplementedError

    def full_schema(self) -> CoreSchema:
        """The schema of this type with the named definitions it refers to (recursive models)."""
        defs: dict[str, CoreSchema] = {}
        schema = self.build_schema(defs)
        if defs:
            return cs.definitions_schema(schema, list(defs.values()))
        return schema

    @property
    def validator(self) -> SchemaValidator:
        """The compiled validator of ``full_schema``, built on first use and kept."""
        validator = self._validator
        if validator is None:
            validator = self._validator = SchemaValidator(self.full_schema())
        return validator

    def normalize(self, snapshot: Any, where: str = "") -> Any:
        """Return the frozen, normalized snapshot, or raise ``ValidationError``."""
        check_nesting(self, snapshot, where)  # before pydantic, which stops at 255 levels
        try:
            return self.validator.validate_python(snapshot)
        except pydantic_core.ValidationError as error:
            raise validation_error(self, error, where) from None

    def default_snapshot(self) -> Any:
        """The snapshot used when none is given (``MISSING`` when one is required)."""
        return MISSING

    def form(self) -> Form:
        """The exact-form test of this type's snapshots (``_types.forms``); NEVER unless a
        type knows that an equal value of the right form is its snapshot exactly."""
        return NEVER

    # ------------------------------------------------------------- the node side
    def accepts_node(self, node: Node) -> bool:
        """Whether the live ``node`` may be stored as a value of this type (never, for leaves)."""
        return False

    def instantiate(self, snapshot: Any, parent: Node | None, key: Any, tree: Tree | None) -> Any:
        """Turn a normalized snapshot into the stored value of a slot (a node, or itself)."""
        return snapshot

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        """Turn an assigned value into the stored value of a slot; raises ValidationError."""
        return self.normalize(value, where(parent, key))

    def reconcile(self, old: Any, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        """Like ``to_stored``, but may update the old node in place and return it."""
        return self.to_stored(value, parent, key, tx)

    def reconcile_normalized(
        self, old: Any, snapshot: Any, parent: Node, key: Any, tx: Transaction
    ) -> Any:
        """Like ``reconcile`` for an already normalized snapshot."""
        return self.instantiate_here(snapshot, parent, key)

    def instantiate_here(self, snapshot: Any, parent: Node, key: Any) -> Any:
        """``instantiate`` at ``parent[key]``, then run the new nodes' after_create hooks."""
        check_room(self, snapshot, parent, key)
        rt = parent._tree.rt
        if rt.preserved:  # as own_copy, with the runtime at hand
            snapshot = unshare(snapshot)
        try:
            return self.instantiate(snapshot, parent, key, parent._tree)
        finally:
            run_created_hooks(rt)

    def read(self, stored: Any, owner: Node | None = None) -> Any:
        """The value users see for a stored value."""
        return stored

    def contains_safe_references(self) -> bool:
        """Whether values of this type hold safe references (their slots need nodes)."""
        return False


class NodeType(Type):
    """A type whose values are nodes (models, arrays, maps): how slots store and reuse them.

    Assigning a node attaches it (one parent); assigning a snapshot builds a new
    node, or, when ``can_reuse`` says the old node is the same thing, applies the
    snapshot to it in place (fine-grained patches, live references kept).
    """

    def accepts_node(self, node: Node) -> bool:
        """Whether ``node`` is of exactly this type (arrays and maps; models accept subclasses)."""
        return node._type is self

    def can_reuse(self, old: Node, snapshot: Any) -> bool:
        """Whether the live node ``old`` may take ``snapshot`` in place."""
        return self.accepts_node(old)

    def create_from_normalized(self, normalized: Any, env: Mapping[str, Any] | None) -> Any:
        """Build a new tree from a normalized snapshot, with ``env``; run its after_create hooks."""
        node = self.instantiate(own_copy(normalized), None, None, None)
        finish_root(node, env)
        return node

    def to_stored(self, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        """Attach an assigned node, or build one from an assigned snapshot, at ``parent[key]``.

        Raises ``ValidationError`` for a node of another type or an invalid snapshot, and
        ``TreeError`` when the node already has a parent (one parent per node).
        """
        if isinstance(value, Node):
            if not self.accepts_node(value):
                raise ValidationError(
                    f"cannot put a {value._type.name} node at {where(parent, key)!r}: "
                    f"expected {self.name}"
                )
            value._attach_check(parent)
            check_room(self, value, parent, key)
            value._attach(parent, key, tx.journal)
            return value
        return self.instantiate_here(self.normalize(value, where(parent, key)), parent, key)

    def reconcile(self, old: Any, value: Any, parent: Node, key: Any, tx: Transaction) -> Any:
        """Store ``value`` at ``parent[key]``, reusing the node ``old`` when it is the same thing.

        The node already in the slot is kept as is; a snapshot is validated first
        (``ValidationError``), then applied in place or built anew.
        """
        if isinstance(value, Node):
            if value is old:
                return old  # the node already in this slot: nothing to do (as in MST)
            return self.to_stored(value, parent, key, tx)
        snapshot = self.normalize(value, where(parent, key))
        return self.reconcile_normalized(old, snapshot, parent, key, tx)

    def reconcile_normalized(
        self, old: Any, snapshot: Any, parent: Node, key: Any, tx: Transaction
    ) -> Any:
        """Apply a normalized snapshot to ``old`` if ``can_reuse(old)``, or build anew."""
        if isinstance(old, Node) and old._alive and self.can_reuse(old, snapshot):
            old._apply_normalized(snapshot, tx)
            return old
        return self.instantiate_here(snapshot, parent, key)


def build_normalized(
    kind: Type, normalized: Any, env: Mapping[str, Any] | None, into: Node | None = None
) -> Any:
    """``kind.create_from_normalized``; an identifier clash raises ``IdentifierClashError``.

    ``into`` is a model instance made by ``Model.__init__`` that becomes the
    root (``kind`` is then its ModelType, which sets it up in place).

    Identifiers can only clash once nodes are built (two alike under one type,
    or a map entry under another key); the snapshot is invalid all the same.
    The half-built nodes are dropped before their ``after_create`` hooks run,
    so nothing was built when this raises.
    """
    rt = current_runtime()
    pending = rt.pending_created
    built = len(pending)
    # Building allocates many objects that all stay alive: the cyclic collector
    # would scan them again and again for nothing (about 2/3 of the time at 100k
    # nodes), so it is paused until the tree is built.
    pause = gc.isenabled()
    if pause:
        gc.disable()
    try:
        if into is None:
            return kind.create_from_normalized(normalized, env)
        return kind.setup_root(into, normalized, env)  # type: ignore[attr-defined]
    except TreeError as error:
        del pending[built:]
        raise IdentifierClashError(str(error), [{"path": "", "message": str(error)}]) from None
    finally:
        if rt.tx is None:
            rt.preserved = False
        if pause:
            gc.enable()


def where(parent: Node, key: Any) -> str:
    """The JSON pointer of slot ``key`` of ``parent``, for error messages."""
    return parent._path() + "/" + escape_json_path(str(key))


def validation_error(
    kind: Type, error: pydantic_core.ValidationError, where: str = ""
) -> ValidationError:
    """Turn pydantic's error into ours: every problem with its JSON-pointer path."""
    problems: list[dict[str, Any]] = []
    for item in error.errors(include_url=False):
        parts = [str(p) for p in item["loc"] if not (isinstance(p, str) and p.startswith(LABEL))]
        labels = [p[1:] for p in item["loc"] if isinstance(p, str) and p.startswith(LABEL)]
        path = where + "".join("/" + escape_json_path(p) for p in parts)
        message = item["msg"]
        if labels:
            message += f" (as {labels[-1]})"
        problems.append(
            {"path": path, "message": message, "type": item["type"], "input": item.get("input")}
        )
    lines = [f"invalid snapshot for {kind.name}: {len(problems)} error(s)"]
    for problem in problems:
        lines.append(
            f"  {problem['path'] or '/'}: {problem['message']} (got {_short(problem['input'])})"
        )
    lines.append("fix the snapshot; nothing was changed")
    return ValidationError("\n".join(lines), problems)


def _short(value: Any) -> str:
    try:
        text = json.dumps(thaw(value))
    except (TypeError, ValueError):
        text = repr(value)
    except RecursionError:  # a value nested too deep to show (any type may be given one)
        text = f"a {type(value).__name__} nested too deep to show"
    return text if len(text) <= 60 else text[:57] + "..."


class _JsonSchemaGenerator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        if isinstance(dft, (FrozenDict, FrozenList)):
            return thaw(dft)
        return super().encode_default(dft)
