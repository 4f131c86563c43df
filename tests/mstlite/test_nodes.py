"""Tree functions, the one-parent rule, detach/destroy, identifiers, hooks and protection."""

from __future__ import annotations

from typing import Any

import pytest

from mstlite import (
    ArrayNode,
    DeadNodeError,
    Identifier,
    LivelinessWarning,
    MapNode,
    Model,
    MstError,
    ProtectionError,
    TreeError,
    action,
    add_disposer,
    apply_snapshot,
    clone,
    destroy,
    detach,
    get_env,
    get_identifier,
    get_parent,
    get_parent_of_type,
    get_path,
    get_path_parts,
    get_root,
    get_snapshot,
    get_type,
    has_parent,
    is_alive,
    is_protected,
    is_root,
    is_state_tree_node,
    on_patch,
    protect,
    resolve_identifier,
    resolve_path,
    try_resolve,
    types,
    unprotect,
    walk,
)


# ----------------------------------------------------------- parents and paths
def test_parent_functions(store: Any, Store: Any) -> None:
    todo = store.todos[1]
    assert get_parent(todo) is store.todos
    assert get_parent(todo, 2) is store
    assert get_parent(store.todos) is store
    assert get_parent_of_type(todo, Store) is store
    assert get_parent_of_type(todo, types.model(Store)) is store
    assert has_parent(todo)
    assert has_parent(todo, 2)
    assert not has_parent(todo, 3)
    assert not has_parent(store)
    with pytest.raises(TreeError):
        get_parent(store)
    with pytest.raises(TreeError):
        get_parent(todo, 3)


def test_get_parent_of_type_without_match(store: Any, Todo: Any) -> None:
    with pytest.raises(TreeError, match="Todo"):
        get_parent_of_type(store.todos[0], Todo)


def test_root_functions(store: Any) -> None:
    todo = store.by_owner["d"]
    assert get_root(todo) is store
    assert get_root(store) is store
    assert is_root(store)
    assert not is_root(todo)
    assert not is_root(store.todos)


def test_paths(store: Any) -> None:
    assert get_path(store) == ""
    assert get_path_parts(store) == []
    assert get_path(store.todos) == "/todos"
    assert get_path(store.todos[2]) == "/todos/2"
    assert get_path_parts(store.todos[2]) == ["todos", "2"]
    assert get_path(store.by_owner["d"]) == "/by_owner/d"
    assert get_path(store.todos[0].tags) == "/todos/0/tags"


def test_path_of_escaped_map_keys() -> None:
    Holder = types.model("EscHolder", {"m": types.map(types.array(int))})
    holder = Holder.create({"m": {"a/b~c": [1]}})
    child = holder.m["a/b~c"]
    assert get_path(child) == "/m/a~1b~0c"
    assert get_path_parts(child) == ["m", "a/b~c"]
    assert resolve_path(holder, "/m/a~1b~0c") is child


def test_paths_follow_array_moves(store: Any) -> None:
    last = store.todos[2]
    store.run(lambda s: s.todos.pop(0))
    assert get_path(last) == "/todos/1"
    store.run(lambda s: s.todos.insert(0, {"id": "z"}))
    assert get_path(last) == "/todos/2"


def test_resolve_path(store: Any) -> None:
    assert resolve_path(store, "") is store
    assert resolve_path(store, "/todos") is store.todos
    assert resolve_path(store, "/todos/1") is store.todos[1]
    assert resolve_path(store, "/todos/0/title") == "Buy milk"
    assert resolve_path(store, "/by_owner/d") is store.by_owner["d"]
    assert resolve_path(store.todos[2], "/todos/0") is store.todos[0]  # absolute: from root
    with pytest.raises(TreeError):
        resolve_path(store, "/todos/9")
    with pytest.raises(TreeError):
        resolve_path(store, "/nope")
    with pytest.raises(TreeError):
        resolve_path(store, "/todos/0/title/x")


