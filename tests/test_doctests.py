"""The doctest examples in public docstrings hold (the API reference shows them)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import types

import pytest
from test_docstrings import PUBLIC_MODULES  # the same list of public modules


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    found: dict[str, doctest.DocTest] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for test in finder.find(module, module_name, module=module):
            found.setdefault(test.name, test)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, types.ModuleType) or not (
                inspect.isfunction(value) or inspect.isclass(value)
            ):
                continue
            globs = dict(vars(module))  # as a reader of the reference would have it
            for test in finder.find(value, f"{module_name}.{name}", globs=globs):
                found.setdefault(test.name, test)
    return [test for test in found.values() if test.examples]


EXAMPLES = _examples()


def test_public_docstrings_have_examples_to_check() -> None:
    assert len(EXAMPLES) >= 4


@pytest.mark.parametrize("test", EXAMPLES, ids=lambda test: test.name)
def test_docstring_examples_hold(test: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    output: list[str] = []
    runner.run(test, out=output.append)
    assert runner.failures == 0, "".join(output)
