"""Where the Hugging Face token goes: only to entries with ``auth: "hf"``, never across hosts.

Two real loopback servers on different addresses (127.0.0.1 and 127.0.0.2) log
the ``Authorization`` header of every request they get.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from llmstore import (
    AuthenticationRequiredError,
    ModelSpec,
    ModelStatus,
    create_llm_store_default_model,
)
from llmstore._gguf import write_gguf_file
from llmstore.catalog import DEFAULT_CATALOG, catalog_from_data
from llmstore.testing import Fault, ModelServer

T = TypeVar("T")
TOKEN = "hf_s3cret"
SIZE = 1_000_000


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_TOKEN", "LLMSTORE_ENDPOINT", "LLMSTORE_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)


def _spec(url: str, **fields: Any) -> ModelSpec:
    return ModelSpec(
        key="m", display_name="M", url=url, filename="m.gguf", min_size_bytes=1000, **fields
    )


def _served(directory: Path) -> Path:
    return write_gguf_file(directory / "m.gguf", size_bytes=SIZE, seed=3)


def _two_hosts(served: Path, body: Callable[[ModelServer, ModelServer], Awaitable[T]]) -> T:
    async def main() -> T:
        async with (
            ModelServer(served) as first,
            ModelServer(served, host="127.0.0.2") as second,
        ):
            return await body(first, second)

    return asyncio.run(main())


async def _pull(models_dir: Path, spec: ModelSpec, **options: Any) -> ModelStatus:
    store = create_llm_store_default_model(
        models_dir=models_dir, catalog=[spec], token=TOKEN, **options
    )
    async with store:
        await store.start_model_download(spec.key)
        return store.model(spec.key).status


def _authorizations(server: ModelServer) -> list[str | None]:
    return [record.headers.get("Authorization") for record in server.requests]


def test_auth_defaults_to_hf_on_the_hub_only() -> None:
    assert all(spec.auth == "hf" for spec in DEFAULT_CATALOG)
    hub, hf_co, plain, other, insecure, told, refused = catalog_from_data(
        [
            {"key": "a", "display_name": "a", "url": "https://huggingface.co/o/r/resolve/main/a",
             "filename": "a.gguf"},
            {"key": "b", "display_name": "b", "url": "https://HF.co/o/r/resolve/main/b",
             "filename": "b.gguf"},
            {"key": "c", "display_name": "c", "url": "https://hf-mirror.com/o/r/c",
             "filename": "c.gguf"},
            {"key": "d", "display_name": "d", "url": "https://huggingface.co.evil.example/d",
             "filename": "d.gguf"},
            {"key": "e", "display_name": "e", "url": "http://huggingface.co/o/r/e",
             "filename": "e.gguf"},
            {"key": "f", "display_name": "f", "url": "https://my.mirror/f", "filename": "f.gguf",
             "auth": "hf"},
            {"key": "g", "display_name": "g", "url": "https://huggingface.co/o/r/g",
             "filename": "g.gguf", "auth": None},
        ]
    )  # fmt: skip
    assert [s.auth for s in (hub, hf_co, plain, other, insecure, told, refused)] == [
        "hf",
        "hf",
        None,
        None,
        None,
        "hf",
        None,
    ]


def test_token_goes_to_an_hf_entry_but_not_across_a_redirect_to_another_host(
    tmp_path: Path,
) -> None:
    served = _served(tmp_path)

    async def body(first: ModelServer, second: ModelServer) -> None:
        # As the Hub does: same-origin hops keep the token, the CDN never gets it.
        first.add_fault("m.gguf", Fault(redirect_to="hop.gguf"))
        first.add_fault("hop.gguf", Fault(redirect_to=second.url_for("m.gguf")))
        spec = _spec(first.url_for("m.gguf"), auth="hf")
        assert await _pull(tmp_path / "models", spec) is ModelStatus.READY
        assert [r.path for r in first.requests] == ["/m.gguf", "/hop.gguf"]
        assert _authorizations(first) == [f"Bearer {TOKEN}", f"Bearer {TOKEN}"]
        assert [r.path for r in second.requests] == ["/m.gguf"]
        assert _authorizations(second) == [None]

    _two_hosts(tmp_path, body)
    assert (tmp_path / "models" / "m.gguf").read_bytes() == served.read_bytes()


def test_redirect_to_another_port_of_the_same_host_drops_the_token(tmp_path: Path) -> None:
    _served(tmp_path)

    async def main() -> None:
        async with ModelServer(tmp_path) as first, ModelServer(tmp_path) as second:
            first.add_fault("m.gguf", Fault(redirect_to=second.url_for("m.gguf")))
            spec = _spec(first.url_for("m.gguf"), auth="hf")
            assert await _pull(tmp_path / "models", spec) is ModelStatus.READY
            assert _authorizations(first) == [f"Bearer {TOKEN}"]
            assert _authorizations(second) == [None]

    asyncio.run(main())


def test_token_never_goes_to_an_entry_without_hf_auth(tmp_path: Path) -> None:
    _served(tmp_path)

    async def body(first: ModelServer, second: ModelServer) -> None:
        assert await _pull(tmp_path / "a", _spec(first.url_for("m.gguf"))) is ModelStatus.READY
        explicit = _spec(second.url_for("m.gguf"), auth=None)
        assert await _pull(tmp_path / "b", explicit) is ModelStatus.READY
        assert _authorizations(first) == [None]
        assert _authorizations(second) == [None]

    _two_hosts(tmp_path, body)


def test_the_configured_mirror_gets_the_token_for_hub_entries_only(tmp_path: Path) -> None:
    _served(tmp_path)

    async def body(mirror: ModelServer, _other: ModelServer) -> None:
        hub = _spec("https://huggingface.co/m.gguf")  # the loopback server serves /NAME
        third_party = _spec("https://models.example/m.gguf")
        assert hub.auth == "hf" and third_party.auth is None
        for index, spec in enumerate((hub, third_party)):
            status = await _pull(tmp_path / str(index), spec, endpoint=mirror.base_url)
            assert status is ModelStatus.READY
        assert [r.path for r in mirror.requests] == ["/m.gguf", "/m.gguf"]
        assert _authorizations(mirror) == [f"Bearer {TOKEN}", None]

    _two_hosts(tmp_path, body)


def test_401_from_a_host_without_the_token_says_why(tmp_path: Path) -> None:
    _served(tmp_path)

    async def main() -> None:
        async with ModelServer(tmp_path, token=TOKEN) as server:
            store = create_llm_store_default_model(
                models_dir=tmp_path / "models", catalog=[_spec(server.url_for("m.gguf"))],
                token=TOKEN,
            )  # fmt: skip
            async with store:
                with pytest.raises(AuthenticationRequiredError) as caught:
                    await store.start_model_download("m")
            assert _authorizations(server) == [None]
        message = str(caught.value)
        assert "the token is not sent to 127.0.0.1" in message
        assert 'only catalog entries with auth "hf" get it' in message

    asyncio.run(main())
