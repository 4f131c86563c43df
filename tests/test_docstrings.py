"""Every public name has a docstring: each name in a public module's ``__all__``,
and each public method and property of a public class.

What counts is what the API reference (mkdocs + mkdocstrings, which reads the
source through griffe) renders: a function's or class's own docstring, and for
a module-level value the string literal right after its assignment (a ``#:``
comment is not rendered, so it does not count). A new public name without one
fails here, before the docs site is built.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import inspect
import types
from functools import cache
from pathlib import Path
from typing import Any

import pytest

PUBLIC_MODULES = [
    "mstlite",
    "mstlite.errors",
    "mstlite.patch",
    "mstlite.rx",
    "mstlite.types",
    "mstlite.typing",
    "mstlite.undo",
    "llmstore",
    "llmstore.actions.initialize",
    "llmstore.actions.model_management",
    "llmstore.catalog",
    "llmstore.cli",
    "llmstore.errors",
    "llmstore.progress",
    "llmstore.store",
    "llmstore.testing",
    "llmstore.types",
    "llmstore.views",
]
OUR_PACKAGES = ("mstlite", "llmstore")

# Public names allowed to lack a docstring: none. Keys would be public names for
# module-level values and ``DefiningClass.method`` for methods; the test also
# fails when an entry here gains a docstring, so the list can only shrink.
KNOWN_MISSING: frozenset[str] = frozenset()


def _has_text(doc: object) -> bool:
    return isinstance(doc, str) and bool(doc.strip())


def _own_class_doc(cls: type) -> bool:
    doc = vars(cls).get("__doc__")
    generated = isinstance(doc, str) and doc.startswith(cls.__name__ + "(")
    if dataclasses.is_dataclass(cls) and generated:
        return False  # the signature dataclasses writes when the class has no docstring
    return _has_text(doc)


@cache
def _module_tree(module_name: str) -> ast.Module | None:
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return ast.parse(Path(spec.origin).read_text(encoding="utf-8"))


def _value_docstring(module_name: str, name: str, depth: int = 0) -> bool:
    """Whether ``name``, assigned at module level in ``module_name`` or in the module
    it is imported from, is followed by a string literal (its attribute docstring)."""
    tree = _module_tree(module_name)
    if tree is None or depth > 5:
        return False
    body = tree.body
    for index, statement in enumerate(body):
        targets: list[ast.expr] = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            following = body[index + 1] if index + 1 < len(body) else None
            return (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and _has_text(following.value.value)
            )
        if isinstance(statement, ast.ImportFrom) and statement.module:
            for alias in statement.names:
                if (alias.asname or alias.name) == name:
                    return _value_docstring(statement.module, alias.name, depth + 1)
    return False


def _public_members(cls: type) -> list[tuple[str, str, Any]]:
    """(defining class name, member name, object) of each public method and property
    defined by ``cls`` or by a base class of ours."""
    members = []
    ours = {*OUR_PACKAGES, cls.__module__.split(".")[0]}
    for owner in cls.__mro__:
        if owner.__module__.split(".")[0] not in ours:
            continue
        for member_name, member in vars(owner).items():
            if member_name.startswith("_"):
                continue
            if isinstance(member, property):
                members.append((owner.__qualname__, member_name, member.fget))
            elif isinstance(member, (classmethod, staticmethod)):
                members.append((owner.__qualname__, member_name, member.__func__))
            elif inspect.isfunction(member):
                members.append((owner.__qualname__, member_name, member))
    return members


def missing_docstrings(module_names: list[str] = PUBLIC_MODULES) -> set[str]:
    """Every public name of ``module_names`` that the reference would show undocumented."""
    missing: set[str] = set()
    for module_name in module_names:
        module = importlib.import_module(module_name)
        if not _has_text(module.__doc__):
            missing.add(module_name)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, types.ModuleType):
                continue
            if isinstance(value, type):
                # A class made by a call (a functional TypedDict) has its docstring as a value.
                if not (_own_class_doc(value) or _value_docstring(module_name, name)):
                    missing.add(f"{module_name}.{name}")
                for owner, member_name, member in _public_members(value):
                    if not _has_text(getattr(member, "__doc__", None)):
                        missing.add(f"{owner}.{member_name}")
            elif callable(value) and not hasattr(value, "__origin__"):
                if not _has_text(getattr(value, "__doc__", None)):
                    missing.add(f"{module_name}.{name}")
            elif not _value_docstring(module_name, name):
                missing.add(f"{module_name}.{name}")
    # A name re-exported by a package is reported under the module that defines it.
    return {entry for entry in missing if not _reported_twice(entry, missing)}


def _reported_twice(entry: str, missing: set[str]) -> bool:
    head, _, name = entry.rpartition(".")
    return head in OUR_PACKAGES and any(
        other != entry and other.endswith("." + name) and other.startswith(head + ".")
        for other in missing
    )


def test_every_public_name_has_a_docstring() -> None:
    missing = missing_docstrings()
    undocumented = sorted(missing - KNOWN_MISSING)
    assert not undocumented, (
        "public names without a docstring (say what it does and when it raises): "
        + ", ".join(undocumented)
    )


def test_an_undocumented_function_method_property_or_value_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "docless_example.py").write_text(
        '''"""A module."""
import dataclasses

__all__ = ["Documented", "Plain", "Record", "RATE", "SIZE", "bare", "told"]

RATE = 2
SIZE = 3
"""Documented value."""


def bare() -> None:
    pass


def told() -> None:
    """Documented."""


class Documented:
    """Documented class."""

    def method(self) -> None:
        pass

    @property
    def prop(self) -> int:
        return 1

    def _private(self) -> None:
        pass


class Plain:
    pass


@dataclasses.dataclass
class Record:
    field: int = 0
''',
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert missing_docstrings(["docless_example"]) == {
        "docless_example.RATE",
        "docless_example.bare",
        "docless_example.Plain",
        "docless_example.Record",
        "Documented.method",
        "Documented.prop",
    }


def test_known_missing_list_only_names_still_missing_docstrings() -> None:
    fixed = sorted(KNOWN_MISSING - missing_docstrings())
    assert not fixed, f"these have docstrings now: remove them from KNOWN_MISSING: {fixed}"


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_module_declares_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert isinstance(getattr(module, "__all__", None), list), module_name
