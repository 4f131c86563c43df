"""``mstlite.__all__`` lists exactly the public names of the package (as httpx tests it)."""

from __future__ import annotations

import types

import mstlite
import mstlite.errors


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a user can import from ``module``.

    Submodules are left out (importing ``mstlite.rx`` makes ``rx`` an attribute of
    the package as a side effect), and so is ``from __future__ import annotations``.
    """
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__module__ != "__future__"
    }


def test_all_public_names_are_exported() -> None:
    exported = set(mstlite.__all__)
    assert len(exported) == len(mstlite.__all__), "duplicates in __all__"
    assert exported - {"types"} == _public_names(mstlite)


def test_all_is_sorted() -> None:
    assert mstlite.__all__ == sorted(mstlite.__all__)


def test_every_exported_name_exists() -> None:
    for name in mstlite.__all__:
        assert getattr(mstlite, name) is not None, name
    assert mstlite.types is __import__("mstlite.types").types
    assert isinstance(mstlite.types, types.ModuleType)


def test_contract_names_are_exported() -> None:
    """The tree functions and errors named by the design contract."""
    contract = [
        "get_snapshot",
        "apply_snapshot",
        "on_snapshot",
        "on_patch",
        "apply_patch",
        "record_patches",
        "on_action",
        "apply_action",
        "record_actions",
        "get_parent",
        "get_parent_of_type",
        "has_parent",
        "get_root",
        "is_root",
        "get_path",
        "get_path_parts",
        "resolve_path",
        "try_resolve",
        "resolve_identifier",
        "get_identifier",
        "get_env",
        "get_type",
        "is_alive",
        "is_state_tree_node",
        "destroy",
        "detach",
        "clone",
        "protect",
        "unprotect",
        "is_protected",
        "add_middleware",
        "add_disposer",
        "walk",
        "typecheck",
        "escape_json_path",
        "unescape_json_path",
        "Model",
        "Identifier",
        "Ref",
        "SafeRef",
        "Frozen",
        "refine",
        "action",
        "computed",
        "volatile",
        "reaction",
        "autorun",
        "when",
        "types",
        "MstError",
        "ValidationError",
        "ProtectionError",
        "PatchError",
        "InvalidReferenceError",
        "DeadNodeError",
        "TreeError",
        "ThreadError",
        "adopt",
        # issue 13: liveliness checking and per-model snapshot types.
        "LivelinessWarning",
        "set_liveliness_checking",
        "get_liveliness_checking",
        "snapshot_types",
        "check_snapshot_types",
    ]
    assert set(contract) <= set(mstlite.__all__)


def test_errors_module_exports_match_package() -> None:
    defined_here = {
        name
        for name, value in vars(mstlite.errors).items()
        if isinstance(value, type) and value.__module__ == mstlite.errors.__name__
    }
    assert defined_here == set(mstlite.errors.__all__)
    for name in mstlite.errors.__all__:
        assert getattr(mstlite, name) is getattr(mstlite.errors, name)
    for name in set(mstlite.errors.__all__) - {"LivelinessWarning"}:
        error = getattr(mstlite.errors, name)
        assert issubclass(error, mstlite.MstError)
    # A warning category, not an error: warnings.simplefilter can select it.
    assert issubclass(mstlite.LivelinessWarning, UserWarning)
    assert issubclass(mstlite.ValidationError, ValueError)