def test_resolve_relative_path(store: Any) -> None:
    todo = store.todos[0]
    assert resolve_path(todo, "../1") is store.todos[1]
    assert resolve_path(todo, "../../by_owner/d") is store.by_owner["d"]
    assert resolve_path(todo, "title") == "Buy milk"
    assert resolve_path(todo, "./tags") is todo.tags
    assert resolve_path(todo, ".") is todo
    assert resolve_path(todo, "..") is store.todos
    with pytest.raises(TreeError):
        resolve_path(todo, "../../../x")


def test_try_resolve(store: Any) -> None:
    assert try_resolve(store, "/todos/0") is store.todos[0]
    assert try_resolve(store, "/todos/9") is None
    assert try_resolve(store, "/nope/x") is None
    assert try_resolve(store.todos[0], "../../../x") is None


def test_identifiers(store: Any, Todo: Any, Store: Any) -> None:
    assert resolve_identifier(Todo, store, "b") is store.todos[1]
    assert resolve_identifier(Todo, store.todos[0], "d") is store.by_owner["d"]
    assert resolve_identifier(Todo, store, "zz") is None
    assert resolve_identifier(Store, store, "a") is None
    assert get_identifier(store.todos[2]) == "c"
    assert get_identifier(store) is None


def test_env_and_type(Store: Any) -> None:
    env = {"clock": lambda: 0}
    store = Store.create({"todos": [{"id": "a"}]}, env=env)
    assert get_env(store) is env
    assert get_env(store.todos[0]) is env
    assert get_env(Store.create()) == {}
    assert get_type(store) is types.model(Store)
    assert get_type(store).name == "Store"
    assert get_type(store.todos).name == "list[Todo]"
    assert get_type(store.by_owner).name == "dict[str, Todo]"


def test_is_state_tree_node(store: Any) -> None:
    assert is_state_tree_node(store)
    assert is_state_tree_node(store.todos)
    assert is_state_tree_node(store.by_owner)
    assert isinstance(store.todos, ArrayNode)
    assert isinstance(store.by_owner, MapNode)
    assert not is_state_tree_node(get_snapshot(store))
    assert not is_state_tree_node("a")
    assert not is_state_tree_node(store.todos[0].title)


def test_tree_functions_reject_non_nodes() -> None:
    with pytest.raises(TypeError):
        get_path({"a": 1})
    with pytest.raises(TypeError):
        get_snapshot([1])


def test_walk_visits_children_before_parents(Node: Any) -> None:
    root = Node.create(
        {"name": "r", "children": [{"name": "a", "children": [{"name": "b"}]}, {"name": "c"}]}
    )
    seen: list[str] = []
    walk(root, lambda n: seen.append(n.name if isinstance(n, Node) else get_path(n)))
    assert seen == [
        "/children/0/children/0/children",
        "b",
        "/children/0/children",
        "a",
        "/children/1/children",
        "c",
        "/children",
        "r",
    ]


# ------------------------------------------------------------- one parent rule
def test_adding_a_node_with_a_parent_is_a_tree_error(store: Any) -> None:
    before = get_snapshot(store)
    with pytest.raises(TreeError, match="one parent"):
        store.run(lambda s: s.by_owner.__setitem__("a", s.todos[0]))
    with pytest.raises(TreeError):
        store.run(lambda s: s.todos.append(s.todos[0]))
    other = type(store).create()
    with pytest.raises(TreeError):
        other.run(lambda o: o.todos.append(store.todos[0]))
    assert get_snapshot(store) is before
    assert get_snapshot(other) == {"todos": [], "by_owner": {}, "selected": None, "favorites": []}


