"""The MobX-State-Tree side: one long-lived ``node mst_runner.js`` process, JSON lines.

MST and mobx come from the benchmarks' pinned lock (``benchmarks/mst_js``,
installed with ``npm ci`` by ``benchmarks._mst_js.prepare``), so the
differential test and the benchmarks compare against the very same versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    from benchmarks._mst_js import MST_DIR, prepare
except ModuleNotFoundError:  # plain `pytest` puts tests/, not the repo root, on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks._mst_js import MST_DIR, prepare

__all__ = ["EXPECTED_VERSIONS", "NodeSide", "in_ci", "missing_node_outcome", "unavailable"]

RUNNER = Path(__file__).resolve().with_name("mst_runner.js")
#: The versions the issue pins; a different install is refused, not compared.
EXPECTED_VERSIONS = {"mobx-state-tree": "9.0.0", "mobx": "7.1.3"}


def unavailable() -> str | None:
    """Why the MST side cannot run here (``node`` missing, ``npm ci`` failed), or ``None``."""
    return prepare()


def in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True under CI (``CI`` set to anything but empty, ``0`` or ``false``)."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def missing_node_outcome(reason: str, environ: Mapping[str, str] | None = None) -> str:
    """What a test does without the MST side: ``"fail"`` under CI, else ``"skip"``.

    CI must run the differential test, so there a missing ``node`` is an error,
    never a silent skip.
    """
    return "fail" if in_ci(environ) else "skip"


class NodeSide:
    """A running ``mst_runner.js``: ``run(script)`` and ``replay(init, batches)``."""

    def __init__(self) -> None:
        # Development mode: MST type-checks every write, as mstlite always does.
        env = dict(os.environ, NODE_ENV="development")
        self._process = subprocess.Popen(
            ["node", str(RUNNER), str(MST_DIR / "node_modules")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.versions = self._ask({"cmd": "versions"})
        for package, version in EXPECTED_VERSIONS.items():
            if self.versions.get(package) != version:
                self.close()
                raise RuntimeError(
                    f"{package} {self.versions.get(package)} is installed in {MST_DIR}, "
                    f"the differential test needs {version}: run `npm ci` there"
                )

    def _ask(self, request: dict[str, Any]) -> Any:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"mst_runner.js exited (status {self._process.poll()})")
        reply = json.loads(line)
        if isinstance(reply, dict) and "fatal" in reply:
            raise RuntimeError(f"mst_runner.js failed on a request: {reply['fatal']}")
        return reply

    def run(self, script: dict[str, Any]) -> dict[str, Any]:
        """The MST result document of ``script`` (as ``runner_py.run_script``'s)."""
        result: dict[str, Any] = self._ask({"cmd": "run", "script": script})
        return result

    def replay(self, init: Any, batches: list[list[Any]]) -> dict[str, Any]:
        """Apply each batch with one ``applyPatch`` to a fresh MST tree from ``init``."""
        result: dict[str, Any] = self._ask({"cmd": "replay", "init": init, "steps": batches})
        return result

    def probe(self, name: str, *args: Any) -> Any:
        """The result of the scenario ``name`` of mst_probes.js."""
        return self._ask({"cmd": "probe", "name": name, "args": list(args)})

    def close(self) -> None:
        """End the node process."""
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> NodeSide:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
