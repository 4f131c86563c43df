"""User-facing download errors: what, where and what to do; no library internals.

No class names of aiohttp, no status numbers the server never sent, no path
that no longer exists.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from llmstore import DownloadError, VerificationError
from llmstore._download import download_file, open_session
from llmstore._gguf import verify_gguf
from llmstore.testing import Fault, ModelServer

SIZE = 300_000
INTERNALS = re.compile(r"[A-Z][a-z]+(?:[A-Z][a-z]+)*Error|ClientPayload|aiohttp|\b400\b")


def _fail(tmp_path: Path, fault: Fault | None, data: bytes, **options: object) -> str:
    (tmp_path / "m.gguf").write_bytes(data)
    out = tmp_path / "out"

    async def main() -> str:
        async with ModelServer(tmp_path) as server, open_session(sock_read=5) as session:
            if fault is not None:
                server.add_fault("m.gguf", fault, times=None)
            with pytest.raises((DownloadError, VerificationError)) as caught:
                await download_file(
                    session, server.url_for("m.gguf"), out / "m.gguf", backoff=0.01, **options
                )
            return str(caught.value)

    message = asyncio.run(main())
    assert list(out.iterdir()) == []  # nothing left, so nothing named may exist
    assert not INTERNALS.search(message), message
    return message


def test_a_body_cut_short_says_so_in_plain_words(tmp_path: Path) -> None:
    cut = Fault(drop_after=1000, ignore_range=True)  # no progress: every retry restarts
    message = _fail(tmp_path, cut, bytes(SIZE), retries=1, expected_size=SIZE)
    assert message.endswith(
        "after 1 retries: the connection closed before the body was complete; "
        "check the network and the server, then pull again"
    )


def test_a_refused_connection_names_the_host(tmp_path: Path) -> None:
    async def main() -> str:
        async with open_session() as session:
            with pytest.raises(DownloadError) as caught:
                await download_file(
                    session, "http://127.0.0.1:9/m.gguf", tmp_path / "m.gguf", retries=0
                )
            return str(caught.value)

    message = asyncio.run(main())
    assert "cannot connect to 127.0.0.1:9 (" in message
    assert not INTERNALS.search(message), message


def test_a_gguf_failure_names_the_url_not_the_deleted_part_file(tmp_path: Path) -> None:
    message = _fail(tmp_path, None, b"<html>" + bytes(SIZE), verify=verify_gguf)
    assert ".part" not in message
    assert message.startswith("the file downloaded from http://127.0.0.1:")
    assert "is not a GGUF model file" in message


def test_a_plain_http_server_announcing_another_size_is_refused_on_its_headers(
    tmp_path: Path,
) -> None:
    """``python -m http.server`` (no Range): its Content-Length is checked before the body."""
    import subprocess
    import sys

    served = tmp_path / "served"
    served.mkdir()
    (served / "m.gguf").write_bytes(bytes(SIZE))
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
         "--directory", str(served)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()  # Serving HTTP on 127.0.0.1 port N (...)
        port = int(re.search(r"port (\d+)", banner)[1])  # type: ignore[index]
        url = f"http://127.0.0.1:{port}/m.gguf"

        async def main() -> str:
            async with open_session(sock_read=5) as session:
                with pytest.raises(VerificationError) as caught:
                    await download_file(
                        session, url, tmp_path / "out" / "m.gguf", expected_size=SIZE + 1
                    )
                return str(caught.value)

        message = asyncio.run(main())
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
    assert message == (
        f"{url} announces {SIZE} bytes (Content-Length) but the catalog says {SIZE + 1}; "
        "the catalog entry or the URL is wrong"
    )
    assert list((tmp_path / "out").iterdir()) == []
