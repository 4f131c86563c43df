"""The store's state types: ModelStatus, ModelInfo (mstlite models) and catalog specs."""

from __future__ import annotations

import enum
from typing import Any

from llmstore.catalog import ModelSpec
from mstlite import Frozen, Identifier, Model, action

__all__ = ["ModelInfo", "ModelSpec", "ModelStatus"]


class ModelStatus(enum.StrEnum):
    """Where a model is in its life: idle, downloading, initializing, ready or error."""

    IDLE = "idle"
    DOWNLOADING = "downloading"
    INITIALIZING = "initializing"
    """Verifying the file (size, sha256, GGUF header) and running the loader hook."""
    READY = "ready"
    ERROR = "error"


class ModelInfo(Model):
    """One model the store knows: from the catalog, added from the Hub, or found on disk."""

    key: Identifier
    display_name: str = ""
    path: str | None = None
    """The local file once downloaded, else None."""
    status: ModelStatus = ModelStatus.IDLE
    progress: float = 0.0
    """Download progress, 0 to 100."""
    error: str | None = None
    size_bytes: int | None = None
    local_only: bool = False
    """True for a ``.gguf`` found in the models dir that is not in the catalog."""
    #: the catalog entry (a ``ModelSpec`` as JSON) of a model added by name from the
    #: Hub, kept here so a restart knows it; None for catalog models and local files
    spec: Frozen[dict[str, Any]] | None = None

    @action
    def set_status(
        self,
        status: ModelStatus,
        *,
        path: str | None = None,
        progress: float | None = None,
        error: str | None = None,
    ) -> None:
        """Move to ``status``; ``path`` is kept only when ready, ``error`` only on error."""
        self.status = status
        self.path = path if status is ModelStatus.READY else None
        if progress is not None:
            self.progress = progress
        elif status is ModelStatus.READY:
            self.progress = 100.0
        elif status is ModelStatus.IDLE:
            self.progress = 0.0
        self.error = error if status is ModelStatus.ERROR else None

    @action
    def set_progress(self, percent: float) -> None:
        """Record download progress (0 to 100)."""
        self.progress = max(0.0, min(100.0, round(percent, 2)))
