"""Fixtures for the reliability tests: a loopback server on its own thread, child processes.

Child processes (``pull_worker.py``) reach a ``ModelServer`` that runs on a
background thread with its own event loop, so the test process can watch the
server's request log and kill a child at a chosen moment. Test modules get
the helpers through fixtures and never import this file (``tests/llmstore``
has a ``conftest`` of its own).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from llmstore import ModelSpec
from llmstore._gguf import write_gguf_file
from llmstore.testing import ThreadedModelServer as ThreadedServer

WORKER = Path(__file__).with_name("pull_worker.py")
#: what the store may leave behind besides model files: a resumable download
RESUMABLE_SUFFIXES = (".part", ".part.json")


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # The factory reads these; a developer's shell must not change what is tested.
    for name in ("HF_TOKEN", "LLMSTORE_ENDPOINT", "LLMSTORE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)


@dataclass(frozen=True)
class ServedModel:
    """A GGUF file the server serves, and the catalog entry that describes it."""

    key: str
    path: Path
    sha256: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name

    def spec(self, url: str, **overrides: Any) -> ModelSpec:
        fields: dict[str, Any] = {
            "key": self.key,
            "display_name": f"Model {self.key}",
            "url": url,
            "filename": self.filename,
            "size_bytes": self.size,
            "sha256": self.sha256,
            "min_size_bytes": 1024,
        }
        fields.update(overrides)
        return ModelSpec(**fields)


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def make_model(directory: Path, key: str, *, size: int, seed: int = 0) -> ServedModel:
    """Write ``<key>.gguf`` (a valid GGUF file of ``size`` bytes) into ``directory``."""
    path = write_gguf_file(directory / f"{key}.gguf", size_bytes=size, seed=seed)
    return ServedModel(key, path, sha256_of(path), size)


@pytest.fixture
def served_dir(tmp_path: Path) -> Path:
    path = tmp_path / "served"
    path.mkdir()
    return path


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def threaded_server(served_dir: Path) -> Iterator[ThreadedServer]:
    server = ThreadedServer(served_dir)
    server.start()
    try:
        yield server
    finally:
        server.close()


class Worker:
    """A child process running ``pull_worker.py``; reads its JSON-line events.

    Two threads drain the child's stdout and stderr as they come, so a child
    never blocks on a full pipe and the test can wait for one event at a time.
    """

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: list[str | None] = []
        assert process.stdout is not None and process.stderr is not None
        self._readers = [
            threading.Thread(target=self._pump, args=(process.stdout, self._lines.put)),
            threading.Thread(target=self._pump, args=(process.stderr, self._stderr.append)),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream: IO[str], put: Callable[[str | None], None]) -> None:
        with stream:
            for line in stream:
                put(line)
        put(None)

    @property
    def stderr(self) -> str:
        return "".join(line for line in self._stderr if line is not None)

    def next_event(self, timeout: float = 30.0) -> dict[str, Any] | None:
        """The next event line, or None when the process ended without one."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output from the worker within {timeout} s") from None
        if line is None:
            self._lines.put(None)  # later calls see the end too
            return None
        event: dict[str, Any] = json.loads(line)
        self.events.append(event)
        return event

    def wait_for(self, kind: str, timeout: float = 30.0) -> dict[str, Any] | None:
        """Read events until one of ``kind`` (returned) or the end of output (None)."""
        deadline = time.monotonic() + timeout
        while (event := self.next_event(max(0.1, deadline - time.monotonic()))) is not None:
            if event["event"] == kind:
                return event
        return None

    def go(self) -> None:
        """Let a ``gated`` worker start, once it has announced ``waiting``."""
        assert self.wait_for("waiting") is not None, self.stderr
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write("go\n")
        stdin.flush()

    def kill(self) -> None:
        """SIGKILL: no cleanup at all runs in the child."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 60.0) -> int:
        """Wait for the end and read the rest of the output; return the exit code."""
        if self.process.stdin is not None:
            self.process.stdin.close()
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        while (event := self.next_event(timeout)) is not None:
            del event  # collected into self.events
        return code

    def result(self, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for the end and return the ``result`` event; fails when there is none."""
        code = self.finish(timeout)
        results = [event for event in self.events if event["event"] == "result"]
        assert results, f"worker exited with {code} and no result; stderr:\n{self.stderr}"
        assert code == 0, f"worker exited with {code}; stderr:\n{self.stderr}"
        return results[-1]


class WorkerFactory:
    """Starts workers; every worker still running at teardown is killed."""

    def __init__(self) -> None:
        self.started: list[Worker] = []

    def __call__(self, **config: Any) -> Worker:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        worker = Worker(process)
        self.started.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.kill()
            else:
                worker.finish()


@pytest.fixture
def start_worker() -> Iterator[WorkerFactory]:
    factory = WorkerFactory()
    try:
        yield factory
    finally:
        factory.close()


def spec_data(spec: ModelSpec) -> dict[str, Any]:
    """A spec as JSON data for a worker's config."""
    return spec.model_dump()


def leftovers(directory: Path, *, keep: tuple[str, ...] = ()) -> list[str]:
    """Names in ``directory`` other than the given ones."""
    return sorted(name for name in os.listdir(directory) if name not in keep)


@pytest.fixture
def helpers() -> Helpers:
    return Helpers()


class Helpers:
    """The module-level helpers above, for test modules (which never import conftest)."""

    make_model = staticmethod(make_model)
    sha256_of = staticmethod(sha256_of)
    spec_data = staticmethod(spec_data)
    leftovers = staticmethod(leftovers)