def test_putting_a_node_back_into_its_own_slot_does_nothing(store: Any) -> None:
    """As in MST: ``s.x = s.x`` (a property, an array item, a map entry) is no write."""
    before = get_snapshot(store)
    node, entry = store.todos[0], store.by_owner["d"]
    patches: list[Any] = []
    on_patch(store, lambda patch, _inverse: patches.append(patch))
    store.run(lambda s: s.todos.__setitem__(0, s.todos[0]))
    store.run(lambda s: s.by_owner.__setitem__("d", s.by_owner["d"]))
    assert patches == []
    assert get_snapshot(store) is before
    assert store.todos[0] is node and store.by_owner["d"] is entry and is_alive(node)


def test_adding_a_tree_into_itself_is_a_tree_error(Node: Any) -> None:
    root = Node.create({"name": "r", "children": [{"name": "c"}]})
    before = get_snapshot(root)

    def into_itself(n: Any) -> None:
        n.children[0].children.append(n)

    def as_own_child(n: Any) -> None:
        n.first = n

    holder = types.model("SelfHolder", {"x": types.integer})
    unprotect(root)
    for change in (into_itself, as_own_child):
        with pytest.raises(TreeError):
            change(root)
    assert get_snapshot(root) is before
    assert holder.name == "SelfHolder"


def test_adding_a_root_moves_it_into_the_tree(store: Any, Todo: Any) -> None:
    todo = Todo.create({"id": "new", "title": "n"}, env={"x": 1})
    store.run(lambda s: s.todos.append(todo))
    assert store.todos[3] is todo
    assert get_parent(todo) is store.todos
    assert get_root(todo) is store
    assert get_env(todo) is get_env(store)
    assert resolve_identifier(Todo, store, "new") is todo
    with pytest.raises(ProtectionError):
        todo.title = "outside"


def test_assigning_a_snapshot_creates_nodes(store: Any, Todo: Any) -> None:
    snapshot = get_snapshot(store.todos[0])
    store.run(lambda s: s.by_owner.__setitem__("a2", {**snapshot, "id": "a2"}))
    assert isinstance(store.by_owner["a2"], Todo)
    assert store.by_owner["a2"] is not store.todos[0]


# -------------------------------------------------------------- detach/destroy
def test_detach_keeps_node_alive_as_new_root(store: Any, Todo: Any) -> None:
    todo = store.todos[1]
    snapshot = get_snapshot(todo)
    result = detach(todo)
    assert result is todo
    assert is_alive(todo)
    assert is_root(todo)
    assert get_path(todo) == ""
    assert get_snapshot(todo) is snapshot
    assert get_env(todo) is get_env(store)
    assert [t.id for t in store.todos] == ["a", "c"]
    assert resolve_identifier(Todo, store, "b") is None
    assert resolve_identifier(Todo, todo, "b") is todo
    assert is_protected(todo)
    todo.toggle()
    assert todo.done is False
    store.run(lambda s: s.todos.append(todo))
    assert get_parent(todo) is store.todos
    assert store.todos[2] is todo


def test_detach_root_is_noop(store: Any) -> None:
    assert detach(store) is store
    assert is_alive(store)


def test_detach_from_map_and_property(store: Any, Node: Any) -> None:
    todo = store.by_owner["d"]
    detach(todo)
    assert "d" not in store.by_owner
    assert is_alive(todo)
    root = Node.create({"first": {"name": "f"}})
    first = root.first
    detach(first)
    assert root.first is None
    assert is_alive(first)
    assert is_root(first)


class _Settings(Model):
    theme: str = "light"
    size: int = 1


class _Holder(Model):
    settings: _Settings = {}  # type: ignore[assignment]  # a snapshot default
    required: _Settings

    @action
    def theme(self, theme: str) -> None:
        self.settings.theme = theme


