"""Fuzzed inputs: arbitrary JSON snapshots and patches, arbitrary bytes as state and catalog.

Properties: a bad snapshot raises ``ValidationError`` and builds nothing; a bad
patch list raises ``PatchError`` or ``ValidationError`` and changes nothing
(the snapshot is the very same object, no listener hears a thing); any bytes
as the state file let the store start, with a warning and the file moved
aside; any bytes or JSON as a catalog give specs inside the models dir or a
``CatalogError``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import math
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from llmstore import CatalogError, ModelStatus, create_llm_store_default_model, load_catalog
from llmstore.catalog import ModelSpec, catalog_from_data
from llmstore.store import STATE_FILE_NAME
from mstlite import (
    Frozen,
    Identifier,
    Model,
    PatchError,
    Ref,
    ValidationError,
    apply_patch,
    apply_snapshot,
    get_snapshot,
    on_snapshot,
    record_patches,
    refine,
    typecheck,
    types,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
SLOW_SETTINGS = settings(SETTINGS, max_examples=40)

#: every node built, by after_create: a rejected snapshot must build none
CREATED: list[Model] = []


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Item(Model):
    id: Identifier
    title: str = ""
    done: bool = False
    tags: list[str] = []
    kind: Literal["task", "note"] = "task"

    def after_create(self) -> None:
        CREATED.append(self)


class Folder(Model):
    name: str = ""
    items: list[Item] = []
    by_key: dict[str, Item] = {}
    selected: Ref[Item] | None = None
    priority: Priority = Priority.LOW
    count: Annotated[int, refine(lambda value: value >= 0, "must not be negative")] = 0
    ratio: float = 0.0
    due: datetime | None = None
    extra: Frozen[Any] = None
    child: Folder | None = None

    def after_create(self) -> None:
        CREATED.append(self)


TYPES = {
    "Item": types.model(Item),
    "Folder": types.model(Folder),
    "list[Item]": types.array(Item),
    "dict[str, Item]": types.map(Item),
    "Item | Folder": types.union(Item, Folder),
    "maybe int": types.maybe(types.integer),
}

# ------------------------------------------------------------------ strategies
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-5, 5)
    | st.floats()
    | st.text(max_size=10)
    | st.sampled_from(["a", "b", "low", "high", "task", "note", "2024-01-02T03:04:05", ""])
)
arbitrary_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)
ITEM_KEYS = ["id", "title", "done", "tags", "kind"]
FOLDER_KEYS = [
    "name", "items", "by_key", "selected", "priority", "count", "ratio", "due", "extra", "child"
]  # fmt: skip


def near(keys: list[str], values: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with mostly the right keys, and values that are sometimes right."""
    return st.dictionaries(st.sampled_from(keys) | st.text(max_size=4), values, max_size=6)


