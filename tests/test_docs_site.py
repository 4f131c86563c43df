"""The documentation site's sources (mkdocs.yml, docs/) without building it.

``mkdocs build --strict`` (in .ci/run) renders the reference; these fast
checks make sure it covers every public name, by its public path only (the
private modules behind them move), and that every page is in the navigation.
"""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCED_MODULES = [
    "mstlite",
    "mstlite.types",
    "mstlite.patch",
    "mstlite.rx",
    "mstlite.undo",
    "mstlite.typing",
    "llmstore",
]
_DIRECTIVE = re.compile(r"^::: (\S+)\s*$", re.M)
_MEMBERS = re.compile(r"^\s+members:\s*\[([^\]]*)\]", re.M)


def _directives() -> dict[str, list[str] | None]:
    """Each ``::: target`` of the reference pages, with its ``members`` list if given."""
    found: dict[str, list[str] | None] = {}
    for page in sorted((DOCS / "reference").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        blocks = _DIRECTIVE.split(text)
        for target, options in zip(blocks[1::2], blocks[2::2], strict=True):
            members = _MEMBERS.search(options.split("\n\n")[0])
            found[target] = (
                None if members is None else [m.strip() for m in members.group(1).split(",")]
            )
    return found


@pytest.mark.parametrize("module_name", REFERENCED_MODULES)
def test_reference_documents_every_public_name(module_name: str) -> None:
    module = importlib.import_module(module_name)
    directives = _directives()

    def covered(name: str) -> bool:
        if f"{module_name}.{name}" in directives:
            return True
        if module_name not in directives:
            return False
        members = directives[module_name]  # the whole module, or the members listed
        return members is None or name in members

    missing = [
        name
        for name in module.__all__
        if not isinstance(getattr(module, name), types.ModuleType) and not covered(name)
    ]
    assert not missing, f"docs/reference lacks {module_name}: {missing}"


def test_reference_uses_public_paths_only() -> None:
    for target in _directives():
        assert not any(part.startswith("_") for part in target.split(".")), (
            f"{target}: document the public name, not the private module path (it moves)"
        )
        module_name, _, name = target.rpartition(".")
        try:
            importlib.import_module(target)
        except ImportError:
            assert hasattr(importlib.import_module(module_name), name), target


def test_every_page_is_in_the_navigation_and_exists() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = config[config.index("\nnav:") :]
    in_nav = set(re.findall(r":\s*(\S+\.md)\s*$", nav, re.M))
    pages = {str(path.relative_to(DOCS)) for path in DOCS.glob("**/*.md")}
    assert in_nav == pages


def test_guide_has_the_pages_of_issue_13() -> None:
    expected = {
        "models-and-types",
        "actions-and-transactions",
        "snapshots-and-patches",
        "reactivity-and-rx",
        "async-actions",
        "middleware-and-undo",
        "threads",
        "differences-from-mst",
        "llmstore-library",
        "cli",
    }
    assert {path.stem for path in (DOCS / "guide").glob("*.md")} == expected


def test_doctest_examples_are_fenced_for_markdown() -> None:
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    import sys

    sys.path.insert(0, str(DOCS))
    try:
        from griffe_doctest_fences import fence_doctests
    finally:
        sys.path.remove(str(DOCS))
    text = "Escape.\n\n    >>> f('a')\n    'b'\n\n```python\n>>> kept\n```\nend"
    assert fence_doctests(text) == (
        "Escape.\n\n    ```pycon\n    >>> f('a')\n    'b'\n    ```\n\n```python\n>>> kept\n```\nend"
    )