def test_removing_a_required_child_puts_its_default() -> None:
    """As MST: detach leaves a new node built from the default in the slot; destroy
    reconciles the node with the default (MST's fine-grained patches)."""
    holder = _Holder.create({"settings": {"theme": "dark"}, "required": {}})
    patches: list[Any] = []
    on_patch(holder, lambda patch, _inverse: patches.append(patch))
    first = holder.settings
    assert detach(first) is first and is_root(first) and first.theme == "dark"
    assert holder.settings is not first and get_snapshot(holder.settings) == {
        "theme": "light", "size": 1}
    assert patches == [{"op": "replace", "path": "/settings",
                        "value": {"theme": "light", "size": 1}}]
    patches.clear()
    holder.theme("dark")
    patches.clear()
    destroy(holder.settings)
    assert patches == [{"op": "replace", "path": "/settings/theme", "value": "light"}]
    with pytest.raises(TreeError, match="is required and has no default"):
        detach(holder.required)
    assert is_alive(holder.required)


def test_destroy_makes_dead_nodes(store: Any) -> None:
    todo = store.todos[0]
    tags = todo.tags
    destroy(todo)
    assert not is_alive(todo)
    assert not is_alive(tags)
    assert [t.id for t in store.todos] == ["b", "c"]
    with pytest.warns(LivelinessWarning, match="dead Todo"):
        assert todo.title == "Buy milk"
    with pytest.warns(LivelinessWarning, match="dead Todo"):
        assert todo.label == "[ ] Buy milk"
    with pytest.warns(LivelinessWarning, match="the items of a dead list"):
        assert list(tags) == ["shop"]
    assert get_snapshot(todo)["title"] == "Buy milk"  # a snapshot is not a read of the node
    with pytest.raises(DeadNodeError):
        todo.toggle()
    with pytest.raises(DeadNodeError):
        store.run(lambda s: setattr(todo, "title", "x"))
    with pytest.raises(DeadNodeError):
        store.run(lambda s: tags.append("x"))
    with pytest.raises(DeadNodeError):
        destroy(todo)
    assert issubclass(DeadNodeError, MstError)
    assert "dead" in repr(todo)


def test_removed_nodes_are_dead(store: Any) -> None:
    removed = store.todos[2]
    replaced = store.by_owner["d"]
    store.run(lambda s: s.todos.pop())
    store.run(lambda s: s.by_owner.__setitem__("d", {"id": "d", "title": "new"}))
    assert not is_alive(removed)
    # same identifier: reconciled in place, the node survives
    assert is_alive(replaced)
    assert replaced.title == "new"
    store.run(lambda s: s.by_owner.clear())
    assert not is_alive(replaced)
    with pytest.warns(LivelinessWarning, match=r"dead Todo \(last at '/by_owner/d'\)"):
        assert replaced.title == "new"
    # Reading .tags of the dead node warns; changing the dead array then raises.
    with pytest.warns(LivelinessWarning), pytest.raises(DeadNodeError, match="dead"):
        store.run(lambda s: replaced.tags.append("x"))


def test_dead_node_error_message_names_path(store: Any) -> None:
    todo = store.todos[1]
    destroy(todo)
    with pytest.raises(DeadNodeError) as info:
        todo.toggle()
    assert "Todo" in str(info.value)
    assert "/todos/1" in str(info.value)


def test_destroy_root(Todo: Any) -> None:
    todo = Todo.create({"id": "a"})
    destroy(todo)
    assert not is_alive(todo)
    with pytest.raises(DeadNodeError):
        todo.toggle()


def test_destroy_required_property_is_a_tree_error() -> None:
    Inner = types.model("DInner", {"v": types.integer})
    Outer = types.model("DOuter", {"inner": Inner})
    outer = Outer.create({"inner": {"v": 1}})
    with pytest.raises(TreeError):
        destroy(outer.inner)
    assert is_alive(outer.inner)
    assert get_snapshot(outer) == {"inner": {"v": 1}}