item_like = near(ITEM_KEYS, arbitrary_json | st.sampled_from(["a", "b"]) | st.lists(st.text()))
folder_like = st.deferred(
    lambda: near(
        FOLDER_KEYS,
        arbitrary_json
        | st.lists(item_like, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b"]), item_like, max_size=2)
        | folder_like,
    )
)
snapshots = arbitrary_json | item_like | folder_like | st.lists(item_like, max_size=3)


# ------------------------------------------------------------------- snapshots
@given(type_name=st.sampled_from(sorted(TYPES)), snapshot=snapshots)
@SETTINGS
@example(type_name="Folder", snapshot={"items": [{"id": "a"}, {"id": "a"}]})
@example(type_name="Folder", snapshot={"items": [{"id": "a"}], "by_key": {"a": {"id": "a"}}})
@example(type_name="dict[str, Item]", snapshot={"x": {"id": "y"}})
@example(type_name="Folder", snapshot={"count": -1, "ratio": float("nan")})
@example(type_name="Folder", snapshot={"child": {"child": {"selected": "nowhere"}}})
def test_snapshot_is_built_whole_or_rejected_with_a_validation_error(
    type_name: str, snapshot: Any
) -> None:
    kind = TYPES[type_name]
    CREATED.clear()
    try:
        value = kind.create(snapshot)
    except ValidationError as error:
        assert CREATED == [], "nodes were built for a rejected snapshot"
        assert str(error) and error.errors
        # validate() checks shapes; identifiers clash only in a built tree.
        assert kind.validate(snapshot) or "identifier" in str(error)
        return
    if snapshot is not None:  # create(None) means "the default snapshot"
        assert kind.validate(snapshot) == [], "create() accepts what validate() rejects"
    if kind.is_complex:
        json.dumps(get_snapshot(value))  # a plain JSON value


@given(snapshot=snapshots)
@SETTINGS
@example(snapshot={"items": [{"id": "a"}, {"id": "a"}]})
@example(snapshot={"by_key": {"x": {"id": "y"}}})
def test_apply_snapshot_applies_whole_or_changes_nothing(snapshot: Any) -> None:
    folder = Folder.create({"name": "root", "items": [{"id": "a"}], "selected": "a"})
    before = get_snapshot(folder)
    heard: list[Any] = []
    dispose = on_snapshot(folder, heard.append)
    try:
        apply_snapshot(folder, snapshot)
    except ValidationError:
        assert get_snapshot(folder) is before
        assert heard == []
    else:
        assert typecheck(Folder, get_snapshot(folder)) is None
    finally:
        dispose()


# --------------------------------------------------------------------- patches
PATHS = [
    "", "/", "/name", "/items", "/items/0", "/items/1", "/items/-", "/items/01", "/items/9",
    "/items/0/title", "/items/0/tags/0", "/items/0/tags/-", "/items/0/id", "/by_key",
    "/by_key/a", "/by_key/b", "/by_key/a/done", "/selected", "/priority", "/count", "/ratio",
    "/due", "/extra", "/extra/k", "/child", "/child/name", "/child/items/0", "/nope",
    "/items/0/nope", "/by_key/a~1b", "/by_key/~0", "/-",
]  # fmt: skip
paths = st.sampled_from(PATHS) | st.text(max_size=8)
values = (
    arbitrary_json
    | item_like
    | st.sampled_from([{"id": "a"}, {"id": "b"}, {"id": "c", "title": "x"}, "a", "b", "high"])
)


@st.composite
def patches(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(arbitrary_json)  # not even a patch
    patch: dict[str, Any] = {}
    for field, strategy in (
        ("op", st.sampled_from(["add", "remove", "replace", "move", "copy", "test"]) | scalars),
        ("path", paths | scalars),
        ("value", values),
        ("from", paths),
    ):
        if draw(st.integers(0, 5)) > 0:
            patch[field] = draw(strategy)
    return patch


def fresh_folder() -> Folder:
    return Folder.create(
        {
            "name": "root",
            "items": [{"id": "a", "tags": ["x"]}, {"id": "b", "done": True}],
            "by_key": {"c": {"id": "c"}},
            "selected": "a",
            "extra": {"k": [1, 2]},
            "child": {"name": "kid", "items": [{"id": "d"}]},
        }
    )


@given(batch=st.lists(patches(), max_size=5) | patches().filter(lambda p: isinstance(p, dict)))
@SETTINGS
@example(batch=[{"op": "add", "path": "/items/-", "value": {"id": "b"}}])
@example(batch=[{"op": "add", "path": "/by_key/x", "value": {"id": "y"}}])
@example(batch=[{"op": "copy", "from": "/items/0", "path": "/items/-"}])
@example(batch=[{"op": "move", "from": "/child", "path": "/child/child"}])
@example(batch=[{"op": "remove", "path": "/items/0"}, {"op": "test", "path": "/selected"}])
@example(batch=[{"op": "replace", "path": "/selected", "value": "nowhere"}])
@example(batch=[{"op": "replace", "path": "", "value": {"items": [{"id": "a"}, {"id": "a"}]}}])
def test_patch_list_applies_whole_or_changes_nothing(batch: Any) -> None:
    folder = fresh_folder()
    before = get_snapshot(folder)
    recorder = record_patches(folder)
    try:
        apply_patch(folder, batch)
    except (PatchError, ValidationError) as error:
        assert str(error)
        assert get_snapshot(folder) is before, "a failed patch list changed the tree"
        assert recorder.patches == [], "listeners heard of an aborted change"
    else:
        after = get_snapshot(folder)
        assert typecheck(Folder, after) is None
        json.dumps(after)
    finally:
        recorder.stop()


# ------------------------------------------------------------------ state file
VALID_STATE = {"format": "llmstore-state", "version": 1, "state": {}}


def _spec() -> ModelSpec:
    return ModelSpec(
        key="m",
        display_name="M",
        url="http://127.0.0.1:9/m.gguf",
        filename="m.gguf",
        size_bytes=4096,
        min_size_bytes=1024,
    )


async def _initialize_on(models_dir: Path) -> tuple[list[str], Any]:
    store = create_llm_store_default_model(models_dir=models_dir, catalog=[_spec()])
    async with store:
        assert store.is_initialized and store.error is None
        assert store.model("m").status is ModelStatus.IDLE
        assert store.selected_model_key is None
        return store.warnings, store.snapshot()


def _is_valid_state(data: bytes) -> bool:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(document, dict)
        and document.get("format") == "llmstore-state"
        and document.get("version") == 1
        and isinstance(document.get("state"), dict)
    )


@given(data=st.binary(max_size=200) | arbitrary_json.map(lambda v: json.dumps(v).encode()))
@SLOW_SETTINGS
@example(data=b"")
@example(data=b"[" * 100_000)
@example(data=b'{"format": "llmstore-state", "version": 1, "state": ' + b"[" * 100_000)
@example(data=b"\xff\xfe\x00garbage")
@example(data=json.dumps({**VALID_STATE, "version": 2}).encode())
def test_any_bytes_as_state_file_start_the_store_with_a_warning(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        models_dir = Path(tmp)
        (models_dir / STATE_FILE_NAME).write_bytes(data)
        warnings, snapshot = asyncio.run(_initialize_on(models_dir))
        aside = [name for name in os.listdir(models_dir) if ".corrupt-" in name]
        if _is_valid_state(data):
            assert warnings == [] and aside == []
            return
        assert len(warnings) == 1 and "state file" in warnings[0]
        assert len(aside) == 1 and aside[0] in warnings[0]
        assert (models_dir / aside[0]).read_bytes() == data
        saved = json.loads((models_dir / STATE_FILE_NAME).read_bytes())
        assert saved["state"] == snapshot


@given(state=arbitrary_json | folder_like | near(["selected_model_key", "models"], arbitrary_json))
@SLOW_SETTINGS
@example(state={"selected_model_key": "m"})
@example(state={"selected_model_key": ["m"]})
@example(state={"state": {"selected_model_key": {"m": 1}}})
def test_any_state_object_in_a_valid_file_starts_the_store(state: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        models_dir = Path(tmp)
        document = {**VALID_STATE, "state": state}
        (models_dir / STATE_FILE_NAME).write_text(json.dumps(document))
        warnings, snapshot = asyncio.run(_initialize_on(models_dir))
        assert snapshot["selected_model_key"] is None  # nothing is ready to select
        assert len(warnings) == (0 if isinstance(state, dict) else 1)


# --------------------------------------------------------------------- catalog
def _inside(models_dir: Path, spec: ModelSpec) -> bool:
    path = models_dir / spec.filename
    return (
        path.parent == models_dir
        and os.path.normpath(path) == str(path)
        and "\0" not in spec.filename
        and "\0" not in spec.key
        and "/" not in spec.key
    )


@given(data=st.binary(max_size=300))
@SETTINGS
@example(data=b"[" * 100_000)
@example(data=b'{"models": ' + b"{" * 50_000)
@example(data=b"\xff\xfe")
@example(data=b'[{"key": "a", "display_name": "A", "url": "http://x/a", "filename": "\\ud800"}]')
def test_any_bytes_as_catalog_give_specs_or_a_catalog_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalog.json"
        path.write_bytes(data)
        try:
            specs = load_catalog(path)
        except CatalogError as error:
            assert str(path) in str(error)
            return
        assert all(_inside(Path(tmp), spec) for spec in specs)


names = (
    st.text(max_size=12)
    | st.sampled_from(["..", ".", "/", "a/b", "/etc/passwd", "a\0b", "..\\x", "ok.gguf", "1B"])
    | st.builds(lambda a, b: a + b, st.sampled_from(["../", "/", "./", "x/..", "\0"]), st.text())
)
entries = st.fixed_dictionaries(
    {"key": names, "display_name": st.text(max_size=5), "filename": names},
    optional={
        "url": st.sampled_from(["http://h/x", "https://h/y", "file:///etc/passwd", "x"]),
        "size_bytes": arbitrary_json,
        "sha256": arbitrary_json | st.just("a" * 64),
        "min_size_bytes": arbitrary_json,
        "extra": arbitrary_json,
    },
)


@given(
    data=st.lists(entries | arbitrary_json, max_size=4)
    | st.fixed_dictionaries({"models": st.lists(entries, max_size=3)})
    | arbitrary_json
)
@SETTINGS
def test_any_json_as_catalog_gives_specs_inside_the_models_dir_or_a_catalog_error(
    data: Any,
) -> None:
    models_dir = Path("/srv/models")
    try:
        specs = catalog_from_data(data)
    except CatalogError as error:
        assert "not a valid catalog" in str(error) or "expected a JSON list" in str(error)
        return
    assert all(_inside(models_dir, spec) for spec in specs)
    keys = [spec.key for spec in specs]
    assert len(set(keys)) == len(keys)
    for spec in specs:
        assert spec.size_bytes is None or (spec.size_bytes > 0 and math.isfinite(spec.size_bytes))
