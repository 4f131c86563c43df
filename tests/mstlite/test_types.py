"""Every annotation kind, the ``mstlite.types`` constructors and snapshot validation."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

import pytest

from mstlite import (
    ArrayNode,
    Frozen,
    Identifier,
    InvalidReferenceError,
    MapNode,
    Model,
    MstError,
    Ref,
    SafeRef,
    ValidationError,
    action,
    apply_snapshot,
    get_parent,
    get_snapshot,
    is_state_tree_node,
    refine,
    typecheck,
    types,
    unprotect,
)


class Scalars(Model):
    s: str = ""
    i: int = 0
    f: float = 0.0
    b: bool = False

    @action
    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Cat(Model):
    kind: Literal["cat"] = "cat"
    lives: int = 9


class Dog(Model):
    kind: Literal["dog"]
    good: bool = True


class Shapes(Model):
    maybe_name: str | None = None
    numbers: list[int] = []
    scores: dict[str, float] = {}
    size: Literal["s", "m", "l"] = "m"
    color: Color = Color.RED
    level: Level = Level.LOW
    pet: Cat | Dog = {"kind": "cat"}
    other: Cat | Dog | None = None
    scalar: int | str = 0
    blob: Any = None
    frozen_list: Frozen[list[int]] = []
    positive: Annotated[int, refine(lambda v: v > 0, "must be positive")] = 1
    when: datetime = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

    @action
    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


# ------------------------------------------------------------------ scalars
def test_scalar_defaults_and_reads() -> None:
    node = Scalars.create()
    assert get_snapshot(node) == {"s": "", "i": 0, "f": 0.0, "b": False}
    node = Scalars.create({"s": "x", "i": 3, "f": 2.5, "b": True})
    assert (node.s, node.i, node.f, node.b) == ("x", 3, 2.5, True)


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("s", 1),
        ("s", None),
        ("i", True),
        ("i", 1.5),
        ("i", "1"),
        ("f", "1.0"),
        ("f", True),
        ("b", 1),
        ("b", "true"),
    ],
)
def test_scalars_are_strict(field: str, bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Scalars.create({field: bad})
    assert [e["path"] for e in info.value.errors] == [f"/{field}"]
    node = Scalars.create()
    with pytest.raises(ValidationError):
        node.set(**{field: bad})
    assert get_snapshot(node) == {"s": "", "i": 0, "f": 0.0, "b": False}


def test_int_rejects_bool() -> None:
    assert types.integer.validate(True)
    assert not types.integer.is_(False)
    assert types.integer.is_(0)


def test_float_accepts_int() -> None:
    node = Scalars.create({"f": 2})
    assert node.f == 2.0
    assert isinstance(node.f, float)
    node.set(f=7)
    assert node.f == 7.0
    assert isinstance(node.f, float)
    assert isinstance(get_snapshot(node)["f"], float)
    assert types.number.is_(3)
    assert isinstance(types.number.create(3), float)


def test_bool_accepts_only_bool() -> None:
    node = Scalars.create({"b": True})
    node.set(b=False)
    assert node.b is False


# ------------------------------------------------------------- maybe / collections
def test_maybe() -> None:
    node = Shapes.create()
    assert node.maybe_name is None
    node.set(maybe_name="x")
    assert node.maybe_name == "x"
    node.set(maybe_name=None)
    assert node.maybe_name is None
    with pytest.raises(ValidationError):
        node.set(maybe_name=3)


def test_list_and_dict_become_nodes() -> None:
    node = Shapes.create({"numbers": [1, 2], "scores": {"a": 1}})
    assert isinstance(node.numbers, ArrayNode)
    assert isinstance(node.scores, MapNode)
    assert node.numbers == [1, 2]
    assert node.scores == {"a": 1.0}
    assert isinstance(node.scores["a"], float)
    assert get_parent(node.numbers) is node
    with pytest.raises(ValidationError) as info:
        Shapes.create({"numbers": [1, "x", 3], "scores": {"a": "no"}})
    assert sorted(e["path"] for e in info.value.errors) == ["/numbers/1", "/scores/a"]


def test_dict_keys_must_be_str() -> None:
    with pytest.raises(TypeError, match="str"):

        class Bad(Model):
            table: dict[int, str] = {}

        Bad.create()


def test_unsupported_annotation_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="set"):

        class Bad(Model):
            values: set[int] = set()

        Bad.create()


# ------------------------------------------------------------ literal / enum
def test_literal() -> None:
    node = Shapes.create({"size": "l"})
    assert node.size == "l"
    node.set(size="s")
    assert node.size == "s"
    with pytest.raises(ValidationError):
        node.set(size="xl")
    with pytest.raises(ValidationError) as info:
        Shapes.create({"size": "xl"})
    assert info.value.errors[0]["path"] == "/size"


def test_enum_snapshot_holds_value_read_gives_member() -> None:
    node = Shapes.create({"color": "green", "level": 2})
    assert node.color is Color.GREEN
    assert node.level is Level.HIGH
    snapshot = get_snapshot(node)
    assert snapshot["color"] == "green"
    assert type(snapshot["color"]) is str
    assert snapshot["level"] == 2
    assert json.loads(json.dumps(snapshot))["color"] == "green"


def test_enum_assignment_by_member_or_value() -> None:
    node = Shapes.create()
    node.set(color=Color.GREEN)
    assert node.color is Color.GREEN
    assert get_snapshot(node)["color"] == "green"
    node.set(color="red")
    assert node.color is Color.RED
    with pytest.raises(ValidationError):
        node.set(color="blue")
    with pytest.raises(ValidationError):
        Shapes.create({"color": "RED"})  # the name is not the value


def test_enum_member_accepted_in_snapshot() -> None:
    node = Shapes.create({"color": Color.GREEN})
    assert get_snapshot(node)["color"] == "green"


# ------------------------------------------------------------ nested / unions
def test_nested_model_is_a_node() -> None:
    node = Shapes.create()
    assert isinstance(node.pet, Cat)
    assert is_state_tree_node(node.pet)
    assert get_parent(node.pet) is node


def test_union_dispatches_on_snapshot() -> None:
    node = Shapes.create({"pet": {"kind": "dog"}, "other": {"kind": "cat", "lives": 3}})
    assert type(node.pet) is Dog
    assert type(node.other) is Cat
    assert node.other.lives == 3
    node.set(pet={"kind": "cat"})
    assert type(node.pet) is Cat
    node.set(other={"kind": "dog", "good": False})
    assert type(node.other) is Dog
    assert node.other.good is False
    with pytest.raises(ValidationError):
        node.set(pet={"kind": "cow"})


def test_scalar_union() -> None:
    node = Shapes.create({"scalar": "x"})
    assert node.scalar == "x"
    node.set(scalar=4)
    assert node.scalar == 4
    with pytest.raises(ValidationError):
        node.set(scalar=1.5)
    union = types.union(types.integer, types.string)
    assert union.is_(1)
    assert union.is_("a")
    assert not union.is_(None)


def test_union_dispatcher() -> None:
    union = types.union(Cat, Dog, dispatcher=lambda snap: Dog._mst_type)
    value = union.create({"kind": "dog"})
    assert type(value) is Dog


# ----------------------------------------------------------- identifier / refs
class Person(Model):
    id: Identifier
    name: str = ""


class Team(Model):
    people: list[Person] = []
    lead: Ref[Person] | None = None
    backup: SafeRef[Person] | None = None
    watchers: list[SafeRef[Person]] = []
    by_name: dict[str, SafeRef[Person]] = {}

    @action
    def run(self, fn: Any) -> Any:
        return fn(self)


def test_identifier_required_and_nonempty() -> None:
    with pytest.raises(ValidationError) as info:
        Person.create({})
    assert info.value.errors[0]["path"] == "/id"
    with pytest.raises(ValidationError):
        Person.create({"id": ""})
    with pytest.raises(ValidationError):
        Person.create({"id": 1})
    assert Person.create({"id": "p"}).id == "p"


def test_reference_snapshot_holds_identifier() -> None:
    team = Team.create({"people": [{"id": "p1"}, {"id": "p2"}], "lead": "p2"})
    assert team.lead is team.people[1]
    assert get_snapshot(team)["lead"] == "p2"
    team.run(lambda t: setattr(t, "lead", t.people[0]))
    assert get_snapshot(team)["lead"] == "p1"
    assert team.lead is team.people[0]
    team.run(lambda t: setattr(t, "lead", "p2"))
    assert team.lead is team.people[1]


def test_reference_to_missing_node_raises_on_read() -> None:
    team = Team.create({"people": [{"id": "p1"}], "lead": "nobody"})
    assert get_snapshot(team)["lead"] == "nobody"
    with pytest.raises(InvalidReferenceError, match="nobody"):
        _ = team.lead
    assert issubclass(InvalidReferenceError, MstError)


def test_reference_to_removed_node_raises_on_read() -> None:
    team = Team.create({"people": [{"id": "p1"}], "lead": "p1"})
    team.run(lambda t: t.people.clear())
    with pytest.raises(InvalidReferenceError):
        _ = team.lead


def test_safe_reference_becomes_none_or_is_removed() -> None:
    team = Team.create(
        {
            "people": [{"id": "p1"}, {"id": "p2"}],
            "backup": "p1",
            "watchers": ["p1", "p2", "p1"],
            "by_name": {"x": "p1", "y": "p2"},
        }
    )
    assert team.backup is team.people[0]
    assert list(team.watchers) == [team.people[0], team.people[1], team.people[0]]
    assert team.by_name["y"] is team.people[1]
    team.run(lambda t: t.people.pop(0))
    assert team.backup is None
    assert get_snapshot(team) == {
        "people": [{"id": "p2", "name": ""}],
        "lead": None,
        "backup": None,
        "watchers": ["p2"],
        "by_name": {"y": "p2"},
    }


def test_reference_rejects_wrong_node_type() -> None:
    team = Team.create({"people": [{"id": "p1"}]})
    with pytest.raises(MstError):
        team.run(lambda t: setattr(t, "lead", Cat.create()))
    assert team.lead is None


# ------------------------------------------------------------------- frozen
def test_any_and_frozen_are_immutable() -> None:
    node = Shapes.create({"blob": {"a": [1, 2]}, "frozen_list": [1, 2]})
    assert node.blob == {"a": [1, 2]}
    with pytest.raises(TypeError):
        node.blob["a"].append(3)
    with pytest.raises(TypeError):
        node.blob["b"] = 1
    with pytest.raises(TypeError):
        node.frozen_list.append(3)
    assert get_snapshot(node)["blob"] == {"a": [1, 2]}
    assert not is_state_tree_node(node.blob)


def test_frozen_value_is_copied_not_aliased() -> None:
    value = {"a": [1]}
    node = Shapes.create({"blob": value})
    value["a"].append(2)
    assert node.blob == {"a": [1]}


def test_frozen_with_shape_validates() -> None:
    with pytest.raises(ValidationError) as info:
        Shapes.create({"frozen_list": [1, "x"]})
    assert info.value.errors[0]["path"] == "/frozen_list/1"


def test_any_rejects_non_json() -> None:
    with pytest.raises(ValidationError):
        Shapes.create({"blob": {1, 2}})


# --------------------------------------------------------------- refinement
def test_refinement_annotation() -> None:
    node = Shapes.create({"positive": 5})
    assert node.positive == 5
    with pytest.raises(ValidationError) as info:
        Shapes.create({"positive": 0})
    assert info.value.errors == [
        {"path": "/positive", "message": "must be positive", "type": "refinement", "input": 0}
    ]
    with pytest.raises(ValidationError, match="must be positive"):
        node.set(positive=-1)
    assert node.positive == 5


# ------------------------------------------------------------ forward refs
def test_recursive_type_by_forward_reference(Node: Any) -> None:
    root = Node.create(
        {
            "name": "r",
            "children": [{"name": "a", "children": [{"name": "b"}]}],
            "first": {"name": "f"},
        }
    )
    assert type(root.children[0].children[0]) is Node
    assert root.children[0].children[0].name == "b"
    assert type(root.first) is Node
    assert get_snapshot(root) == {
        "name": "r",
        "children": [
            {"name": "a", "children": [{"name": "b", "children": [], "first": None}], "first": None}
        ],
        "first": {"name": "f", "children": [], "first": None},
    }
    with pytest.raises(ValidationError) as info:
        Node.create({"children": [{"children": [{"name": 1}]}]})
    assert info.value.errors[0]["path"] == "/children/0/children/0/name"


def test_forward_reference_to_later_class_in_function() -> None:
    class Parent(Model):
        child: LaterChild | None = None

    class LaterChild(Model):
        value: int = 0

    parent = Parent.create({"child": {"value": 3}})
    assert type(parent.child) is LaterChild
    assert parent.child.value == 3


def test_explicit_string_annotation() -> None:
    class Tree(Model):
        kids: list["Tree"] = []  # noqa: UP037

    tree = Tree.create({"kids": [{"kids": [{}]}]})
    assert type(tree.kids[0].kids[0]) is Tree


# ----------------------------------------------------------------- datetime
def test_datetime_snapshot_is_iso_string() -> None:
    node = Shapes.create({"when": "2024-05-06T07:08:09+00:00"})
    assert node.when == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert isinstance(node.when, datetime)
    assert get_snapshot(node)["when"] == "2024-05-06T07:08:09+00:00"
    later = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    node.set(when=later)
    assert node.when == later
    assert get_snapshot(node)["when"] == later.isoformat()
    json.dumps(get_snapshot(node))


def test_datetime_default_and_event(Event: Any, Priority: Any) -> None:
    assert get_snapshot(Shapes.create())["when"] == "2024-01-02T03:04:05+00:00"
    event = Event.create({"id": "e", "at": datetime(2024, 1, 1, 12, 0)})
    assert get_snapshot(event) == {
        "id": "e",
        "at": "2024-01-01T12:00:00",
        "priority": "low",
        "until": None,
    }
    assert event.at == datetime(2024, 1, 1, 12, 0)
    assert event.priority is Priority.LOW
    assert event.until is None
    with pytest.raises(ValidationError):
        Event.create({"id": "e", "at": "not a date"})


# ------------------------------------------------------------------ defaults
def test_defaults_are_never_shared(Todo: Any, Store: Any) -> None:
    first = Todo.create({"id": "a"})
    second = Todo.create({"id": "b"})
    unprotect(first)
    first.tags.append("x")
    assert second.tags == []
    assert first.tags is not second.tags
    assert Todo.create({"id": "c"}).tags == []
    s1, s2 = Store.create(), Store.create()
    unprotect(s1)
    s1.by_owner["x"] = {"id": "x"}
    assert s2.by_owner == {}
    assert Store.create().by_owner == {}


def test_mutable_default_given_by_user_is_not_shared() -> None:
    class Holder(Model):
        items: list[dict[str, int]] = [{"a": 1}]

    one, two = Holder.create(), Holder.create()
    unprotect(one)
    one.items[0]["a"] = 2
    one.items.append({"b": 3})
    assert two.items == [{"a": 1}]
    assert Holder.create().items == [{"a": 1}]


def test_model_constructor_validates() -> None:
    node = Scalars(s="x", i=2)
    assert get_snapshot(node) == {"s": "x", "i": 2, "f": 0.0, "b": False}
    with pytest.raises(ValidationError):
        Scalars(i="nope")


# -------------------------------------------------------------- types module
def test_types_model_builds_a_model_class() -> None:
    Point = types.model(
        "Point",
        {"x": types.integer, "y": types.optional(types.integer, 0), "tags": types.array(str)},
    )
    assert Point.name == "Point"
    point = Point.create({"x": 1})
    assert get_snapshot(point) == {"x": 1, "y": 0, "tags": []}
    assert Point.is_(point)
    assert Point.is_({"x": 2})
    assert not Point.is_({"y": 2})
    assert [e["path"] for e in Point.validate({"x": "a", "y": "b"})] == ["/x", "/y"]
    schema = Point.json_schema()
    assert schema["type"] == "object"
    assert schema["required"] == ["x"]
    assert schema["properties"]["x"]["type"] == "integer"
    assert types.model(Scalars) is types.model(Scalars)
    assert types.model(Scalars).create({"i": 1}).i == 1


def test_types_array_and_map() -> None:
    array = types.array(types.integer)
    value = array.create([1, 2])
    assert isinstance(value, ArrayNode)
    assert value == [1, 2]
    assert array.create() == []
    assert array.is_([1])
    assert not array.is_(["a"])
    assert array.validate([1, "a"])[0]["path"] == "/1"
    assert array.json_schema() == {"type": "array", "items": {"type": "integer"}}
    mapping = types.map(types.string)
    value = mapping.create({"a": "b"})
    assert isinstance(value, MapNode)
    assert value == {"a": "b"}
    assert mapping.validate({"a": 1})[0]["path"] == "/a"
    assert mapping.json_schema()["type"] == "object"


def test_types_maybe_optional() -> None:
    maybe = types.maybe(types.integer)
    assert maybe.create(None) is None
    assert maybe.create(3) == 3
    assert maybe.is_(None)
    assert not maybe.is_("x")
    optional = types.optional(types.integer, 5)
    assert optional.create() == 5
    assert optional.create(7) == 7
    factory = types.optional(types.array(int), lambda: [1])
    assert factory.create() == [1]


def test_types_literal_enumeration() -> None:
    literal = types.literal("a", 1)
    assert literal.is_("a")
    assert literal.is_(1)
    assert not literal.is_(2)
    named = types.enumeration("Color", ["red", "green"])
    assert named.name == "Color"
    assert named.create("red") == "red"
    assert named.validate("blue")[0]["message"]
    from_enum = types.enumeration(Color)
    assert from_enum.name == "Color"
    assert from_enum.create("green") is Color.GREEN
    assert from_enum.json_schema()["enum"] == ["red", "green"]
    with pytest.raises(TypeError):
        types.enumeration("NoOptions")


def test_types_frozen_refinement_late() -> None:
    frozen = types.frozen()
    value = frozen.create({"a": [1]})
    with pytest.raises(TypeError):
        value["a"].append(2)
    shaped = types.frozen(types.array(int))
    assert shaped.validate(["x"])
    even = types.refinement(types.integer, lambda v: v % 2 == 0, "must be even")
    assert even.is_(2)
    assert even.validate(3) == [
        {"path": "", "message": "must be even", "type": "refinement", "input": 3}
    ]
    late = types.late(lambda: Cat)
    assert type(late.create({})) is Cat
    assert late.name == "Cat"


def test_types_references() -> None:
    Holder = types.model(
        "RefHolder",
        {
            "people": types.array(Person),
            "ref": types.maybe(types.reference(Person)),
            "safe": types.maybe(types.safe_reference(Person)),
        },
    )
    holder = Holder.create({"people": [{"id": "p"}], "ref": "p", "safe": "p"})
    assert holder.ref is holder.people[0]
    assert holder.safe is holder.people[0]
    unprotect(holder)
    holder.people.clear()
    assert holder.safe is None
    with pytest.raises(InvalidReferenceError):
        _ = holder.ref
    assert types.reference(Person).validate(1)


def test_scalar_type_names_and_schemas() -> None:
    assert [t.name for t in (types.string, types.integer, types.number, types.boolean)] == [
        "str",
        "int",
        "float",
        "bool",
    ]
    assert types.string.json_schema() == {"type": "string"}
    assert types.integer.json_schema() == {"type": "integer"}
    assert types.number.json_schema() == {"type": "number"}
    assert types.boolean.json_schema() == {"type": "boolean"}
    assert types.datetime.create("2024-01-01T00:00:00") == datetime(2024, 1, 1)
    assert types.identifier.validate("")
    assert types.identifier.is_("x")


def test_type_create_validates_whole_snapshot() -> None:
    with pytest.raises(ValidationError) as info:
        types.array(types.integer).create([1, "a", None])
    assert [e["path"] for e in info.value.errors] == ["/1", "/2"]


def test_model_json_schema(Todo: Any) -> None:
    schema = Todo.json_schema()
    assert schema["type"] == "object"
    assert schema["required"] == ["id"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["kind"]["enum"] == ["task", "note"]
    assert schema["properties"]["tags"]["items"] == {"type": "string"}
    assert schema["properties"]["tags"]["default"] == []
    json.dumps(schema)
    assert Todo._mst_type.name == "Todo"


def test_recursive_json_schema(Node: Any) -> None:
    schema = Node.json_schema()
    json.dumps(schema)
    assert "$defs" in schema or "$ref" in json.dumps(schema)


def test_typecheck() -> None:
    typecheck(Scalars, {"i": 1})
    with pytest.raises(ValidationError):
        typecheck(Scalars, {"i": "x"})
    typecheck(types.integer, 3)
    typecheck(Scalars, Scalars.create())
    with pytest.raises(ValidationError):
        typecheck(Cat, Scalars.create())


# ------------------------------------------------------------ ValidationError
class Counted(Model):
    value: int = 0
    created = 0

    def after_create(self) -> None:
        type(self).created += 1


class Bag(Model):
    items: list[Counted] = []
    name: str = ""


def test_validation_error_lists_every_error_with_path() -> None:
    with pytest.raises(ValidationError) as info:
        Bag.create({"items": [{"value": 1}, {"value": "x"}, {"value": 2, "extra": 1}], "name": 5})
    error = info.value
    assert isinstance(error, ValueError)
    assert isinstance(error, MstError)
    paths = [e["path"] for e in error.errors]
    assert paths == ["/items/1/value", "/items/2/extra", "/name"]
    for problem in error.errors:
        assert problem["message"]
        assert problem["path"] in str(error)


def test_invalid_snapshot_builds_nothing() -> None:
    before = Counted.created
    with pytest.raises(ValidationError):
        Bag.create({"items": [{"value": 1}, {"value": 2}, {"value": "bad"}]})
    assert Counted.created == before
    bag = Bag.create({"items": [{"value": 1}]})
    assert Counted.created == before + 1
    snapshot = get_snapshot(bag)
    with pytest.raises(ValidationError) as info:
        apply_snapshot(bag, {"items": [{"value": 1}, {"value": 2}, {"value": None}]})
    assert info.value.errors[0]["path"] == "/items/2/value"
    assert Counted.created == before + 1
    assert get_snapshot(bag) is snapshot


def test_validation_error_path_is_prefixed_when_assigning() -> None:
    bag = Bag.create({"items": [{"value": 1}]})
    unprotect(bag)
    with pytest.raises(ValidationError) as info:
        bag.items[0] = {"value": "x"}
    assert info.value.errors[0]["path"] == "/items/0/value"
    with pytest.raises(ValidationError) as info:
        bag.items.append({"value": [1]})
    assert info.value.errors[0]["path"] == "/items/1/value"
    assert get_snapshot(bag) == {"items": [{"value": 1}], "name": ""}


def test_extra_keys_are_rejected() -> None:
    errors = Scalars.validate({"nope": 1})
    assert errors[0]["path"] == "/nope"


def test_reserved_property_names() -> None:
    with pytest.raises(TypeError, match="reserved"):

        class Bad(Model):
            create: int = 0
