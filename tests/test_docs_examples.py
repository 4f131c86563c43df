"""The Python examples of README.md and of the guide (docs/*.md) run as written.

Each file's ```python blocks run in order in one namespace, as a reader types
them into one session. A block preceded by ``<!-- not-run -->`` or
``<!-- not-run: reason -->`` (it needs a network or is a fragment) is skipped;
keep those few. Within a block every
top-level statement runs on its own, and its trailing comment is checked
when it states a result:

- ``# SomeError: text ... more`` expects that exception, its message holding
  the fragments around ``...`` in order;
- ``# <a Python literal>`` expects the statement to print that value (the
  last line it prints) or, when it prints nothing, to evaluate to it.

Any other comment is prose and is not checked.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import llmstore
import mstlite
import mstlite.errors

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = "<!-- not-run"  # the marker may carry a reason: <!-- not-run: why -->
_FENCE_OPEN = re.compile(r"^```python\s*$")
_EXPECTED_ERROR = re.compile(r"^([A-Z]\w*(?:Error|Exception)):\s*(.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it starts (1-based line of its first code line)."""

    path: Path
    line: int
    code: str
    run: bool


def python_blocks(path: Path) -> list[Block]:
    """The ```python blocks of a Markdown file, each marked run or not-run."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    previous = ""
    while index < len(lines):
        line = lines[index]
        if _FENCE_OPEN.match(line):
            start = index + 1
            end = start
            while not lines[end].startswith("```"):
                end += 1
            code = "\n".join(lines[start:end]) + "\n"
            blocks.append(Block(path, start + 1, code, not previous.strip().startswith(NOT_RUN)))
            index = end + 1
            previous = ""
            continue
        if line.strip():
            previous = line
        index += 1
    return blocks


def _comments_by_line(code: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return {
        token.start[0]: token.string[1:].strip()
        for token in tokens
        if token.type == tokenize.COMMENT
    }


def _resolve_exception(name: str, namespace: dict[str, Any]) -> type[BaseException]:
    for source in (namespace, vars(mstlite.errors), vars(mstlite), vars(llmstore), vars(builtins)):
        found = source.get(name)
        if isinstance(found, type) and issubclass(found, BaseException):
            return found
    raise AssertionError(f"the example expects {name}, which is not an exception class here")


def _check_message(message: str, expected: str, where: str) -> None:
    position = 0
    for fragment in (part.strip() for part in expected.split("...")):
        found = message.find(fragment, position)
        assert found >= 0, f"{where}: {message!r} lacks {fragment!r} (expected {expected!r})"
        position = found + len(fragment)


def _literal(comment: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(comment)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def run_block(block: Block, namespace: dict[str, Any]) -> None:
    """Run ``block`` statement by statement in ``namespace``, checking stated results."""
    tree = ast.parse(block.code, filename=str(block.path))
    ast.increment_lineno(tree, block.line - 1)
    comments = {
        line + block.line - 1: text for line, text in _comments_by_line(block.code).items()
    }
    simple = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)
    for statement in tree.body:
        end = statement.end_lineno or statement.lineno
        where = f"{block.path.name}:{statement.lineno}"
        comment = comments.get(end, "") if isinstance(statement, simple) else ""
        error = _EXPECTED_ERROR.match(comment)
        if error:
            expected_type = _resolve_exception(error.group(1), namespace)
            with pytest.raises(expected_type) as raised:
                _execute(statement, namespace, where)
            _check_message(str(raised.value), error.group(2), where)
            continue
        printed, value = _execute(statement, namespace, where)
        is_literal, expected = _literal(comment) if comment else (False, None)
        if not is_literal:
            continue
        if printed:
            last = printed.splitlines()[-1]
            shown_ok, shown = _literal(last)
            assert shown_ok and shown == expected, f"{where}: printed {last!r}, not {comment!r}"
        else:
            assert value == expected, f"{where}: gave {value!r}, not {comment!r}"


def _execute(statement: ast.stmt, namespace: dict[str, Any], where: str) -> tuple[str, Any]:
    """Run one statement; return what it printed and, for an expression, its value."""
    output = io.StringIO()
    value: Any = None
    with contextlib.redirect_stdout(output):
        if isinstance(statement, ast.Expr):
            code = compile(ast.Expression(statement.value), where, "eval")
            value = eval(code, namespace)
        else:
            module = ast.Module(body=[statement], type_ignores=[])
            exec(compile(module, where, "exec"), namespace)
    return output.getvalue(), value


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_python_examples_run_as_written(path: Path) -> None:
    namespace: dict[str, Any] = {"__name__": f"example_{path.stem}"}
    for block in python_blocks(path):
        if block.run:
            run_block(block, namespace)


def test_readme_examples_are_found_and_few_are_not_run() -> None:
    blocks = python_blocks(ROOT / "README.md")
    assert sum(block.run for block in blocks) >= 1
    assert sum(not block.run for block in blocks) <= 2


def test_checker_catches_a_wrong_stated_result(tmp_path: Path) -> None:
    """The runner itself: a comment that misstates a value, an error or a message fails."""
    for code in (
        "1 + 1  # 3\n",
        "print({'a': 1})  # {'a': 2}\n",
        "int('x')  # KeyError: anything\n",
        "int('x')  # ValueError: invalid literal ... base 16\n",
        "1 + 1  # ValueError: expected but not raised\n",
    ):
        block = Block(tmp_path / "example.md", 1, code, run=True)
        with pytest.raises((AssertionError, pytest.fail.Exception, ValueError)):
            run_block(block, {})
    ok = Block(tmp_path / "example.md", 1, "int('x')  # ValueError: invalid ... 'x'\n", run=True)
    run_block(ok, {})
