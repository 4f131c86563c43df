"""download_file against a real loopback server, real files and real asyncio."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from llmstore._download import DownloadResult, download_file, open_session
from llmstore._hashing import HashingWriter
from llmstore._partial import partial_paths
from llmstore.errors import (
    AuthenticationRequiredError,
    DiskFullError,
    DownloadError,
    HTTPStatusError,
    VerificationError,
)
from llmstore.testing import Fault, ModelServer

if TYPE_CHECKING:
    from conftest import Payload, Serve

CHUNK = 64 * 1024
FAST = {"backoff": 0.01, "chunk_size": CHUNK}


def leftovers(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


async def fetch(
    server: ModelServer,
    session: aiohttp.ClientSession,
    payload: Payload,
    dest: Path,
    **kwargs: object,
) -> DownloadResult:
    options: dict[str, object] = {"expected_size": payload.size, "sha256": payload.sha256}
    options.update(FAST)
    options.update(kwargs)
    url = options.pop("url", server.url_for(payload.name))
    assert isinstance(url, str)
    return await download_file(session, url, dest, **options)  # type: ignore[arg-type]


def test_plain_download_is_complete_and_hashed(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    dest = models_dir / payload.name
    seen: list[tuple[int, int | None]] = []

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> DownloadResult:
        result = await fetch(
            server, session, payload, dest, on_progress=lambda d, t: seen.append((d, t))
        )
        (request,) = server.requests
        assert (request.method, request.status, request.range) == ("GET", 200, None)
        return result

    result = serve(body)
    assert result == DownloadResult(dest, payload.size, payload.sha256)
    assert dest.read_bytes() == payload.data
    assert leftovers(models_dir) == [payload.name]
    assert seen[-1] == (payload.size, payload.size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_plain_download_without_known_size_or_hash(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    dest = models_dir / payload.name

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> DownloadResult:
        return await fetch(server, session, payload, dest, expected_size=None, sha256=None)

    assert serve(body).sha256 == payload.sha256


def test_dropped_connection_resumes_with_range_without_resending(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    dropped_at = 1_000_000

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        async with session.head(server.url_for(payload.name)) as head:
            etag = head.headers["ETag"]
        server.add_fault(payload.name, Fault(drop_after=dropped_at))
        await fetch(server, session, payload, models_dir / payload.name)
        first, second = server.requests[1:]
        assert first.range is None and first.bytes_sent == dropped_at
        # The client resumes from what it received; aiohttp may discard a
        # little of what was in flight when the connection dropped.
        assert second.range is not None
        resumed_at = int(second.range.removeprefix("bytes=").removesuffix("-"))
        assert 0 < resumed_at <= dropped_at
        assert second.headers["If-Range"] == etag
        assert second.headers["Accept-Encoding"] == "identity"
        assert second.status == 206
        assert second.content_length == payload.size - resumed_at

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data
    assert leftovers(models_dir) == [payload.name]


def test_server_errors_are_retried_then_succeed(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> list[int]:
        server.add_fault(payload.name, Fault(status=500))
        server.add_fault(payload.name, Fault(status=503))
        await fetch(server, session, payload, models_dir / payload.name)
        return [record.status for record in server.requests]

    assert serve(body) == [500, 503, 200]
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_retries_run_out_with_a_clear_error(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> int:
        server.add_fault(payload.name, Fault(status=503), times=None)
        with pytest.raises(DownloadError, match=r"after 2 retries: HTTP 503"):
            await fetch(server, session, payload, models_dir / payload.name, retries=2)
        return len(server.requests)

    assert serve(body) == 3
    assert leftovers(models_dir) == []


def test_not_found_fails_fast_and_leaves_nothing(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        url = server.url_for("missing.gguf")
        with pytest.raises(HTTPStatusError, match=r"HTTP 404") as caught:
            await fetch(server, session, payload, models_dir / "missing.gguf", url=url)
        assert caught.value.status == 404
        assert caught.value.url == url
        assert url in str(caught.value)
        assert len(server.requests) == 1

    serve(body)
    assert leftovers(models_dir) == []


@pytest.mark.parametrize("given", [None, "wrong"])
def test_unauthorized_asks_for_a_token(
    serve: Serve, payload: Payload, models_dir: Path, given: str | None
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> int:
        with pytest.raises(AuthenticationRequiredError) as caught:
            await fetch(server, session, payload, models_dir / payload.name, token=given)
        assert ("HF_TOKEN" in str(caught.value)) == (given is None)
        return caught.value.status

    assert serve(body, token="s3cret") == (401 if given is None else 403)
    assert leftovers(models_dir) == []


def test_bearer_token_is_sent(serve: Serve, payload: Payload, models_dir: Path) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> str:
        await fetch(server, session, payload, models_dir / payload.name, token="s3cret")
        return server.requests[0].headers["Authorization"]

    assert serve(body, token="s3cret") == "Bearer s3cret"
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_server_ignoring_range_restarts_from_zero(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    restarts: list[int] = []
    seen: list[int] = []

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> list[int]:
        server.add_fault(payload.name, Fault(drop_after=500_000))
        server.add_fault(payload.name, Fault(ignore_range=True))

        def progress(done: int, total: int | None) -> None:
            if done == 0 and seen:
                restarts.append(done)
            seen.append(done)

        await fetch(server, session, payload, models_dir / payload.name, on_progress=progress)
        return [record.status for record in server.requests]

    assert serve(body) == [200, 200]
    assert restarts == [0]
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_partial_answer_for_the_wrong_range_restarts_from_zero(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(drop_after=500_000))
        server.add_fault(payload.name, Fault(range_start=1000))
        await fetch(server, session, payload, models_dir / payload.name)
        _, wrong, fresh = server.requests
        assert wrong.status == 206
        assert fresh.range is None and "If-Range" not in fresh.headers
        assert fresh.status == 200

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_changed_etag_restarts_from_zero(serve: Serve, payload: Payload, models_dir: Path) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(drop_after=500_000, etag='"old-version"'))
        await fetch(server, session, payload, models_dir / payload.name)
        second = server.requests[1]
        assert second.headers["If-Range"] == '"old-version"'
        assert second.range is not None and second.range.startswith("bytes=")
        assert second.status == 200  # If-Range did not match: whole file

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_content_changed_on_server_between_attempts(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    new_data = payload.data[::-1]

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> DownloadResult:
        server.add_fault(payload.name, Fault(drop_after=500_000))
        task = asyncio.ensure_future(
            fetch(server, session, payload, models_dir / payload.name, sha256=None)
        )
        while not server.requests or server.requests[0].bytes_sent < 500_000:
            await asyncio.sleep(0.001)
        server.write_file(payload.name, new_data)
        return await task

    result = serve(body)
    assert (models_dir / payload.name).read_bytes() == new_data
    assert result.size == len(new_data)


def test_content_length_larger_than_body_is_resumed(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(extra_length=1000))
        await fetch(server, session, payload, models_dir / payload.name, expected_size=None)
        first, second = server.requests
        assert first.content_length == payload.size + 1000
        assert second.range is not None
        resumed_at = int(second.range.removeprefix("bytes=").removesuffix("-"))
        # 416 when every byte arrived before the hang-up, else the rest as 206.
        assert second.status == (416 if resumed_at == payload.size else 206)

    serve(body)
    assert (models_dir / payload.name).read_bytes() == payload.data


@pytest.mark.parametrize(
    ("fault", "expected_size", "message"),
    [
        (Fault(endless=True), None, "more than the expected"),
        # Content-Length says so: refused before the body is read.
        (None, -10, r"announces \d+ bytes \(Content-Length\) but the catalog says \d+"),
    ],
    ids=["endless-body", "file-larger-than-catalog"],
)
def test_body_longer_than_expected_is_an_error(
    serve: Serve,
    payload: Payload,
    models_dir: Path,
    fault: Fault | None,
    expected_size: int,
    message: str,
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        if fault is not None:
            server.add_fault(payload.name, fault)
        size = payload.size + (expected_size or 0)
        with pytest.raises(VerificationError, match=message):
            await fetch(server, session, payload, models_dir / payload.name, expected_size=size)
        assert len(server.requests) == 1

    serve(body)
    assert leftovers(models_dir) == []


@pytest.mark.parametrize("connections", [0, -1])
def test_no_connections_is_refused_before_anything_is_fetched(
    serve: Serve, payload: Payload, models_dir: Path, connections: int
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        with pytest.raises(ValueError, match="connections must be positive"):
            dest = models_dir / payload.name
            await fetch(server, session, payload, dest, connections=connections)

    serve(body)
    assert leftovers(models_dir) == []


def test_sha256_mismatch_is_rejected_and_nothing_is_left(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        with pytest.raises(VerificationError, match="SHA-256"):
            await fetch(server, session, payload, models_dir / payload.name, sha256="0" * 64)

    serve(body)
    assert leftovers(models_dir) == []


def test_file_below_min_size_is_rejected(serve: Serve, payload: Payload, models_dir: Path) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        with pytest.raises(VerificationError, match="less than the"):
            await fetch(
                server, session, payload, models_dir / payload.name, min_size=payload.size + 1
            )

    serve(body)
    assert leftovers(models_dir) == []


def test_verify_callable_sees_the_part_file_and_can_reject(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    checked: list[Path] = []

    def reject(path: Path) -> None:
        checked.append(path)
        raise VerificationError(f"{path.name} is not a GGUF file")

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        with pytest.raises(VerificationError, match="not a GGUF"):
            await fetch(server, session, payload, models_dir / payload.name, verify=reject)

    serve(body)
    assert checked == [models_dir / (payload.name + ".part")]
    assert leftovers(models_dir) == []


def test_cancel_mid_stream_stops_within_a_chunk_and_deletes_part(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    progress: list[int] = []

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> float:
        server.add_fault(payload.name, Fault(bytes_per_second=2_000_000))
        task = asyncio.ensure_future(
            fetch(
                server,
                session,
                payload,
                models_dir / payload.name,
                on_progress=lambda done, total: progress.append(done),
            )
        )
        while not progress or progress[-1] < 200_000:
            await asyncio.sleep(0.005)
        assert (models_dir / (payload.name + ".part")).exists()
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - started

    elapsed = serve(body)
    assert elapsed < 0.5
    assert leftovers(models_dir) == []
    assert progress[-1] < payload.size


def write_leftover(dest: Path, data: bytes, sidecar: dict[str, object]) -> None:
    part, sidecar_path = partial_paths(dest)
    part.write_bytes(data)
    sidecar_path.write_text(json.dumps(sidecar))


def test_leftover_from_previous_process_is_resumed(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    dest, kept = models_dir / payload.name, 1_234_567

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        url = server.url_for(payload.name)
        async with session.head(url) as head:
            etag = head.headers["ETag"]
        write_leftover(
            dest,
            payload.data[:kept],
            {"url": url, "etag": etag, "last_modified": None, "total": payload.size},
        )
        await fetch(server, session, payload, dest)
        (resumed,) = server.requests_for(payload.name)[1:]
        assert resumed.range == f"bytes={kept}-"
        assert resumed.headers["If-Range"] == etag
        assert resumed.content_length == payload.size - kept

    serve(body)
    assert dest.read_bytes() == payload.data
    assert leftovers(models_dir) == [payload.name]


def test_leftover_for_another_url_is_discarded(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    dest = models_dir / payload.name
    write_leftover(dest, b"x" * 1000, {"url": "http://elsewhere.invalid/m.gguf", "etag": '"e"'})

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        await fetch(server, session, payload, dest)
        assert server.requests[0].range is None

    serve(body)
    assert dest.read_bytes() == payload.data
    assert leftovers(models_dir) == [payload.name]


def test_redirect_is_followed(serve: Serve, payload: Payload, models_dir: Path) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> list[str]:
        server.add_fault("alias.gguf", Fault(redirect_to=payload.name))
        url = server.url_for("alias.gguf")
        await fetch(server, session, payload, models_dir / payload.name, url=url)
        return [f"{record.path} {record.status}" for record in server.requests]

    assert serve(body) == ["/alias.gguf 302", f"/{payload.name} 200"]
    assert (models_dir / payload.name).read_bytes() == payload.data


@pytest.mark.parametrize(
    ("target", "message"),
    [("loop.gguf", "redirect loop"), ("file:///etc/passwd", "not an http")],
    ids=["loop", "file-scheme"],
)
def test_bad_redirects_fail_clearly(
    serve: Serve, payload: Payload, models_dir: Path, target: str, message: str
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault("loop.gguf", Fault(redirect_to=target), times=None)
        url = server.url_for("loop.gguf")
        with pytest.raises(DownloadError, match=message):
            await fetch(server, session, payload, models_dir / "loop.gguf", url=url)

    serve(body)
    assert leftovers(models_dir) == []


def test_read_stall_times_out_and_resumes(serve: Serve, payload: Payload, models_dir: Path) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        server.add_fault(payload.name, Fault(stall_after=300_000, stall_seconds=30))
        await fetch(server, session, payload, models_dir / payload.name)
        assert server.requests[1].range == "bytes=300000-"

    started = time.monotonic()
    serve(body, sock_read=0.3)
    assert time.monotonic() - started < 5
    assert (models_dir / payload.name).read_bytes() == payload.data


def test_not_enough_disk_space_fails_before_any_request(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        with pytest.raises(DiskFullError, match="free"):
            await fetch(server, session, payload, models_dir / payload.name, expected_size=2**62)
        assert server.requests == []

    serve(body)
    assert leftovers(models_dir) == []


def test_non_http_url_is_refused(models_dir: Path) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(DownloadError, match="only http"):
                await download_file(session, "file:///etc/passwd", models_dir / "x.gguf")

    asyncio.run(main())
    assert leftovers(models_dir) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_writer_reports_a_full_disk() -> None:
    async def main() -> None:
        writer = HashingWriter(Path("/dev/full"), batch_size=CHUNK)
        await writer.open()
        with pytest.raises(DiskFullError, match="no space left"):
            for _ in range(8):
                await writer.write(b"\0" * CHUNK)
            await writer.finish()
        await writer.abort()

    asyncio.run(main())


def test_corrupt_leftover_is_rehashed_and_caught(
    serve: Serve, payload: Payload, models_dir: Path
) -> None:
    dest, kept = models_dir / payload.name, 100_000

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> None:
        url = server.url_for(payload.name)
        async with session.head(url) as head:
            etag = head.headers["ETag"]
        write_leftover(dest, b"\0" * kept, {"url": url, "etag": etag, "total": payload.size})
        with pytest.raises(VerificationError, match="SHA-256"):
            await fetch(server, session, payload, dest)
        assert server.requests[-1].range == f"bytes={kept}-"

    serve(body)
    assert leftovers(models_dir) == []


def test_open_session_is_configured_for_large_downloads() -> None:
    async def main() -> None:
        async with open_session(sock_connect=3, sock_read=7) as session:
            assert session.timeout.total is None
            assert (session.timeout.sock_connect, session.timeout.sock_read) == (3, 7)
            assert session.auto_decompress is False

    asyncio.run(main())


def test_throttled_file_is_served_at_the_given_speed(
    serve: Serve, served_dir: Path, models_dir: Path
) -> None:
    data = os.urandom(200_000)

    async def body(server: ModelServer, session: aiohttp.ClientSession) -> float:
        server.write_file("slow.gguf", data)
        server.throttle("slow.gguf", bytes_per_second=1_000_000)
        started = time.monotonic()
        await download_file(session, server.url_for("slow.gguf"), models_dir / "slow.gguf")
        return time.monotonic() - started

    assert serve(body) >= 0.15
    assert (models_dir / "slow.gguf").read_bytes() == data
