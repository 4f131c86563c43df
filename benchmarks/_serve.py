"""The download benchmark's server, in its own process so clients do not share its CPU.

    python -m benchmarks._serve DIRECTORY

Serves the files of DIRECTORY with ``llmstore.testing.ModelServer`` (aiohttp,
``sendfile``) on 127.0.0.1, prints its base URL on one line, and stops when
its standard input is closed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from llmstore.testing import ModelServer

__all__ = ["main"]


async def _serve(directory: Path) -> None:
    async with ModelServer(directory) as server:
        print(server.base_url, flush=True)
        # A thread waits for EOF: the loop stays free to serve.
        await asyncio.to_thread(sys.stdin.read)


def main(argv: list[str] | None = None) -> int:
    """Serve the directory named on the command line until stdin closes."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not Path(args[0]).is_dir():
        print("usage: python -m benchmarks._serve DIRECTORY", file=sys.stderr)
        return 2
    asyncio.run(_serve(Path(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