def test_clone(store: Any) -> None:
    copy = clone(store)
    assert copy is not store
    assert get_snapshot(copy) == get_snapshot(store)
    assert get_env(copy) is get_env(store)
    assert copy.todos[0] is not store.todos[0]
    assert copy.selected is copy.todos[0]
    copy.todos[0].toggle()
    assert store.todos[0].done is False
    assert get_env(clone(store, keep_environment=False)) == {}
    sub = clone(store.todos[1])
    assert is_root(sub)
    assert get_snapshot(sub) == get_snapshot(store.todos[1])


# ----------------------------------------------------------------- identifiers
def test_identifier_clash_is_a_tree_error(store: Any, Store: Any, Todo: Any) -> None:
    before = get_snapshot(store)
    with pytest.raises(TreeError, match="'a'"):
        store.add_todo("a")
    with pytest.raises(TreeError):
        store.run(lambda s: s.by_owner.__setitem__("b", {"id": "b"}))
    with pytest.raises(TreeError):
        store.run(lambda s: s.todos.append(Todo.create({"id": "c"})))
    assert get_snapshot(store) is before
    with pytest.raises(TreeError):
        Store.create({"todos": [{"id": "x"}, {"id": "x"}]})


def test_same_identifier_on_different_types_is_allowed(Store: Any) -> None:
    Other = types.model("OtherWithId", {"id": types.identifier})
    Holder = types.model("MixedHolder", {"store": Store, "others": types.array(Other)})
    holder = Holder.create({"store": {"todos": [{"id": "a"}]}, "others": [{"id": "a"}]})
    assert resolve_identifier(Other, holder, "a") is holder.others[0]
    assert (
        resolve_identifier(types.model(Store).props["todos"].item, holder, "a")
        is (holder.store.todos[0])
    )


def test_identifier_cannot_change(store: Any) -> None:
    with pytest.raises(TreeError, match="identifier"):
        store.run(lambda s: setattr(s.todos[0], "id", "zz"))
    assert store.todos[0].id == "a"
    with pytest.raises(TreeError):
        apply_snapshot(store.todos[0], {"id": "zz"})
    assert store.todos[0].id == "a"


def test_map_key_must_equal_identifier(Store: Any) -> None:
    with pytest.raises(TreeError, match="put"):
        Store.create({"by_owner": {"x": {"id": "y"}}})


def test_identifier_freed_after_removal_can_be_reused(store: Any, Todo: Any) -> None:
    store.run(lambda s: s.todos.pop(0))
    assert resolve_identifier(Todo, store, "a") is None
    store.add_todo("a", "again")
    assert resolve_identifier(Todo, store, "a").title == "again"


# ----------------------------------------------------------- lifecycle hooks
LOG: list[tuple[str, str]] = []


class Leaf(Model):
    id: Identifier

    def after_create(self) -> None:
        LOG.append(("after_create", self.id))

    def after_attach(self) -> None:
        LOG.append(("after_attach", self.id))

    def before_detach(self) -> None:
        LOG.append(("before_detach", self.id))

    def before_destroy(self) -> None:
        LOG.append(("before_destroy", self.id))


class Branch(Model):
    id: Identifier
    leaves: list[Leaf] = []

    def after_create(self) -> None:
        LOG.append(("after_create", self.id))

    def after_attach(self) -> None:
        LOG.append(("after_attach", self.id))

    def before_detach(self) -> None:
        LOG.append(("before_detach", self.id))

    def before_destroy(self) -> None:
        LOG.append(("before_destroy", self.id))


class Garden(Model):
    branches: list[Branch] = []

    @action
    def run(self, fn: Any) -> Any:
        return fn(self)


@pytest.fixture
def log() -> list[tuple[str, str]]:
    LOG.clear()
    return LOG


def test_after_create_children_before_parents(log: list[tuple[str, str]]) -> None:
    Garden.create({"branches": [{"id": "b1", "leaves": [{"id": "l1"}, {"id": "l2"}]}]})
    assert log == [("after_create", "l1"), ("after_create", "l2"), ("after_create", "b1")]


