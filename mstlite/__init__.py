"""mstlite: a small MobX-State-Tree-style state core for Python.

Typed model trees, actions as transactions, computed views, reactions,
immutable structurally shared snapshots, JSON patches with inverses,
middleware, async actions (flows), undo and reactivex observables.

The submodules ``mstlite.rx``, ``mstlite.patch``, ``mstlite.undo`` and
``mstlite.typing`` are attributes of the package too (``mstlite.rx.observe``),
imported on first use, so ``import mstlite`` does not import reactivex.
"""

from __future__ import annotations

import typing as _typing
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from mstlite import types
from mstlite._api.action_log import apply_action, on_action, record_actions
from mstlite._api.actions import action
from mstlite._api.middleware import ActionContext, add_middleware
from mstlite._api.patching import (
    PatchRecorder,
    apply_patch,
    apply_snapshot,
    on_patch,
    record_patches,
)
from mstlite._api.tree import (
    add_disposer,
    adopt,
    clone,
    destroy,
    detach,
    escape_json_path,
    get_env,
    get_identifier,
    get_parent,
    get_parent_of_type,
    get_path,
    get_path_parts,
    get_root,
    get_snapshot,
    get_type,
    has_parent,
    is_alive,
    is_protected,
    is_root,
    is_state_tree_node,
    on_snapshot,
    protect,
    resolve_identifier,
    resolve_path,
    try_resolve,
    typecheck,
    unescape_json_path,
    unprotect,
    walk,
)
from mstlite._engine.reactions import autorun, reaction, when
from mstlite._engine.reactivity import untracked
from mstlite._node.liveliness import get_liveliness_checking, set_liveliness_checking
from mstlite._types.annotations import Frozen, Identifier, Ref, SafeRef, refine
from mstlite._types.array import ArrayNode
from mstlite._types.declare import Model
from mstlite._types.map import MapNode
from mstlite._types.props import computed, volatile
from mstlite._types.snapshot_types import check_snapshot_types, snapshot_types
from mstlite.errors import (
    DeadNodeError,
    InvalidReferenceError,
    LivelinessWarning,
    MstError,
    PatchError,
    ProtectionError,
    ThreadError,
    TreeError,
    ValidationError,
)

if _typing.TYPE_CHECKING:
    from types import ModuleType

    # What __getattr__ below returns, spelled so type checkers see the attributes.
    from mstlite import patch as patch
    from mstlite import rx as rx
    from mstlite import typing as typing
    from mstlite import undo as undo

__all__ = [
    "ActionContext",
    "ArrayNode",
    "DeadNodeError",
    "Frozen",
    "Identifier",
    "InvalidReferenceError",
    "LivelinessWarning",
    "MapNode",
    "Model",
    "MstError",
    "PatchError",
    "PatchRecorder",
    "ProtectionError",
    "Ref",
    "SafeRef",
    "ThreadError",
    "TreeError",
    "ValidationError",
    "action",
    "add_disposer",
    "add_middleware",
    "adopt",
    "apply_action",
    "apply_patch",
    "apply_snapshot",
    "autorun",
    "check_snapshot_types",
    "clone",
    "computed",
    "destroy",
    "detach",
    "escape_json_path",
    "get_env",
    "get_identifier",
    "get_liveliness_checking",
    "get_parent",
    "get_parent_of_type",
    "get_path",
    "get_path_parts",
    "get_root",
    "get_snapshot",
    "get_type",
    "has_parent",
    "is_alive",
    "is_protected",
    "is_root",
    "is_state_tree_node",
    "on_action",
    "on_patch",
    "on_snapshot",
    "protect",
    "reaction",
    "record_actions",
    "record_patches",
    "refine",
    "resolve_identifier",
    "resolve_path",
    "set_liveliness_checking",
    "snapshot_types",
    "try_resolve",
    "typecheck",
    "types",
    "unescape_json_path",
    "unprotect",
    "untracked",
    "volatile",
    "walk",
    "when",
]

try:
    __version__: str = _version("mstlite")
except _PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

# Loaded on first attribute access rather than here: rx imports reactivex, which
# a program that never observes should not pay for. They stay out of __all__ so
# that ``from mstlite import *`` does not import them either.
_LAZY_SUBMODULES = frozenset({"patch", "rx", "typing", "undo"})


if not _typing.TYPE_CHECKING:
    # Hidden from type checkers: a visible module __getattr__ would make every
    # misspelled name (mstlite.obsreve) type-check; they see the imports above.

    def __getattr__(name: str) -> ModuleType:
        """Import ``mstlite.rx``, ``.patch``, ``.undo`` or ``.typing`` on first access."""
        if name in _LAZY_SUBMODULES:
            import importlib

            # import_module also binds the submodule on the package, so this runs once.
            return importlib.import_module(f"{__name__}.{name}")
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names, the lazily imported submodules included."""
    return sorted({*globals(), *_LAZY_SUBMODULES})
