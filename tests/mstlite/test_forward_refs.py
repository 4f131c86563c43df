"""Forward references resolve where the model is defined, never to a same-named class elsewhere."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from mstlite import Model, get_snapshot


def _module(tmp_path: Path, name: str, source: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


def test_two_modules_each_defining_item_each_get_their_own(tmp_path: Path) -> None:
    first = _module(
        tmp_path,
        "mst_forward_first",
        """
        from mstlite import Model

        class Box(Model):
            items: list["Item"] = []

        class Item(Model):
            a: int = 0
        """,
    )
    second = _module(
        tmp_path,
        "mst_forward_second",
        """
        from mstlite import Model

        class Box(Model):
            items: list["Item"] = []

        class Item(Model):
            b: str = ""
        """,
    )
    box = first.Box.create({"items": [{"a": 1}]})
    assert type(box.items[0]) is first.Item
    other = second.Box.create({"items": [{"b": "x"}]})
    assert type(other.items[0]) is second.Item
    assert get_snapshot(box) == {"items": [{"a": 1}]}


def test_models_defined_in_functions_resolve_in_their_own_scope(tmp_path: Path) -> None:
    source = """
        from mstlite import Model

        def build():
            class Box(Model):
                items: list["Item"] = []

            class Item(Model):
                {field}

            return Box, Item
        """
    first = _module(tmp_path, "mst_forward_local_a", source.replace("{field}", "a: int = 0"))
    second = _module(tmp_path, "mst_forward_local_b", source.replace("{field}", 'b: str = ""'))
    box_a, item_a = first.build()
    box_b, item_b = second.build()  # defined last, in another module
    assert type(box_a.create({"items": [{"a": 1}]}).items[0]) is item_a
    assert type(box_b.create({"items": [{"b": "x"}]}).items[0]) is item_b


def test_a_quoted_union_works_under_future_annotations(tmp_path: Path) -> None:
    module = _module(
        tmp_path,
        "mst_forward_union",
        """
        from __future__ import annotations

        from mstlite import Model

        class Parent(Model):
            child: "Fwd | None" = None
            kids: "list[Fwd]" = []

        class Fwd(Model):
            n: int = 0
        """,
    )
    parent = module.Parent.create({"child": {"n": 2}, "kids": [{"n": 3}]})
    assert type(parent.child) is module.Fwd and parent.child.n == 2
    assert module.Parent.create().child is None


def test_a_missing_name_raises_naming_the_candidates_elsewhere(tmp_path: Path) -> None:
    elsewhere = _module(
        tmp_path,
        "mst_forward_elsewhere",
        """
        from mstlite import Model

        class Elsewhere(Model):
            n: int = 0
        """,
    )

    class Lost(Model):
        other: Elsewhere | None = None  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError) as info:
        Lost.create()
    message = str(info.value)
    assert "'Elsewhere'" in message
    assert "mst_forward_elsewhere.Elsewhere" in message
    assert elsewhere.Elsewhere.create().n == 0


def test_an_ambiguous_name_raises_naming_both() -> None:
    class User(Model):
        twin: Twin | None = None  # type: ignore[name-defined]

    class Twin(Model):  # type: ignore[no-redef]
        a: int = 0

    first = Twin

    class Twin(Model):  # type: ignore[no-redef]
        b: int = 0

    with pytest.raises(TypeError, match="ambiguous") as info:
        User.create()
    assert str(info.value).count("Twin") >= 3
    assert first is not Twin
