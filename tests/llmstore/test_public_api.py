"""The public API of ``llmstore``, pinned: what is exported, and the factory's signature."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types

import llmstore
import llmstore.errors
from llmstore import LLMStore, create_llm_store_default_model

EXPORTED = [
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


def _public_names(module: types.ModuleType) -> set[str]:
    """Names a user can import from ``module`` (submodules and ``annotations`` left out)."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and type(value).__module__ != "__future__"
    }


def test_all_is_exactly_the_pinned_list() -> None:
    assert llmstore.__all__ == EXPORTED  # sorted, no duplicates, nothing added by accident
    assert _public_names(llmstore) == set(EXPORTED)
    for name in EXPORTED:
        assert getattr(llmstore, name) is not None, name


def test_version_comes_from_the_installed_metadata() -> None:
    from importlib.metadata import version

    import mstlite

    assert llmstore.__version__ == version("mstlite") == mstlite.__version__


def test_errors_module_exports_match_package() -> None:
    defined_here = {
        name
        for name, value in vars(llmstore.errors).items()
        if isinstance(value, type) and value.__module__ == llmstore.errors.__name__
    }
    assert defined_here == set(llmstore.errors.__all__)
    for name in llmstore.errors.__all__:
        error = getattr(llmstore.errors, name)
        assert getattr(llmstore, name) is error
        assert issubclass(error, llmstore.LLMStoreError)
    assert issubclass(llmstore.UnknownModelError, KeyError)
    assert issubclass(llmstore.ConfigError, ValueError)


def test_factory_signature_is_the_contract() -> None:
    parameters = inspect.signature(create_llm_store_default_model).parameters
    assert list(parameters) == [
        "models_dir",
        "catalog",
        "state_file",
        "endpoint",
        "max_concurrent_downloads",
        "token",
        "stall_timeout",
        "connections",
        "loader",
        "wait_for_lock",
        "read_only",
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    defaults = {name: p.default for name, p in parameters.items()}
    assert defaults == {
        "models_dir": None,
        "catalog": None,
        "state_file": None,
        "endpoint": None,
        "max_concurrent_downloads": 2,
        "token": None,
        "stall_timeout": None,
        "connections": 4,
        "loader": None,
        "wait_for_lock": True,
        "read_only": False,
    }


def test_store_methods_and_views_are_the_contract() -> None:
    methods = {
        "initialize",
        "add_model",
        "start_model_download",
        "cancel_model_download",
        "delete_model",
        "select_model",
        "set_app_state",
        "progress",
        "aclose",
        "clear_error",
        "model",
        "snapshot",
    }
    for name in methods:
        assert callable(getattr(LLMStore, name)), name
    for name in (
        "initialize",
        "add_model",
        "start_model_download",
        "cancel_model_download",
        "delete_model",
    ):
        assert inspect.iscoroutinefunction(getattr(LLMStore, name)), name
    for name in ("selected_model", "downloading_model", "downloading_models", "has_ready_model"):
        assert hasattr(LLMStore, name), name
    fields = set(LLMStore.create({}).snapshot())  # type: ignore[attr-defined]
    assert {"is_initialized", "error", "models", "selected_model_key"} <= fields


def test_import_without_the_extra_fails_with_one_line_naming_it() -> None:
    code = (
        "import sys\n"
        "for name in ('aiohttp', 'rich'):\n"
        "    sys.modules[name] = None  # as if not installed\n"
        "import mstlite\n"
        "try:\n"
        "    import llmstore\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == (
        "llmstore needs the 'llmstore' extra (missing: aiohttp, rich): "
        "pip install 'mstlite[llmstore]'\n"
    )
