"""The MobX-State-Tree reference: installing it (``npm ci``) and the node command line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["MST_DIR", "command", "prepare", "versions"]

MST_DIR = Path(__file__).resolve().with_name("mst_js")
_INSTALL_TIMEOUT = 300.0


def prepare() -> str | None:
    """Make the MST side runnable; return why it cannot run, or ``None`` when it can.

    Installs the locked versions with ``npm ci`` when ``node_modules`` is
    missing. Never raises: a machine without node or the registry just loses
    this reference.
    """
    if shutil.which("node") is None:
        return "MobX-State-Tree skipped: `node` is not on PATH"
    if (MST_DIR / "node_modules" / "mobx-state-tree").is_dir():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "MobX-State-Tree skipped: node_modules is missing and `npm` is not on PATH"
    try:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=MST_DIR,
            check=True,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
        )
    except subprocess.CalledProcessError as error:
        return f"MobX-State-Tree skipped: `npm ci` failed ({_npm_reason(error)})"
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"MobX-State-Tree skipped: `npm ci` failed ({error})"
    return None


def _npm_reason(error: subprocess.CalledProcessError) -> str:
    """The first telling line of npm's error output (its last one only points to a log)."""
    lines = [line.strip() for line in (error.stderr or error.stdout or "").splitlines()]
    telling = [line for line in lines if line and "complete log" not in line]
    return telling[0] if telling else f"exit status {error.returncode}"


def command(
    workload: str, n: int, options: list[str], *, typecheck: bool
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment running ``bench.js`` for ``workload``.

    Always the production build of mobx and MST; ``typecheck`` adds MST's
    runtime snapshot type checks (``ENABLE_TYPE_CHECK=true``), which mstlite
    always does, so that figure is the like-for-like one.
    """
    env = dict(os.environ, NODE_ENV="production")
    env.pop("ENABLE_TYPE_CHECK", None)
    if typecheck:
        env["ENABLE_TYPE_CHECK"] = "true"
    argv = ["node", "--expose-gc", str(MST_DIR / "bench.js"), workload, str(n), *options]
    return argv, env


def versions() -> dict[str, str]:
    """Installed versions of node, mobx-state-tree and mobx (what is known of them)."""
    found: dict[str, str] = {}
    node = shutil.which("node")
    if node is not None:
        try:
            found["node"] = subprocess.run(
                [node, "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    for package in ("mobx-state-tree", "mobx"):
        manifest = MST_DIR / "node_modules" / package / "package.json"
        if manifest.is_file():
            found[package] = json.loads(manifest.read_text())["version"]
    return found
