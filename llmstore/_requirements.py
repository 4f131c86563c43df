"""Check that the ``llmstore`` extra is installed, before anything imports from it.

A plain ``pip install mstlite`` is the state library alone; ``llmstore`` needs
``pip install 'mstlite[llmstore]'``. Checking here gives one clear line
instead of a traceback ending deep in ``aiohttp``.
"""

from __future__ import annotations

from importlib.util import find_spec

__all__: list[str] = []

#: the import names of the extra's dependencies that every platform needs
_NEEDED = ("aiohttp", "huggingface_hub", "platformdirs", "rich")

_missing = [name for name in _NEEDED if find_spec(name) is None]
if _missing:
    raise ImportError(
        f"llmstore needs the 'llmstore' extra (missing: {', '.join(_missing)}): "
        "pip install 'mstlite[llmstore]'"
    )
