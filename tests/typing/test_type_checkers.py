"""mypy --strict and pyright (strict) on the example files of tests/typing.

- ``readme_examples.py``: the README's examples, ``assert_type`` on what is
  inferred; must be clean.
- ``mistakes.py``: every statement is a mistake both checkers must flag; each
  carries its expected-error comments, and an expected error that no longer
  occurs is itself an error (mypy ``warn_unused_ignores``, pyright
  ``reportUnnecessaryTypeIgnoreComment``).
- ``known_limits.py``: what the checkers cannot see (a snapshot dict where a
  model instance is typed; models without declared snapshot types), pinned so
  that a change in either checker shows.

pyright comes with the dev extra (it runs on Node); where it cannot run its
test is skipped with the reason, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLES = sorted(path for path in HERE.glob("*.py") if not path.name.startswith("test_"))


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_example_files_are_there() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"readme_examples.py", "mistakes.py", "known_limits.py"} <= names


# A cold run (no .mypy_cache, pyright starting Node) can pass the suite's 120 s on a busy machine.
@pytest.mark.timeout(600)
def test_mypy_strict_passes_positives_and_flags_every_mistake() -> None:
    command = [sys.executable, "-m", "mypy", "--strict", "--config-file", "pyproject.toml"]
    result = _run([*command, *(str(path) for path in EXAMPLES)])
    assert result.returncode == 0, result.stdout + result.stderr


def _pyright_unavailable() -> str | None:
    if importlib.util.find_spec("pyright") is None:
        return "pyright is not installed (pip install -e '.[dev]' brings it)"
    probe = _run([sys.executable, "-m", "pyright", "--version"])
    if probe.returncode != 0:
        return f"pyright cannot run here (it needs Node and its npm package): {probe.stderr.strip()}"
    return None


@pytest.mark.timeout(600)
def test_pyright_strict_passes_positives_and_flags_every_mistake() -> None:
    reason = _pyright_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run pyright: {reason}")
        pytest.skip(reason)
    command = [
        sys.executable,
        "-m",
        "pyright",
        "--project",
        str(HERE / "pyrightconfig.json"),
        "--pythonpath",
        sys.executable,
    ]
    result = _run([*command, *(str(path) for path in EXAMPLES)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout, result.stdout


def _comment_lines(path: Path) -> dict[int, str]:
    with path.open(encoding="utf-8") as source:
        return {
            token.start[0]: token.string
            for token in tokenize.generate_tokens(source.readline)
            if token.type == tokenize.COMMENT
        }


def test_every_mistake_carries_both_checkers_expected_errors() -> None:
    """Without this, a mistake written with no comment and caught by neither checker
    would pass unnoticed."""
    path = HERE / "mistakes.py"
    comments = _comment_lines(path)
    function = next(
        node
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name == "mistakes"
    )
    assert len(function.body) >= 10
    for statement in function.body:
        comment = comments.get(statement.end_lineno or statement.lineno, "")
        assert "# type: ignore[" in comment, f"mistakes.py:{statement.lineno} lacks mypy's code"
        assert "# pyright: ignore[" in comment, f"mistakes.py:{statement.lineno} lacks pyright's rule"
