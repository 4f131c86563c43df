"""A griffe extension for the API reference: doctest examples become code blocks.

Docstrings here hold bare doctest examples (``>>> call()`` and the output
below it), which Markdown would render as nested block quotes. This wraps each
run of them, up to the next blank line, in a ``pycon`` fence when the
reference is built; the source stays plain doctest.
"""

from __future__ import annotations

from typing import Any

import griffe

__all__ = ["DoctestFences", "fence_doctests"]


def fence_doctests(text: str) -> str:
    """``text`` with every bare doctest example wrapped in a ```pycon fence."""
    lines = text.split("\n")
    result: list[str] = []
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not stripped.startswith(">>>"):
            result.append(line)
            index += 1
            continue
        indent = line[: len(line) - len(stripped)]
        result.append(f"{indent}```pycon")
        while index < len(lines) and lines[index].strip():
            result.append(lines[index])
            index += 1
        result.append(f"{indent}```")
    return "\n".join(result)


class DoctestFences(griffe.Extension):
    """Fence the doctest examples of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has doctest examples."""
        docstring = obj.docstring
        if docstring is not None and ">>>" in docstring.value:
            docstring.value = fence_doctests(docstring.value)
