"""What the results were measured on: the machine, the date, every version involved."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
from typing import Any

from benchmarks import _mst_js

__all__ = ["describe"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _tool_version(tool: str) -> str | None:
    path = shutil.which(tool)
    if path is None:
        return None
    try:
        output = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    # "curl 7.88.1 (x86_64-pc-linux-gnu) ..." or "sha256sum (GNU coreutils) 9.1"
    words = output.split("\n", 1)[0].split()
    return next((word for word in words if word[:1].isdigit()), None)


def _package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe() -> dict[str, Any]:
    """The date (UTC), machine and versions, as plain JSON values."""
    versions: dict[str, str | None] = {platform.python_implementation(): platform.python_version()}
    for package in ("mstlite", "pydantic", "pydantic-core", "jsonpatch", "aiohttp"):
        versions[package] = _package_version(package)
    versions.update(_mst_js.versions())
    versions["curl"] = _tool_version("curl")
    versions["sha256sum"] = _tool_version("sha256sum")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "versions": {name: version for name, version in versions.items() if version},
    }
