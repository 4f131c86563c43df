"""llmstore: manage local language-model files on an mstlite state tree."""

from __future__ import annotations

from llmstore.catalog import DEFAULT_CATALOG, ModelFile, ModelSpec, load_catalog
from llmstore.errors import (
    AuthenticationRequiredError,
    CatalogError,
    DiskFullError,
    DownloadCancelledError,
    DownloadError,
    HTTPStatusError,
    HubError,
    HubNameError,
    LLMStoreError,
    ModelBusyError,
    StateFileError,
    UnknownModelError,
    UnsafePathError,
    VerificationError,
)
from llmstore.progress import ProgressEvent
from llmstore.store import LLMStore, create_llm_store_default_model
from llmstore.types import ModelInfo, ModelStatus

__all__ = [
    "DEFAULT_CATALOG",
    "AuthenticationRequiredError",
    "CatalogError",
    "DiskFullError",
    "DownloadCancelledError",
    "DownloadError",
    "HTTPStatusError",
    "HubError",
    "HubNameError",
    "LLMStore",
    "LLMStoreError",
    "ModelBusyError",
    "ModelFile",
    "ModelInfo",
    "ModelSpec",
    "ModelStatus",
    "ProgressEvent",
    "StateFileError",
    "UnknownModelError",
    "UnsafePathError",
    "VerificationError",
    "create_llm_store_default_model",
    "load_catalog",
]
