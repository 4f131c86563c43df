"""``llmstore demo``: the whole lifecycle offline, against a model served on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from llmstore._download import AUTO_CONNECTIONS, MIN_SEGMENTED
from llmstore._gguf import write_gguf_file
from llmstore._output import Output
from llmstore.catalog import ModelSpec
from llmstore.errors import DownloadCancelledError
from llmstore.store import create_llm_store_default_model
from llmstore.testing import ModelServer
from llmstore.types import ModelStatus
from mstlite import get_snapshot, on_patch
from mstlite.typing import Patch

__all__ = ["run_demo"]

MB = 1_000_000


def _make_model(path: Path, size: int, name: str) -> str:
    write_gguf_file(
        path,
        size_bytes=size,
        metadata={"general.name": name, "general.architecture": "llama"},
    )
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(4 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


async def run_demo(output: Output, *, size_mb: int = 24) -> int:
    """Serve two generated GGUF models on 127.0.0.1 and drive a store through its life."""
    with tempfile.TemporaryDirectory(prefix="llmstore-demo-") as tmp:
        served = Path(tmp) / "served"
        models_dir = Path(tmp) / "models"
        served.mkdir()
        step = _Steps(output)
        step("generate two GGUF models to serve")
        small_size, large_size = size_mb * MB, size_mb * 2 * MB
        small_sha = await asyncio.to_thread(
            _make_model, served / "demo-small.gguf", small_size, "Demo Llama small"
        )
        large_sha = await asyncio.to_thread(
            _make_model, served / "demo-large.gguf", large_size, "Demo Llama large"
        )
        async with ModelServer(served) as server:
            # Slow enough to watch the progress bar, and to cancel the large one part-way.
            server.throttle("demo-small.gguf", bytes_per_second=small_size // 2)
            server.throttle("demo-large.gguf", bytes_per_second=large_size // 4)
            catalog = [
                ModelSpec(
                    key="demo-small",
                    display_name="Demo Llama (small)",
                    url=server.url_for("demo-small.gguf"),
                    filename="demo-small.gguf",
                    size_bytes=small_size,
                    sha256=small_sha,
                    min_size_bytes=MB,
                ),
                ModelSpec(
                    key="demo-large",
                    display_name="Demo Llama (large)",
                    url=server.url_for("demo-large.gguf"),
                    filename="demo-large.gguf",
                    size_bytes=large_size,
                    sha256=large_sha,
                    min_size_bytes=MB,
                ),
            ]
            output.line(f"   serving on {server.url_for('')} ; models dir {models_dir}")
            store = create_llm_store_default_model(models_dir=models_dir, catalog=catalog)
            step("initialize the store (scan the empty models dir)")
            await store.initialize()
            _show_models(output, store)

            progress_patches = 0

            def show_patch(patch: Patch, inverse: Patch) -> None:
                nonlocal progress_patches
                if patch["path"].endswith("/progress"):
                    progress_patches += 1
                    return
                value = json.dumps(patch.get("value")) if "value" in patch else ""
                output.line(f"   patch: {patch['op']} {patch['path']} {value}")

            stop_patches = on_patch(store, show_patch)
            connections = store.env.connections or AUTO_CONNECTIONS
            split = connections > 1 and small_size >= MIN_SEGMENTED
            how = (
                f"pieces over {connections} connections, hash in file order"
                if split
                else f"one stream (files under {MIN_SEGMENTED // 2**20} MiB are not split), hash"
            )
            step(f"pull demo-small: {how}, verify (size, sha256, GGUF header), rename")
            with output.progress() as view:
                subscription = store.progress("demo-small").subscribe(view.update, lambda e: None)
                await store.start_model_download("demo-small")
                subscription.dispose()
            pieces = sum(1 for r in server.requests_for("demo-small.gguf") if r.status == 206)
            if pieces:
                output.line(
                    f"   {pieces} pieces (Range requests answered 206) over "
                    f"{connections} connections; one stream of progress events"
                )
            else:
                output.line("   one request, one stream (answered 200)")
            output.line(f"   ({progress_patches} progress patches, ~10 a second at most)")
            model = store.model("demo-small")
            output.line(f"   {model.key} is {model.status.value} at {model.path}")
            output.line(f"   selected: {store.selected_model_key} (the first ready model)")

            step("the store's snapshot (what is persisted)")
            for text in json.dumps(get_snapshot(store), indent=2).splitlines():
                output.line("   " + text)

            step("start demo-large, cancel it part-way")
            task = asyncio.ensure_future(store.start_model_download("demo-large"))
            large = store.model("demo-large")
            while large.progress < 30 and not task.done():
                await asyncio.sleep(0.05)
            output.line(f"   cancelling at {large.progress:.0f}%")
            await store.cancel_model_download("demo-large")
            try:
                await task
            except DownloadCancelledError as error:
                output.line(f"   {error}")
            leftovers = sorted(p.name for p in models_dir.iterdir() if ".part" in p.name)
            output.line(
                f"   status {large.status.value}; temporary files left: {leftovers or 'none'}"
            )

            step("delete demo-small (the selection is cleared)")
            await store.delete_model("demo-small")
            output.line(
                f"   demo-small is {store.model('demo-small').status.value}; "
                f"selected: {store.selected_model_key}"
            )

            step("pull demo-small again and select it")
            await store.start_model_download("demo-small")
            store.select_model("demo-small")
            stop_patches()
            await store.aclose()

            step("a new store on the same dirs restores the persisted state")
            async with create_llm_store_default_model(
                models_dir=models_dir, catalog=catalog
            ) as restored:
                _show_models(output, restored)
                ready = restored.model("demo-small").status is ModelStatus.READY
                same = restored.selected_model_key == "demo-small"
                output.line(f"   restored: demo-small ready={ready}, selected={same}")
        step("done: everything ran offline on 127.0.0.1")
    # A pull that should have gone in pieces and did not is a failure too.
    ok = ready and same and (pieces > 1 or not split)
    if output.as_json:
        output.json({"ok": ok, "steps": step.titles, "pieces": pieces})
    return 0 if ok else 1


class _Steps:
    def __init__(self, output: Output) -> None:
        self.output = output
        self.number = 0
        self.titles: list[str] = []

    def __call__(self, text: str) -> None:
        self.number += 1
        self.titles.append(text)
        self.output.line(f"\n{self.number}. {text}")


def _show_models(output: Output, store: Any) -> None:
    for model in store.models:
        mark = "*" if store.selected_model_key == model.key else " "
        output.line(f"   {mark} {model.key:<12} {model.status.value:<12} {model.path or ''}")
