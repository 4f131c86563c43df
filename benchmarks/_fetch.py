"""One download-side client in Python, in a fresh process; prints its timings as JSON.

    python -m benchmarks._fetch llmstore URL --dest DEST --size BYTES --sha256 HEX
    python -m benchmarks._fetch aiohttp URL --dest DEST
    python -m benchmarks._fetch hashlib FILE

``llmstore`` is the library's downloader as the store uses it (hashing,
progress callback, fsync, atomic rename). ``aiohttp`` is the floor a Python
client can reach: a bare session streaming 4 MiB chunks to disk, no hashing.
``hashlib`` hashes the served file with the SHA-256 llmstore uses (OpenSSL's),
the hashing floor of an llmstore download.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

__all__ = ["main"]

_CHUNK = 4 * 1024 * 1024


async def _llmstore(
    url: str, dest: Path, size: int, sha256: str, connections: int | None
) -> dict[str, Any]:
    from llmstore._download import download_file, open_session

    progress_calls = 0

    def on_progress(done: int, total: int | None) -> None:
        nonlocal progress_calls
        progress_calls += 1

    start = time.perf_counter()
    async with open_session() as session:
        result = await download_file(
            session,
            url,
            dest,
            expected_size=size,
            sha256=sha256,
            on_progress=on_progress,
            connections=connections,
        )
    seconds = time.perf_counter() - start
    # download_file fsyncs before renaming: its time is already the durable one.
    return {
        "download": seconds,
        "download_fsync": seconds,
        "bytes": result.size,
        "sha256": result.sha256,
        "progress_calls": progress_calls,
    }


async def _aiohttp(url: str, dest: Path) -> dict[str, Any]:
    start = time.perf_counter()
    received = 0
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        response.raise_for_status()
        with dest.open("wb") as file:
            async for chunk in response.content.iter_chunked(_CHUNK):
                file.write(chunk)  # blocking on purpose: the simplest possible client
                received += len(chunk)
            file.flush()
            written = time.perf_counter()
            os.fsync(file.fileno())
    durable = time.perf_counter()
    return {"download": written - start, "download_fsync": durable - start, "bytes": received}


def _hashlib(path: Path) -> dict[str, Any]:
    start = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return {"hash": time.perf_counter() - start, "sha256": digest.hexdigest()}


def main(argv: list[str] | None = None) -> int:
    """Download as the command line says and print the timings."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks._fetch")
    parser.add_argument("client", choices=("llmstore", "aiohttp", "hashlib"))
    parser.add_argument("source", help="the URL to download, or the file to hash")
    parser.add_argument("--dest", type=Path)
    parser.add_argument("--size", type=int)
    parser.add_argument("--sha256")
    parser.add_argument(
        "--connections",
        type=lambda text: None if text == "auto" else int(text),
        default=1,
        help="N, or auto (one stream, split when it idles)",
    )
    args = parser.parse_args(argv)
    if args.client == "hashlib":
        report = _hashlib(Path(args.source))
    elif args.dest is None:
        parser.error(f"{args.client} needs --dest")
    elif args.client == "llmstore":
        if args.size is None or args.sha256 is None:
            parser.error("llmstore needs --size and --sha256")
        report = asyncio.run(
            _llmstore(args.source, args.dest, args.size, args.sha256, args.connections)
        )
    else:
        report = asyncio.run(_aiohttp(args.source, args.dest))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
