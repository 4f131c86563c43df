"""The download benchmark's server, in its own process so clients do not share its CPU.

    python -m benchmarks._serve DIRECTORY [BYTES_PER_SECOND]

Serves the files of DIRECTORY with ``llmstore.testing.ModelServer`` (aiohttp,
``sendfile``) on 127.0.0.1, prints its base URL on one line, and stops when
its standard input is closed. With BYTES_PER_SECOND, every request (so
every connection) is capped at that speed, as CDNs cap single connections.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from llmstore.testing import ModelServer

__all__ = ["main"]


async def _serve(directory: Path, cap: float | None) -> None:
    async with ModelServer(directory) as server:
        if cap is not None:
            for path in directory.iterdir():
                server.throttle(path.name, bytes_per_second=cap)
        print(server.base_url, flush=True)
        # A thread waits for EOF: the loop stays free to serve.
        await asyncio.to_thread(sys.stdin.read)


def main(argv: list[str] | None = None) -> int:
    """Serve the directory named on the command line until stdin closes."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or not Path(args[0]).is_dir():
        print("usage: python -m benchmarks._serve DIRECTORY [BYTES_PER_SECOND]", file=sys.stderr)
        return 2
    asyncio.run(_serve(Path(args[0]), float(args[1]) if len(args) == 2 else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
