"""``class M(Model, unknown_keys="drop")``: snapshot keys a model does not declare.

Rejected by default (``ValidationError`` naming the key); a model that opts to
drop them reads snapshots written by a newer schema as MobX-State-Tree does.
"""

from __future__ import annotations

from typing import Any

import pytest

from mstlite import (
    Identifier,
    Model,
    ValidationError,
    action,
    apply_snapshot,
    get_snapshot,
    on_patch,
    types,
)


class Newer(Model, unknown_keys="drop"):
    id: Identifier
    name: str = ""


class Strict(Model):
    name: str = ""


class Holder(Model):  # rejects its own unknown keys; its items keep their own setting
    items: list[Newer] = []
    strict: Strict | None = None

    @action
    def put(self, snapshot: Any) -> None:
        self.items[0] = snapshot


class LenientChild(Newer):
    extra: int = 0


def test_unknown_keys_are_rejected_by_default_with_the_key_and_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        Holder.create({"strict": {"name": "x", "colour": "red"}})
    assert [e["path"] for e in caught.value.errors] == ["/strict/colour"]
    assert "colour" in str(caught.value)


def test_create_drops_unknown_keys_of_a_model_that_opts_in() -> None:
    node = Newer.create({"id": "a", "name": "x", "added_later": {"deep": [1]}})
    assert get_snapshot(node) == {"id": "a", "name": "x"}
    assert Newer.validate({"id": "a", "added_later": 1}) == []
    assert Newer.is_({"id": "a", "added_later": 1})


def test_the_constructor_drops_them_too() -> None:
    # Keywords the class does not declare are a type error, so they come from a
    # snapshot read at run time (a newer schema's).
    fields: dict[str, Any] = {"id": "a", "added_later": 1}
    node = Newer(**fields)
    assert get_snapshot(node) == {"id": "a", "name": ""}


def test_the_setting_is_per_model_in_a_nested_snapshot() -> None:
    store = Holder.create({"items": [{"id": "a", "added_later": 1}]})
    assert get_snapshot(store)["items"] == [{"id": "a", "name": ""}]
    with pytest.raises(ValidationError, match="added_later"):
        Holder.create({"added_later": 1})


def test_apply_snapshot_and_assignment_drop_them_and_emit_only_real_changes() -> None:
    store = Holder.create({"items": [{"id": "a", "name": "x"}]})
    first = store.items[0]
    patches: list[Any] = []
    on_patch(store, lambda patch, inverse: patches.append(patch))
    apply_snapshot(store, {"items": [{"id": "a", "name": "x", "added_later": True}]})
    assert patches == []
    store.put({"id": "a", "name": "y", "added_later": True})
    assert patches == [{"op": "replace", "path": "/items/0/name", "value": "y"}]
    assert store.items[0] is first
    assert get_snapshot(store)["items"] == [{"id": "a", "name": "y"}]


def test_subclasses_inherit_the_setting() -> None:
    node = LenientChild.create({"id": "a", "extra": 2, "added_later": 1})
    assert get_snapshot(node) == {"id": "a", "name": "", "extra": 2}


def test_a_subclass_may_go_back_to_rejecting() -> None:
    class Stricter(Newer, unknown_keys="reject"):
        pass

    with pytest.raises(ValidationError, match="added_later"):
        Stricter.create({"id": "a", "added_later": 1})


def test_the_json_schema_says_whether_other_keys_are_allowed() -> None:
    assert Strict.json_schema().get("additionalProperties") is False
    assert Newer.json_schema().get("additionalProperties") is not False


def test_a_bad_setting_is_a_type_error_naming_the_choices() -> None:
    with pytest.raises(TypeError, match=r"unknown_keys='ignore'.*'reject', 'drop'"):

        class Bad(Model, unknown_keys="ignore"):  # pyright: ignore[reportArgumentType]
            pass


def test_types_model_takes_the_setting() -> None:
    kind = types.model("Built", {"name": str}, unknown_keys="drop")
    node = kind.create({"name": "x", "added_later": 1})
    assert get_snapshot(node) == {"name": "x"}
    assert types.model(Newer) is Newer._mst_type
    with pytest.raises(TypeError, match="declare it on the class"):
        types.model(Strict, unknown_keys="drop")
