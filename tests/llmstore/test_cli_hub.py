"""`llmstore pull hf.co/OWNER/REPO:QUANT` and friends, as a subprocess against a loopback Hub."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmstore._gguf import write_gguf_file
from llmstore.testing import Fault
from llmstore.testing_hub import HubServer

TIMEOUT = 60  # seconds, for every subprocess call
REPO = "bartowski/Cli-Llama-GGUF"
KEY = f"{REPO}:Q4_K_M"
SPLIT = [f"Cli-Big-Q8_0-0000{i}-of-00002.gguf" for i in (1, 2)]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, self.err
        return json.loads(self.out)


@dataclass
class Cli:
    """Runs ``python -m llmstore`` with HF_ENDPOINT set to the loopback Hub."""

    hub: HubServer
    models_dir: Path
    catalog: Path

    async def run(self, *args: str, **environment: str) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMSTORE_", "HF_"))}
        env.pop("FORCE_COLOR", None)
        env.update(HF_ENDPOINT=self.hub.endpoint, **environment)
        options = ["--models-dir", str(self.models_dir), "--catalog", str(self.catalog)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "llmstore",
            *options,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())


def run(tmp_path: Path, body: Callable[[Cli], Awaitable[None]]) -> None:
    async def main() -> None:
        async with HubServer(tmp_path / "cdn") as hub:
            sources = tmp_path / "sources"
            sources.mkdir()
            for seed, name in enumerate(["Cli-Llama-Q4_K_M.gguf", "Cli-Llama-Q8_0.gguf", *SPLIT]):
                data = write_gguf_file(sources / name, size_bytes=140_000 + seed, seed=seed)
                hub.add_file(
                    "unsloth/Cli-Big-GGUF" if "Big" in name else REPO, name, data.read_bytes()
                )
            catalog = tmp_path / "catalog.json"
            catalog.write_text("[]", encoding="utf-8")
            await body(Cli(hub, tmp_path / "models", catalog))

    asyncio.run(main())


def test_pull_by_name_adds_the_model_then_list_info_rm_know_it(tmp_path: Path) -> None:
    async def body(cli: Cli) -> None:
        pulled = await cli.run("pull", f"hf.co/{REPO}:q4_k_m")
        assert pulled.code == 0, pulled.err
        path = cli.models_dir / "bartowski--Cli-Llama-GGUF--Cli-Llama-Q4_K_M.gguf"
        lines = pulled.out.splitlines()
        assert lines[0] == f"{KEY}: found 140.0 KB on the Hub"
        assert lines[-1] == f"{KEY}: ready at {path}"
        listed = (await cli.run("--json", "list")).json()
        assert [(m["key"], m["status"], m["selected"]) for m in listed["models"]] == [
            (KEY, "ready", True)
        ]
        assert (await cli.run("--json", "select", "--none")).json()["selected_model_key"] is None
        selected = (await cli.run("--json", "select", f"hf.co/{REPO.lower()}:q4_k_m")).json()
        assert selected == {"selected_model_key": KEY}
        info = (await cli.run("--json", "info", f"{REPO}:Q4_K_M")).json()
        assert info["url"].startswith(f"{cli.hub.endpoint}/{REPO}/resolve/")
        assert info["gguf"]["architecture"] == "llama" and info["parts"] is None
        kept = (await cli.run("--json", "rm", KEY, "--yes", "--keep-entry")).json()
        assert kept == {"key": KEY, "deleted": True, "path": str(path), "entry_removed": False}
        listed = (await cli.run("--json", "list")).json()
        assert [(m["key"], m["status"]) for m in listed["models"]] == [(KEY, "idle")]
        removed = await cli.run("rm", f"hf.co/{REPO}:Q4_K_M", "--yes")
        assert (removed.code, removed.out) == (0, f"{KEY}: removed it from the models list\n")
        assert (await cli.run("--json", "list")).json()["models"] == []

    run(tmp_path, body)


def test_pull_of_a_split_model_shows_one_model(tmp_path: Path) -> None:
    async def body(cli: Cli) -> None:
        key = "unsloth/Cli-Big-GGUF:Q8_0"
        pulled = await cli.run("--json", "pull", "unsloth/Cli-Big-GGUF:Q8_0")
        document = pulled.json()
        assert document["results"] == {key: "ready"}
        (row,) = document["models"]
        assert row["path"] == str(cli.models_dir / f"unsloth--Cli-Big-GGUF--{SPLIT[0]}")
        assert row["size_bytes"] == 140_002 + 140_003
        info = (await cli.run("--json", "info", key)).json()
        assert len(info["parts"]) == 2 and info["parts"][1].endswith(SPLIT[1])
        text = await cli.run("info", key)
        assert "parts:" in text.out and "2 files, loaded from the first" in text.out

    run(tmp_path, body)


def test_cancel_discards_the_parts_a_failed_split_pull_kept(tmp_path: Path) -> None:
    async def body(cli: Cli) -> None:
        key = "unsloth/Cli-Big-GGUF:Q8_0"
        second = cli.hub.repos[key.split(":")[0].lower()].files[SPLIT[1]].blob
        cli.hub.cdn.add_fault(second, Fault(status=404))
        failed = await cli.run("pull", "hf.co/unsloth/Cli-Big-GGUF:Q8_0")
        assert failed.code == 1 and "HTTP 404" in failed.err
        kept = sorted(os.listdir(cli.models_dir))
        assert kept == ["llmstore-state.json", f"unsloth--Cli-Big-GGUF--{SPLIT[0]}"]
        cancelled = await cli.run("cancel", key)
        assert (cancelled.code, cancelled.out) == (0, f"{key}: interrupted download discarded\n")
        assert os.listdir(cli.models_dir) == ["llmstore-state.json"]

    run(tmp_path, body)


def test_a_quant_matching_nothing_exits_2_listing_the_repos_files(tmp_path: Path) -> None:
    async def body(cli: Cli) -> None:
        result = await cli.run("pull", f"hf.co/{REPO}:Q2_K")
        assert result.code == 2
        assert result.err.splitlines() == [
            f"error: {REPO} has no GGUF file with Q2_K in its name; its GGUF files: "
            "Cli-Llama-Q4_K_M.gguf, Cli-Llama-Q8_0.gguf"
        ]
        assert not cli.hub.cdn.requests

    run(tmp_path, body)


def test_offline_mode_fails_clearly_without_asking_the_hub(tmp_path: Path) -> None:
    async def body(cli: Cli) -> None:
        result = await cli.run("pull", f"hf.co/{REPO}:Q8_0", HF_HUB_OFFLINE="1")
        assert result.code == 1
        assert "offline mode is on ($HF_HUB_OFFLINE)" in result.err
        assert cli.hub.requests == []

    run(tmp_path, body)


def test_help_names_the_hub_forms_and_keep_entry(tmp_path: Path) -> None:
    async def body(cli: Cli) -> None:
        pull, rm = await asyncio.gather(cli.run("pull", "--help"), cli.run("rm", "--help"))
        assert "hf.co/OWNER/REPO:QUANT" in pull.out and "HF_HUB_OFFLINE" in pull.out
        assert "--keep-entry" in rm.out

    run(tmp_path, body)
