"""The schema of the differential test, declared for mstlite (mst_runner.js declares MST's twin).

Every kind the issue names is here: scalars, ``X | None``, defaults, a literal,
nested models (a required child with a default, an optional identified one),
arrays of scalars, of identified and of unidentified models, maps of scalars,
of identified and of unidentified models, a reference, a safe reference, an array of safe
references and a frozen value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from mstlite import Identifier, Model, Ref, SafeRef, action


class Item(Model):
    """An identified model: lives in ``owner``, ``items`` and ``imap``."""

    id: Identifier
    name: str = ""
    n: int = 0


class Pair(Model):
    """A model without an identifier: the values of ``pmap`` and the items of ``plist``."""

    a: str = ""
    b: float = 0


class Child(Model):
    """A required nested model with a default snapshot."""

    label: str = "c"
    k: int = 0


class Root(Model):
    """The root of every script's tree."""

    s: str = ""
    i: int = 0
    f: float = 0
    b: bool = False
    ms: str | None = None
    lit: Literal["x", "y"] = "x"
    child: Child = {}  # type: ignore[assignment]
    owner: Item | None = None
    items: list[Item] = []
    tags: list[str] = []
    smap: dict[str, str] = {}
    imap: dict[str, Item] = {}
    pmap: dict[str, Pair] = {}
    ref: Ref[Item] | None = None
    sref: SafeRef[Item] | None = None
    srefs: list[SafeRef[Item]] = []
    fz: Any = None
    plist: list[Pair] = []

    @action
    def batch(self, run: Callable[[], Any]) -> Any:
        """Run ``run()`` as one action: a step of several ops."""
        return run()


#: What the generator knows of the schema: each property's kind.
ROOT_PROPS: dict[str, str] = {
    "s": "str",
    "i": "int",
    "f": "float",
    "b": "bool",
    "ms": "maybe_str",
    "lit": "lit",
    "child": "child",
    "owner": "maybe_item",
    "items": "items",
    "tags": "tags",
    "smap": "smap",
    "imap": "imap",
    "pmap": "pmap",
    "ref": "ref",
    "sref": "sref",
    "srefs": "srefs",
    "fz": "frozen",
}
#: Generated from a stream of its own (generator.py), so the other props' scripts stay as they were.
PLIST_PROP = "plist"
ITEM_PROPS: dict[str, str] = {"id": "id", "name": "str", "n": "int"}
PAIR_PROPS: dict[str, str] = {"a": "str", "b": "float"}
CHILD_PROPS: dict[str, str] = {"label": "str", "k": "int"}
