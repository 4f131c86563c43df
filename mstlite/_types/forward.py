"""Forward references: names in annotations resolve where the model was defined.

As ``typing.get_type_hints`` and pydantic do, a name is looked up in the class
body's enclosing scope (the function's locals when the model is defined in a
function), then in the defining module's globals, then the builtins. A model
defined later in the same function is found among the model classes of that
same scope. Never elsewhere: two modules that each define ``Item`` each get
their own. A name found nowhere, or twice in one scope, raises ``TypeError``
naming the candidates.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Namespace"]


class Namespace(Mapping[str, Any]):
    """The names an annotation of model class ``cls`` may use, looked up lazily."""

    def __init__(self, cls: type, local: Mapping[str, Any], module: Mapping[str, Any]) -> None:
        self.cls = cls
        self.local = local
        self.module = module

    def __getitem__(self, name: str) -> Any:
        for scope in (self.local, self.module, vars(builtins)):
            if name in scope:
                return scope[name]
        found = self.same_scope(name)
        if len(found) == 1:
            return found[0]
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return iter({**self.module, **self.local})

    def __len__(self) -> int:
        return len({**self.module, **self.local})

    def same_scope(self, name: str) -> list[type]:
        """Live model classes called ``name`` defined in the same scope as ``cls``."""
        scope = _scope(self.cls)
        return [
            other
            for other in _model_classes(self.cls)
            if other.__name__ == name
            and other.__module__ == self.cls.__module__
            and _scope(other) == scope
        ]

    def evaluate(self, expression: str) -> Any:
        """Evaluate an annotation written as a string; ``TypeError`` says what is missing."""
        try:
            return eval(expression, {"__builtins__": {}}, self)
        except NameError as error:
            raise TypeError(self.unresolved(getattr(error, "name", None) or expression)) from None

    def unresolved(self, name: str) -> str:
        """The message for a name that resolves to no class, or to several."""
        where = f"module {self.cls.__module__}" + (
            f" (scope {_scope(self.cls)})" if _scope(self.cls) else ""
        )
        same = self.same_scope(name)
        if len(same) > 1:
            listed = ", ".join(_describe(c) for c in same)
            return (
                f"cannot resolve the forward reference {name!r} of {self.cls.__name__}: it is "
                f"ambiguous, {len(same)} models of that name are defined in {where}: {listed}; "
                "rename one, or use types.late(lambda: TheOne)"
            )
        elsewhere = [c for c in _model_classes(self.cls) if c.__name__ == name]
        hint = (
            "; models of that name exist elsewhere: "
            + ", ".join(_describe(c) for c in elsewhere)
            + " (import the one you mean into that module)"
            if elsewhere
            else ""
        )
        return (
            f"cannot resolve the forward reference {name!r} of {self.cls.__name__}: no such "
            f"name in {where}{hint}; define it there or use types.late(lambda: T)"
        )


def _scope(cls: type) -> str:
    qualname = cls.__qualname__
    return qualname.rpartition(".")[0]


def _describe(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _model_classes(cls: type) -> list[type]:
    """Every live model class: the subclasses of the root model class above ``cls``."""
    root = next((base for base in reversed(cls.__mro__) if "_mst_root" in base.__dict__), cls)
    found: list[type] = []
    stack: list[type] = list(type.__subclasses__(root))
    while stack:
        klass = stack.pop()
        found.append(klass)
        stack.extend(type.__subclasses__(klass))
    return found
