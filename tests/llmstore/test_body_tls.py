"""A body read by ``_body`` over TLS: asyncio's SSL transport fills the blocks too.

The server is aiohttp with a self-signed certificate made by the ``openssl``
command for the test; the client trusts exactly that certificate.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from llmstore._download import download_file

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

DATA = os.urandom(5 * 1024 * 1024 + 4321)


def _certificate(where: Path) -> tuple[Path, Path]:
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("drop_after", [None, 1_000_000])
def test_a_tls_body_arrives_whole_and_resumes(tmp_path: Path, drop_after: int | None) -> None:
    cert, key = _certificate(tmp_path)
    requests: list[str | None] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        requests.append(request.headers.get("Range"))
        start = int(request.headers["Range"][6:-1]) if "Range" in request.headers else 0
        response = web.StreamResponse(status=206 if start else 200)
        response.content_length = len(DATA) - start
        response.headers["Accept-Ranges"] = "bytes"
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(DATA) - 1}/{len(DATA)}"
        await response.prepare(request)
        end = len(DATA) if drop_after is None or len(requests) > 1 else drop_after
        for offset in range(start, end, 64 * 1024):
            await response.write(DATA[offset : min(offset + 64 * 1024, end)])
        if end < len(DATA):
            assert request.transport is not None
            request.transport.close()  # a connection lost mid-body
        return response

    async def main() -> None:
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        app = web.Application()
        app.router.add_get("/m.gguf", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_tls)
        await site.start()
        port = runner.addresses[0][1]
        client_tls = ssl.create_default_context(cafile=str(cert))
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=client_tls), auto_decompress=False
            ) as session:
                result = await download_file(
                    session, f"https://127.0.0.1:{port}/m.gguf", tmp_path / "m.gguf",
                    expected_size=len(DATA), sha256=hashlib.sha256(DATA).hexdigest(),
                    chunk_size=256 * 1024, backoff=0.01,
                )  # fmt: skip
                assert result.size == len(DATA)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    assert (tmp_path / "m.gguf").read_bytes() == DATA
    if drop_after is None:
        assert requests == [None]
    else:
        assert requests[0] is None and requests[1] is not None
        resumed_at = int(requests[1][6:-1])
        assert 0 < resumed_at <= drop_after  # no byte after the cut was invented
