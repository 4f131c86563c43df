"""The llmstore error hierarchy: one base class, grouped by cause."""

from __future__ import annotations

__all__ = [
    "AuthenticationRequiredError",
    "CatalogError",
    "ConfigError",
    "DiskFullError",
    "DownloadCancelledError",
    "DownloadError",
    "HTTPStatusError",
    "HubError",
    "HubNameError",
    "LLMStoreError",
    "ModelBusyError",
    "StateFileError",
    "UnknownModelError",
    "UnsafePathError",
    "VerificationError",
]


class LLMStoreError(Exception):
    """Base class of every error llmstore raises on purpose."""


class UnknownModelError(LLMStoreError, KeyError):
    """Raised when a model key is not in the catalog nor found on disk."""

    def __str__(self) -> str:  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else "unknown model"


class CatalogError(LLMStoreError, ValueError):
    """Raised when a catalog file or entry is malformed."""


class ConfigError(LLMStoreError, ValueError):
    """Raised when a factory argument or an environment variable has an unusable value."""


class UnsafePathError(LLMStoreError, ValueError):
    """Raised when a key, file name or path would leave the models directory."""


class HubError(LLMStoreError):
    """Raised when a model cannot be looked up on the Hugging Face Hub.

    The Hub (or mirror) is unreachable or refused access, or offline mode
    (``$HF_HUB_OFFLINE``) forbids asking it.
    """


class HubNameError(HubError, UnknownModelError):
    """Raised when a Hub name is malformed or names no single GGUF model.

    The repo or file does not exist, or the quantization matches no file or
    several; the message lists the repo's GGUF files. Also an
    ``UnknownModelError`` (and so a ``KeyError``).
    """


class DownloadError(LLMStoreError):
    """Raised when a download fails for good (after any retries)."""


class HTTPStatusError(DownloadError):
    """Raised when the server answers with an HTTP status that is not retried."""

    def __init__(self, message: str, status: int, url: str) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class AuthenticationRequiredError(HTTPStatusError):
    """Raised on 401 or 403: the server wants a token (``$HF_TOKEN`` or ``token``)."""


class DiskFullError(DownloadError):
    """Raised when the models directory has no room for the file."""


class VerificationError(LLMStoreError):
    """Raised when a downloaded or found file fails its size, hash or header check."""


class ModelBusyError(LLMStoreError):
    """Raised when another process holds the model's lock and we were told not to wait."""


class StateFileError(LLMStoreError):
    """Raised when the persisted state file cannot be written."""


class DownloadCancelledError(DownloadError):
    """Raised to the caller of ``start_model_download`` when the download was cancelled."""
