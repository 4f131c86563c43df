"""The store's computed views, as in the seed's views module."""

from __future__ import annotations

from typing import Literal, TypeAlias

from llmstore.types import ModelInfo, ModelStatus
from mstlite import Model, computed

__all__ = ["ErrorOperation", "StoreState"]

#: what failed when ``store.error`` was set: a verification failure of a
#: download is "verify", any other download failure "download"
ErrorOperation: TypeAlias = Literal["initialize", "download", "verify", "delete"]
"""What failed when ``store.error`` was set (``store.error_operation``)."""


class StoreState(Model):
    """The persisted state of the store and its views (actions live in ``store``)."""

    is_initialized: bool = False
    #: the latest failure of initialize, a download, a verification or a deletion
    error: str | None = None
    #: what ``error`` is about, so the next success of that operation clears it
    error_operation: ErrorOperation | None = None
    #: the model ``error`` is about (None for initialize)
    error_key: str | None = None
    models: list[ModelInfo] = []
    selected_model_key: str | None = None

    def find(self, key: str) -> ModelInfo | None:
        """The model with ``key``, or None."""
        for model in self.models:
            if model.key == key:
                return model
        return None

    @computed
    def selected_model(self) -> ModelInfo | None:
        """The selected model, if any."""
        key = self.selected_model_key
        return self.find(key) if key is not None else None

    @computed
    def downloading_model(self) -> ModelInfo | None:
        """The first model being downloaded or verified, if any."""
        for model in self.models:
            if model.status in (ModelStatus.DOWNLOADING, ModelStatus.INITIALIZING):
                return model
        return None

    @computed
    def downloading_models(self) -> list[ModelInfo]:
        """Every model being downloaded or verified."""
        return [
            m
            for m in self.models
            if m.status in (ModelStatus.DOWNLOADING, ModelStatus.INITIALIZING)
        ]

    @computed
    def has_ready_model(self) -> bool:
        """True when at least one model is ready to use."""
        return any(m.status is ModelStatus.READY for m in self.models)