def test_hooks_order_through_the_lifecycle(log: list[tuple[str, str]]) -> None:
    garden = Garden.create()
    branch = Branch.create({"id": "b", "leaves": [{"id": "l"}]})
    assert log == [("after_create", "l"), ("after_create", "b")]
    log.clear()
    garden.run(lambda g: g.branches.append(branch))
    assert log == [("after_attach", "b")]
    log.clear()
    detach(branch)
    assert log == [("before_detach", "b")]
    assert is_alive(branch)
    log.clear()
    garden.run(lambda g: g.branches.append(branch))
    log.clear()
    destroy(branch)
    assert log == [("before_destroy", "l"), ("before_destroy", "b")]


def test_before_destroy_on_removal(log: list[tuple[str, str]]) -> None:
    garden = Garden.create({"branches": [{"id": "b1", "leaves": [{"id": "l1"}]}, {"id": "b2"}]})
    log.clear()
    garden.run(lambda g: g.branches.pop(0))
    assert log == [("before_destroy", "l1"), ("before_destroy", "b1")]
    log.clear()
    garden.run(lambda g: g.branches.clear())
    assert log == [("before_destroy", "b2")]


def test_after_create_runs_as_action() -> None:
    class Stamped(Model):
        stamp: str = ""

        def after_create(self) -> None:
            self.stamp = "created"

    assert Stamped.create().stamp == "created"


# --------------------------------------------------------------- protection
def test_protection(store: Any) -> None:
    assert is_protected(store)
    with pytest.raises(ProtectionError):
        store.todos[0].title = "x"
    with pytest.raises(ProtectionError):
        store.todos.append({"id": "z"})
    with pytest.raises(ProtectionError):
        store.by_owner["z"] = {"id": "z"}
    with pytest.raises(ProtectionError):
        del store.by_owner["d"]
    unprotect(store)
    assert not is_protected(store)
    assert not is_protected(store.todos[0])
    store.todos[0].title = "x"
    store.todos.append({"id": "z"})
    assert store.todos[0].title == "x"
    assert store.todos[3].id == "z"
    protect(store)
    assert is_protected(store)
    with pytest.raises(ProtectionError):
        store.todos[0].title = "y"


def test_protection_error_names_type_and_path(store: Any) -> None:
    with pytest.raises(ProtectionError) as info:
        store.todos[1].title = "x"
    message = str(info.value)
    assert "Todo" in message
    assert "/todos/1" in message
    assert "action" in message
    with pytest.raises(ProtectionError) as info:
        store.by_owner["d"].tags.append("x")
    assert "/by_owner/d/tags" in str(info.value)
    assert issubclass(ProtectionError, MstError)


def test_unprotect_needs_the_root(store: Any) -> None:
    with pytest.raises(TreeError):
        unprotect(store.todos[0])
    assert is_protected(store)


def test_reading_needs_no_action(store: Any) -> None:
    assert store.todos[0].label == "[ ] Buy milk"
    assert store.selected is store.todos[0]
    assert len(store.todos) == 3


# ---------------------------------------------------------------- disposers
def test_add_disposer_runs_on_destroy(store: Any) -> None:
    calls: list[str] = []
    disposer = add_disposer(store.todos[0], lambda: calls.append("a"))
    add_disposer(store.todos[1], lambda: calls.append("b"))
    assert callable(disposer)
    store.run(lambda s: s.todos.pop(0))
    assert calls == ["a"]
    destroy(store)
    assert calls == ["a", "b"]


def test_add_disposer_not_run_on_rollback_or_detach(store: Any) -> None:
    calls: list[str] = []
    add_disposer(store.todos[0], lambda: calls.append("a"))
    with pytest.raises(RuntimeError):
        store.fail_after(lambda s: s.todos.pop(0))
    assert calls == []
    assert is_alive(store.todos[0])
    detach(store.todos[0])
    assert calls == []
