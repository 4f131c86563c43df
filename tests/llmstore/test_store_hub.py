"""Models added from Hugging Face by name, end to end: a loopback Hub, its CDN, real files."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from llmstore import (
    AuthenticationRequiredError,
    DownloadCancelledError,
    HTTPStatusError,
    HubError,
    HubNameError,
    LLMStore,
    ModelSpec,
    ModelStatus,
    ProgressEvent,
    UnknownModelError,
    VerificationError,
    create_llm_store_default_model,
)
from llmstore._gguf import write_gguf_file
from llmstore.store import STATE_FILE_NAME
from llmstore.testing import Fault
from llmstore.testing_hub import HubServer

REPO = "bartowski/Tiny-Llama-GGUF"
SPLIT_REPO = "unsloth/Big-GGUF"
SPLIT_PATHS = [f"Q8_0/Big-Q8_0-0000{i}-of-00003.gguf" for i in (1, 2, 3)]
TOKEN = "hf_s3cret"


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    # The store and huggingface_hub read these; a developer's shell must not change the tests.
    for name in ("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "LLMSTORE_ENDPOINT",
                 "LLMSTORE_MODELS_DIR"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


class World:
    """A loopback Hub holding two repos, and stores opened on one models dir."""

    def __init__(self, tmp_path: Path, hub: HubServer) -> None:
        self.hub = hub
        self.models_dir = tmp_path / "models"
        self.sources = tmp_path / "sources"
        self.sources.mkdir(exist_ok=True)
        self.data: dict[str, bytes] = {}
        for seed, quant in enumerate(("Q4_K_M", "Q4_K_S", "Q8_0"), start=1):
            self.put(REPO, f"Tiny-Llama-{quant}.gguf", 150_000 + seed, seed)
        self.put(REPO, "sub/Tiny-Llama-F16.gguf", 170_000, 9)
        hub.add_file(REPO, "README.md", b"# Tiny Llama\n", lfs=False)
        for index, path in enumerate(SPLIT_PATHS):
            self.put(SPLIT_REPO, path, 120_000 + 1000 * index, 20 + index)

    def put(self, repo: str, path: str, size: int, seed: int, **options: Any) -> bytes:
        source = self.sources / f"{seed}.gguf"
        data = write_gguf_file(source, size_bytes=size, seed=seed).read_bytes()
        self.hub.add_file(repo, path, data, **options)
        self.data[f"{repo}/{path}"] = data
        return data

    def store(self, **options: Any) -> LLMStore:
        options.setdefault("endpoint", self.hub.endpoint)
        options.setdefault("catalog", [])
        return create_llm_store_default_model(models_dir=self.models_dir, **options)

    @contextlib.asynccontextmanager
    async def opened(self, **options: Any) -> AsyncIterator[LLMStore]:
        async with self.store(**options) as store:
            yield store

    def cdn_paths(self) -> list[str]:
        return [record.path for record in self.hub.cdn.requests]

    def blob_path(self, repo: str, path: str) -> str:
        return "/" + self.hub.repos[repo.lower()].files[path].blob

    def saved_state(self) -> Any:
        document = json.loads((self.models_dir / STATE_FILE_NAME).read_text(encoding="utf-8"))
        return document["state"]

    def leftovers(self) -> list[str]:
        return sorted(n for n in os.listdir(self.models_dir) if n != STATE_FILE_NAME)


def run(tmp_path: Path, body: Callable[[World], Awaitable[None]], **hub_options: Any) -> None:
    async def main() -> None:
        async with HubServer(tmp_path / "cdn", **hub_options) as hub:
            await body(World(tmp_path, hub))

    asyncio.run(main())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- pulling by name -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "path"),
    [
        (f"hf.co/{REPO}:Q4_K_M", f"{REPO}:Q4_K_M", "Tiny-Llama-Q4_K_M.gguf"),
        (f"{REPO}:q8_0", f"{REPO}:Q8_0", "Tiny-Llama-Q8_0.gguf"),
        (f"huggingface.co/{REPO}:Q4_K_S", f"{REPO}:Q4_K_S", "Tiny-Llama-Q4_K_S.gguf"),
        (f"{REPO}/Tiny-Llama-Q8_0.gguf", f"{REPO}/Tiny-Llama-Q8_0.gguf", "Tiny-Llama-Q8_0.gguf"),
        (f"hf.co/{REPO}/sub/Tiny-Llama-F16.gguf", f"{REPO}/sub/Tiny-Llama-F16.gguf",
         "sub/Tiny-Llama-F16.gguf"),
        ("hf.co/BARTOWSKI/tiny-llama-gguf:q4_k_m", f"{REPO}:Q4_K_M", "Tiny-Llama-Q4_K_M.gguf"),
    ],
)  # fmt: skip
def test_pull_by_each_name_form(tmp_path: Path, name: str, key: str, path: str) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            assert await store.add_model(name) == key
            model = store.model(key)
            assert (model.status, model.spec is not None) == (ModelStatus.IDLE, True)
            await store.start_model_download(key)
            assert model.status is ModelStatus.READY
            assert model.path is not None
            file = Path(model.path)
            assert file.parent == world.models_dir
            assert file.read_bytes() == world.data[f"{REPO}/{path}"]
            assert store.selected_model_key == key
        # The Hub was asked once, with huggingface_hub's files_metadata call.
        (listing,) = world.hub.api_requests()
        assert listing.path.lower().endswith("?blobs=true")  # "True" from older clients

    run(tmp_path, body)


def test_the_same_name_in_any_spelling_gives_the_same_entry(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            first, second = await asyncio.gather(
                store.add_model(f"{REPO}:Q4_K_M"), store.add_model(f"hf.co/{REPO}:Q4_K_M")
            )
            assert first == second == f"{REPO}:Q4_K_M"
            asked = len(world.hub.api_requests())
            assert await store.add_model(f"HF.co/{REPO.upper()}:q4_k_m") == first
            assert await store.add_model(first) == first
            assert len(world.hub.api_requests()) == asked  # known: the Hub is not asked
            assert [m.key for m in store.models] == [first]

    run(tmp_path, body)


def test_hf_endpoint_is_the_hub_when_the_store_has_no_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(world: World) -> None:
        monkeypatch.setenv("HF_ENDPOINT", world.hub.endpoint)
        async with world.opened(endpoint=None) as store:
            key = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
            await store.start_model_download(key)
            assert store.model(key).status is ModelStatus.READY
            assert store.env.catalog[key].url.startswith(world.hub.endpoint + "/")

    run(tmp_path, body)


def test_a_quant_matching_none_or_several_files_is_a_clear_error(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        world.put(REPO, "other/Tiny-Llama-Q8_0.gguf", 140_000, 7)
        async with world.opened() as store:
            with pytest.raises(HubNameError) as none:
                await store.add_model(f"hf.co/{REPO}:Q2_K")
            assert str(none.value) == (
                f"{REPO} has no GGUF file with Q2_K in its name; its GGUF files: "
                "Tiny-Llama-Q4_K_M.gguf, Tiny-Llama-Q4_K_S.gguf, Tiny-Llama-Q8_0.gguf, "
                "other/Tiny-Llama-Q8_0.gguf, sub/Tiny-Llama-F16.gguf"
            )
            with pytest.raises(HubNameError, match="matches several GGUF models") as several:
                await store.add_model(f"hf.co/{REPO}:Q8_0")
            assert "(Tiny-Llama-Q8_0.gguf, other/Tiny-Llama-Q8_0.gguf)" in str(several.value)
            assert isinstance(several.value, UnknownModelError)
            assert store.models == [] and store.env.added == set()
            # Naming the file resolves it.
            key = await store.add_model(f"{REPO}/other/Tiny-Llama-Q8_0.gguf")
            assert key == f"{REPO}/other/Tiny-Llama-Q8_0.gguf"

    run(tmp_path, body)


def test_missing_repos_and_an_unreachable_hub_are_clear_errors(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            with pytest.raises(HubNameError, match="there is no model repo nobody/Nothing-GGUF"):
                await store.add_model("hf.co/nobody/Nothing-GGUF:Q4_K_M")
            with pytest.raises(UnknownModelError, match="OWNER/REPO:QUANT"):
                await store.add_model("no-such-key")
        async with world.opened(endpoint="http://127.0.0.1:9") as store:
            with pytest.raises(HubError, match=r"cannot reach the Hub at http://127\.0\.0\.1:9"):
                await store.add_model(f"hf.co/{REPO}:Q4_K_M")

    run(tmp_path, body)


def test_transient_api_failures_are_retried_then_reported(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            world.hub.fail_api(503, 429)
            assert await store.add_model(f"{REPO}:Q4_K_M") == f"{REPO}:Q4_K_M"
            assert len(world.hub.api_requests()) == 3
            world.hub.fail_api(500, 502, 503)
            with pytest.raises(HubError, match=f"the Hub API answered HTTP 503 for .*/{REPO}$"):
                await store.add_model(f"{REPO}:Q8_0")
            world.hub.fail_api(401)  # not transient: at once, with the hint
            with pytest.raises(HubError, match=r"HTTP 401 .*a token is needed: set \$HF_TOKEN"):
                await store.add_model(f"{REPO}:Q8_0")
            assert len(world.hub.api_requests()) == 7
            assert [m.key for m in store.models] == [f"{REPO}:Q4_K_M"]

    run(tmp_path, body)


def test_a_gated_repo_is_listed_but_its_files_need_the_token(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        world.hub.add_repo("meta/Gated-GGUF", gated=True)
        world.put("meta/Gated-GGUF", "Gated-Q4_0.gguf", 130_000, 31)
        async with world.opened() as store:
            key = await store.add_model("hf.co/meta/Gated-GGUF:Q4_0")
            with pytest.raises(AuthenticationRequiredError, match=r"set \$HF_TOKEN"):
                await store.start_model_download(key)
            assert world.leftovers() == [] and world.cdn_paths() == []
        async with world.opened(token=TOKEN) as store:
            await store.start_model_download(key)
            assert store.model(key).status is ModelStatus.READY

    run(tmp_path, body, token=TOKEN)


def test_a_name_for_a_file_the_catalog_has_gives_the_catalog_key(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        data = world.data[f"{REPO}/Tiny-Llama-Q4_K_M.gguf"]
        spec = ModelSpec(
            key="tiny",
            display_name="Tiny",
            url=world.hub.cdn.url_for("anything.gguf"),
            filename="tiny.gguf",
            size_bytes=len(data),
            sha256=sha256(data),
            min_size_bytes=0,
        )
        async with world.opened(catalog=[spec]) as store:
            assert await store.add_model(f"hf.co/{REPO}:Q4_K_M") == "tiny"
            assert [m.key for m in store.models] == ["tiny"]

    run(tmp_path, body)


# --- split models --------------------------------------------------------------------------


def test_a_split_model_downloads_every_part_and_is_one_model(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        parts = [world.data[f"{SPLIT_REPO}/{path}"] for path in SPLIT_PATHS]
        total = sum(len(part) for part in parts)
        async with world.opened() as store:
            key = await store.add_model(f"hf.co/{SPLIT_REPO}:Q8_0")
            assert key == f"{SPLIT_REPO}:Q8_0"
            events: list[ProgressEvent] = []
            store.progress(key).subscribe(events.append)
            await store.start_model_download(key)
            model = store.model(key)
            assert (model.status, model.display_name, model.size_bytes) == (
                ModelStatus.READY,
                "Big-Q8_0",
                total,
            )
            assert [m.key for m in store.models] == [key]
            files = [world.models_dir / f.filename for f in store.env.catalog[key].files]
            assert model.path == str(files[0])  # llama.cpp loads a split from its first part
            assert [file.read_bytes() for file in files] == parts
            assert world.leftovers() == sorted(file.name for file in files)
            # One stream of progress over all parts, ending at the total.
            done = [event.bytes_done for event in events]
            assert done == sorted(done) and events[-1].bytes_done == total
            assert {event.total for event in events} == {total} and events[-1].done
            for path in SPLIT_PATHS:
                assert world.blob_path(SPLIT_REPO, path) in world.cdn_paths()
        async with world.opened() as store:  # a restart knows it, complete
            assert store.model(key).status is ModelStatus.READY
            await store.delete_model(key)
            assert store.models == [] and world.leftovers() == []

    run(tmp_path, body)


def test_a_split_model_missing_a_part_on_disk_is_not_ready(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            key = await store.add_model(f"{SPLIT_REPO}/{SPLIT_PATHS[0]}")
            await store.start_model_download(key)
            last = store.env.catalog[key].files[-1].filename
        os.unlink(world.models_dir / last)
        async with world.opened() as store:
            assert store.model(key).status is ModelStatus.IDLE
            assert store.selected_model_key is None
            before = len(world.cdn_paths())
            await store.start_model_download(key)  # only the missing part is fetched
            assert world.cdn_paths()[before:] == [world.blob_path(SPLIT_REPO, SPLIT_PATHS[2])]
            assert store.model(key).status is ModelStatus.READY

    run(tmp_path, body)


def test_a_failed_part_keeps_the_verified_parts_for_the_next_pull(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        second = world.hub.repos[SPLIT_REPO.lower()].files[SPLIT_PATHS[1]].blob
        world.hub.cdn.add_fault(second, Fault(status=404))
        async with world.opened() as store:
            key = await store.add_model(f"{SPLIT_REPO}:Q8_0")
            with pytest.raises(HTTPStatusError, match="HTTP 404"):
                await store.start_model_download(key)
            assert store.model(key).status is ModelStatus.ERROR
            first = store.env.catalog[key].filename
            assert world.leftovers() == [first]  # verified; no temporary file of part 2
            before = len(world.cdn_paths())
            await store.start_model_download(key)
            assert world.cdn_paths()[before:] == [
                world.blob_path(SPLIT_REPO, path) for path in SPLIT_PATHS[1:]
            ]
            assert store.model(key).status is ModelStatus.READY

    run(tmp_path, body)


def test_cancelling_a_split_model_leaves_nothing(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        second = world.hub.repos[SPLIT_REPO.lower()].files[SPLIT_PATHS[1]].blob
        world.hub.cdn.throttle(second, bytes_per_second=40_000)  # about 3 s for part 2
        async with world.opened() as store:
            key = await store.add_model(f"{SPLIT_REPO}:Q8_0")
            first, part2 = (f.filename for f in store.env.catalog[key].files[:2])
            pulling = asyncio.ensure_future(store.start_model_download(key))
            deadline = asyncio.get_running_loop().time() + 20
            while not (world.models_dir / f"{part2}.part").exists():
                assert asyncio.get_running_loop().time() < deadline, "part 2 never started"
                await asyncio.sleep(0.01)
            assert (world.models_dir / first).exists()
            await store.cancel_model_download(key)
            with pytest.raises(DownloadCancelledError):
                await pulling
            assert store.model(key).status is ModelStatus.IDLE
            assert world.leftovers() == []

    run(tmp_path, body)


# --- verification --------------------------------------------------------------------------


def test_an_lfs_sha256_that_does_not_match_fails_clearly_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    async def body(world: World) -> None:
        world.put(REPO, "Tiny-Llama-Q6_K.gguf", 160_000, 11, listed_sha256="0" * 64)
        async with world.opened() as store:
            key = await store.add_model(f"hf.co/{REPO}:Q6_K")
            with pytest.raises(VerificationError) as caught:
                await store.start_model_download(key)
            message = str(caught.value)
            assert f"but {'0' * 64} was expected" in message and "SHA-256" in message
            model = store.model(key)
            assert model.status is ModelStatus.ERROR and model.error is not None
            assert "SHA-256" in model.error
            assert world.leftovers() == []

    run(tmp_path, body)


def test_a_bad_part_of_a_split_model_leaves_nothing_of_that_part(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        world.put(SPLIT_REPO, SPLIT_PATHS[1], 121_000, 21, listed_sha256="1" * 64)
        async with world.opened() as store:
            key = await store.add_model(f"{SPLIT_REPO}:Q8_0")
            with pytest.raises(VerificationError, match="1" * 64):
                await store.start_model_download(key)
            spec = store.env.catalog[key]
            assert world.leftovers() == [spec.filename]  # part 1, verified; nothing else
            await store.delete_model(key)  # removes the verified part and the entry
            assert world.leftovers() == [] and store.models == []

    run(tmp_path, body)


# --- offline mode --------------------------------------------------------------------------


def test_offline_mode_refuses_new_names_and_uses_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            ready = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
            await store.start_model_download(ready)
            idle = await store.add_model(f"hf.co/{REPO}:Q8_0")
        asked, fetched = len(world.hub.requests), len(world.cdn_paths())
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        async with world.opened() as store:
            with pytest.raises(HubError, match=r"offline mode is on \(\$HF_HUB_OFFLINE\)"):
                await store.add_model(f"hf.co/{REPO}:Q4_K_S")
            assert await store.add_model(f"{REPO}:q4_k_m") == ready
            assert await store.add_model(f"hf.co/{REPO}:Q8_0") == idle
            await store.start_model_download(ready)  # downloaded: nothing to fetch
            with pytest.raises(HubError, match=f"cannot download {idle}: offline mode is on"):
                await store.start_model_download(idle)
            assert store.model(ready).status is ModelStatus.READY
            assert store.model(idle).status is ModelStatus.IDLE
        assert (len(world.hub.requests), len(world.cdn_paths())) == (asked, fetched)

    run(tmp_path, body)


# --- the token -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "hub"),
    [("argument", "endpoint"), ("HF_TOKEN", "endpoint"), ("HF_TOKEN", "HF_ENDPOINT")],
)
def test_the_token_goes_to_the_hub_and_never_to_the_cdn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, hub: str
) -> None:
    async def body(world: World) -> None:
        world.hub.add_repo("acme/Private-GGUF", private=True)
        world.put("acme/Private-GGUF", "Private-Q4_0.gguf", 130_000, 30)
        async with world.opened() as store:  # no token: the repo is not found
            with pytest.raises(HubNameError, match=r"set \$HF_TOKEN if it is private"):
                await store.add_model("hf.co/acme/Private-GGUF:Q4_0")
        options: dict[str, Any] = {}
        if source == "argument":
            options["token"] = TOKEN
        else:
            monkeypatch.setenv("HF_TOKEN", TOKEN)
        if hub == "HF_ENDPOINT":  # the Hub named by $HF_ENDPOINT is the Hub host too
            monkeypatch.setenv("HF_ENDPOINT", world.hub.endpoint)
            options["endpoint"] = None
        world.hub.requests.clear()
        async with world.opened(**options) as store:
            key = await store.add_model("hf.co/acme/Private-GGUF:Q4_0")
            await store.start_model_download(key)
            assert store.model(key).status is ModelStatus.READY
        paths = [record.path for record in world.hub.requests]
        assert any(path.startswith("/api/models/acme/Private-GGUF") for path in paths)
        assert any("/resolve/" in path for path in paths)
        for record in world.hub.requests:
            assert record.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert world.hub.cdn.requests, "the bytes came from the CDN"
        for record in world.hub.cdn.requests:
            assert "Authorization" not in record.headers
            assert TOKEN not in str(dict(record.headers))

    run(tmp_path, body, token=TOKEN)


# --- persistence, rm and --keep-entry ------------------------------------------------------


def test_added_models_survive_a_restart(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            ready = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
            await store.start_model_download(ready)
            idle = await store.add_model(f"hf.co/{SPLIT_REPO}:Q8_0")
            specs = {key: store.env.catalog[key] for key in (ready, idle)}
        saved = {m["key"]: m for m in world.saved_state()["models"]}
        assert ModelSpec.model_validate(saved[idle]["spec"]) == specs[idle]
        asked = len(world.hub.requests)
        async with world.opened() as store:
            assert [m.key for m in store.models] == [ready, idle]
            assert store.model(ready).status is ModelStatus.READY
            assert store.model(idle).status is ModelStatus.IDLE
            assert store.selected_model_key == ready
            assert {key: store.env.catalog[key] for key in specs} == specs
            await store.start_model_download(idle)  # no new lookup: the entry is known
            assert store.model(idle).status is ModelStatus.READY
            store.select_model(idle)
        assert len(world.hub.api_requests()) == asked - 1  # only the first run's lookups
        async with world.opened() as store:
            assert store.selected_model_key == idle

    run(tmp_path, body)


def test_deleting_an_added_model_removes_its_entry(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            key = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
            await store.start_model_download(key)
            never = await store.add_model(f"hf.co/{REPO}:Q8_0")
            await store.delete_model(key)
            await store.delete_model(never)  # not downloaded: the entry goes all the same
            assert store.models == [] and store.selected_model_key is None
            assert (store.env.catalog, store.env.added) == ({}, set())
            with pytest.raises(UnknownModelError):
                await store.start_model_download(key)
            assert world.leftovers() == []
        assert world.saved_state()["models"] == []
        async with world.opened() as store:
            assert store.models == []
            asked = len(world.hub.api_requests())
            assert await store.add_model(f"hf.co/{REPO}:Q4_K_M") == key
            assert len(world.hub.api_requests()) == asked + 1  # a new lookup

    run(tmp_path, body)


def test_keep_entry_deletes_the_file_and_keeps_the_model(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            key = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
            await store.start_model_download(key)
            await store.delete_model(key, keep_entry=True)
            model = store.model(key)
            assert (model.status, model.path) == (ModelStatus.IDLE, None)
            assert world.leftovers() == []
        async with world.opened() as store:
            assert store.model(key).status is ModelStatus.IDLE
            await store.start_model_download(key)
            assert store.model(key).status is ModelStatus.READY

    run(tmp_path, body)


def test_a_file_already_on_disk_makes_the_added_model_ready(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        world.models_dir.mkdir()
        name = "bartowski--Tiny-Llama-GGUF--Tiny-Llama-Q4_K_M.gguf"
        (world.models_dir / name).write_bytes(world.data[f"{REPO}/Tiny-Llama-Q4_K_M.gguf"])
        async with world.opened() as store:
            local = name.removesuffix(".gguf")
            assert store.model(local).local_only  # not known yet: a local file
            key = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
            assert [m.key for m in store.models] == [key]
            assert store.model(key).status is ModelStatus.READY
            assert store.selected_model_key == key  # the selection followed the file
        assert world.cdn_paths() == []

    run(tmp_path, body)


def test_a_tampered_saved_entry_is_dropped_and_never_leaves_the_models_dir(
    tmp_path: Path,
) -> None:
    async def body(world: World) -> None:
        async with world.opened() as store:
            key = await store.add_model(f"hf.co/{REPO}:Q4_K_M")
        path = world.models_dir / STATE_FILE_NAME
        document = json.loads(path.read_text(encoding="utf-8"))
        document["state"]["models"][0]["spec"]["filename"] = "../outside.gguf"
        path.write_text(json.dumps(document), encoding="utf-8")
        async with world.opened() as store:
            assert store.models == []
            (warning,) = store.warnings
            assert warning.startswith(
                "dropped a saved model entry that is not valid: filename: Value error, "
                "'../outside.gguf' is not a plain file name"
            )
            with pytest.raises(UnknownModelError):
                store.model(key)

    run(tmp_path, body)
