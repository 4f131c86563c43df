"""What a node holds only when it is used: listeners, middleware, views, volatile state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mstlite._engine.reactivity import Computed
    from mstlite.typing import ActionCall

__all__ = ["NodeExtras", "subscribe"]

T = TypeVar("T")


def subscribe(listeners: list[T], listener: T) -> Callable[[], None]:
    """Append ``listener`` to ``listeners``; return the disposer that takes it out again."""
    listeners.append(listener)

    def dispose() -> None:
        if listener in listeners:
            listeners.remove(listener)

    return dispose


class NodeExtras:
    """The per-node concerns, each a typed slot; a node has one once any is used."""

    __slots__ = (
        "action_listeners",
        "computeds",
        "disposers",
        "flow_middleware",
        "middleware",
        "patch_listeners",
        "volatile",
    )

    def __init__(self) -> None:
        #: on_patch listeners, called with (patch, inverse) for changes under the node.
        self.patch_listeners: list[Callable[[Any, Any], None]] = []
        #: add_middleware handlers, run around actions on the node's subtree.
        self.middleware: list[Callable[..., Any]] = []
        #: Handlers only flows' events reach, outside the node's middleware (an
        #: UndoManager's, which needs to know when a flow ends): plain actions skip them.
        self.flow_middleware: list[Callable[..., Any]] = []
        #: on_action listeners, called with each outermost action call on the subtree.
        self.action_listeners: list[Callable[[ActionCall], None]] = []
        #: The cached computed views, by name.
        self.computeds: dict[str, Computed] = {}
        #: Volatile state values, by name.
        self.volatile: dict[str, Any] = {}
        #: add_disposer callbacks, called when the node is destroyed.
        self.disposers: list[Callable[[], None]] = []
