"""The action log: on_action listeners, record_actions and apply_action (replay)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from mstlite._api.paths import resolve_parts
from mstlite._engine.runtime import Runtime, report_error
from mstlite._node.extras import subscribe
from mstlite._node.node import Node
from mstlite._util.frozen import freeze, thaw
from mstlite._util.json_pointer import join_json_path, split_json_path
from mstlite.errors import MstError

if TYPE_CHECKING:
    from mstlite._api.middleware import ActionContext
    from mstlite.typing import ActionCall

__all__ = [
    "ActionRecorder",
    "Recorder",
    "apply_action",
    "on_action",
    "record_actions",
    "report_action",
    "root_of",
]


def on_action(node: Node, listener: Callable[[ActionCall], None]) -> Callable[[], None]:
    """Call ``listener({"name", "path", "args"})`` for each outermost action on the subtree.

    Calls are delivered once the action commits (a failed action is not
    reported); flows are reported when they start. Returns a disposer.
    """
    return subscribe(node._extras().action_listeners, listener)


def report_action(rt: Runtime, node: Node, call: ActionContext) -> None:
    """Tell the action listeners above ``node`` of an outermost call (at commit)."""
    current: Node | None = node
    while current is not None:
        extras = current._ext
        if extras is not None and extras.action_listeners:
            path = _relative_path(current, node)
            serial: ActionCall = {
                "name": call.name,
                "path": path,
                "args": [_serialize(current, a) for a in call.args],
            }
            if call.kwargs:
                serial["kwargs"] = {k: _serialize(current, v) for k, v in call.kwargs.items()}
            for listener in list(extras.action_listeners):
                if rt.tx is not None:
                    rt.tx.action_calls.append((listener, serial))
                else:
                    try:
                        listener(serial)
                    except Exception as error:
                        report_error(error, "an on_action listener", rt)
        current = current._parent


def _relative_path(ancestor: Node, node: Node) -> str:
    parts = node._path_parts()
    return join_json_path(parts[len(ancestor._path_parts()) :])


def _serialize(base: Node, value: Any) -> Any:
    if isinstance(value, Node):
        if value._tree is base._tree and value._alive:
            return {"$ref": _relative_path(root_of(base), value)}
        return thaw(value._get_snapshot())
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        return thaw(freeze(value))
    except TypeError:
        return {"$unserializable": repr(value)}


def _deserialize(base: Node, value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) == {"$ref"}:
        return resolve_parts(root_of(base), split_json_path(value["$ref"]))
    return value


def apply_action(node: Node, call: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> Any:
    """Replay a recorded call (or a list of them, as one action) on ``node``'s tree.

    Returns the action's result (a coroutine to await, for a flow). Raises
    ``MstError`` when the path or the action does not exist.
    """
    if isinstance(call, Mapping):
        return _apply_one(node, call)
    calls = list(call)
    return node._transact(lambda: [_apply_one(node, c) for c in calls])


def _apply_one(node: Node, call: Mapping[str, Any]) -> Any:
    try:
        name = call["name"]
        path = call.get("path", "")
        args = call.get("args", [])
    except (TypeError, KeyError) as error:
        raise MstError(f"not an action call {call!r}: needs name, path and args") from error
    target = resolve_parts(node, split_json_path(path)) if path else node
    method = getattr(target, name, None)
    if method is None or not getattr(method, "__mst_action__", False):
        raise MstError(
            f"{target._describe() if isinstance(target, Node) else path!r} has no action {name!r}"
        )
    arguments = [_deserialize(node, a) for a in args]
    kwargs = {k: _deserialize(node, v) for k, v in call.get("kwargs", {}).items()}
    return method(*arguments, **kwargs)


class Recorder:
    """Records what listeners registered by ``_listen`` hear; ``stop``/``resume``.

    Usable as a context manager that stops on exit.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self._dispose: Callable[[], None] | None = None

    def _listen(self) -> Callable[[], None]:
        raise NotImplementedError

    @property
    def recording(self) -> bool:
        """True while recording."""
        return self._dispose is not None

    def stop(self) -> None:
        """Stop recording (keeps what was recorded)."""
        if self._dispose is not None:
            self._dispose()
            self._dispose = None

    def resume(self) -> None:
        """Start recording again."""
        if self._dispose is None:
            self._dispose = self._listen()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ActionRecorder(Recorder):
    """Records the serializable calls of outermost actions on a subtree.

    ``actions`` is the list; ``stop()``/``resume()``; ``replay(target)``
    applies them to another tree. Usable as a context manager.
    """

    def __init__(self, node: Node) -> None:
        super().__init__(node)
        self.actions: list[ActionCall] = []
        self.resume()

    def _listen(self) -> Callable[[], None]:
        return on_action(self.node, self.actions.append)

    def replay(self, target: Node) -> None:
        """Apply the recorded (synchronous) actions to ``target`` in order."""
        for call in self.actions:
            apply_action(target, call)


def record_actions(node: Node) -> ActionRecorder:
    """Start recording the actions on ``node``'s subtree; see ``ActionRecorder``."""
    return ActionRecorder(node)


def root_of(node: Node) -> Node:
    """The root node of ``node``'s tree."""
    while node._parent is not None:
        node = node._parent
    return node
