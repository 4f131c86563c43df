"""llmstore: manage local language-model files on an mstlite state tree.

It ships in the ``mstlite`` distribution behind the ``llmstore`` extra:
``pip install 'mstlite[llmstore]'``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from llmstore import _requirements  # noqa: F401  (first: one clear line without the extra)
from llmstore.catalog import DEFAULT_CATALOG, ModelFile, ModelSpec, load_catalog
from llmstore.errors import (
    AuthenticationRequiredError,
    CatalogError,
    ConfigError,
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

try:
    __version__: str = _version("mstlite")
except _PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "DEFAULT_CATALOG",
    "AuthenticationRequiredError",
    "CatalogError",
    "ConfigError",
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
