"""Fixtures for llmstore tests: directories, a random payload, a loopback server."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import aiohttp
import pytest

from llmstore._download import open_session
from llmstore.testing import ModelServer

T = TypeVar("T")

PAYLOAD_SIZE = 3 * 1024 * 1024 + 12_345  # a few MB, deliberately not chunk-aligned


@dataclass(frozen=True)
class Payload:
    """A random file the server serves, and what a correct download yields."""

    name: str
    path: Path
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)


class Serve(Protocol):
    def __call__(
        self,
        body: Callable[[ModelServer, aiohttp.ClientSession], Awaitable[T]],
        *,
        token: str | None = None,
        sock_read: float = 5.0,
    ) -> T: ...


@pytest.fixture(scope="session")
def payload_bytes() -> bytes:
    return os.urandom(PAYLOAD_SIZE)


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def served_dir(tmp_path: Path) -> Path:
    path = tmp_path / "served"
    path.mkdir()
    return path


@pytest.fixture
def payload(served_dir: Path, payload_bytes: bytes) -> Payload:
    path = served_dir / "model.gguf"
    path.write_bytes(payload_bytes)
    return Payload("model.gguf", path, payload_bytes, hashlib.sha256(payload_bytes).hexdigest())


@pytest.fixture
def serve(served_dir: Path) -> Serve:
    """Run ``body(server, session)`` in a fresh event loop with a server and a session.

    Both are closed before returning, whatever ``body`` does.
    """

    def run(
        body: Callable[[ModelServer, aiohttp.ClientSession], Awaitable[T]],
        *,
        token: str | None = None,
        sock_read: float = 5.0,
    ) -> T:
        async def main() -> T:
            async with (
                ModelServer(served_dir, token=token) as server,
                open_session(sock_connect=5.0, sock_read=sock_read) as session,
            ):
                return await body(server, session)

        return asyncio.run(main())

    return run
