"""The ``llmstore`` command line, run as a subprocess against a loopback model server."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from llmstore._gguf import read_gguf_header, write_gguf_file
from llmstore.testing import ThreadedModelServer

TIMEOUT = 60  # seconds, for every subprocess call
MB = 1_000_000

#: key -> (size, bytes per second served or None, GGUF metadata)
SERVED: dict[str, tuple[int, float | None, dict[str, str | int]]] = {
    "fast": (
        2 * MB,
        None,
        {"general.name": "CLI Fast", "llama.context_length": 8192, "general.file_type": 7},
    ),
    "steady": (3 * MB, 3 * MB, {"general.name": "CLI Steady"}),
    # Slow enough (16 s) to still run after several other commands on a busy machine.
    "slow": (8 * MB, MB // 2, {"general.name": "CLI Slow"}),
    # A segmented pull of 16 pieces of 2.5 MB (8 s at 5 MB/s).
    "big": (40 * MB, 5 * MB, {"general.name": "CLI Big"}),
}


@dataclass(frozen=True)
class Served:
    """The running server's catalog file and the files it serves."""

    catalog: Path
    files: dict[str, Path]
    sha256: dict[str, str]
    base_url: str
    server: ThreadedModelServer


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("served")
    files: dict[str, Path] = {}
    sha256: dict[str, str] = {}
    for seed, (key, (size, _, metadata)) in enumerate(SERVED.items()):
        path = write_gguf_file(
            directory / f"{key}.gguf", size_bytes=size, metadata=metadata, seed=seed
        )
        files[key] = path
        sha256[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    with ThreadedModelServer(directory) as server:
        for key, (_, rate, _) in SERVED.items():
            if rate is not None:
                server.throttle(f"{key}.gguf", bytes_per_second=rate)
        entries: list[dict[str, Any]] = [
            {
                "key": key,
                "display_name": f"CLI {key}",
                "url": server.url_for(f"{key}.gguf"),
                "filename": f"{key}.gguf",
                "size_bytes": SERVED[key][0],
                "sha256": sha256[key],
                "min_size_bytes": 1000,
            }
            for key in SERVED
        ]
        # Serves fast.gguf, but the catalog expects another sha256: verification fails.
        broken = {"key": "broken", "filename": "broken.gguf", "sha256": "0" * 64}
        entries.append({**entries[0], **broken})
        catalog = directory / "catalog.json"
        catalog.write_text(json.dumps(entries), encoding="utf-8")
        yield Served(catalog, files, sha256, server.base_url, server)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMSTORE_", "HF_"))}
    env.pop("FORCE_COLOR", None)
    return env


@dataclass
class Cli:
    """Runs ``python -m llmstore`` with a fresh models dir and the test catalog."""

    models_dir: Path
    served: Served

    def argv(self, *args: str) -> list[str]:
        options = ["--models-dir", str(self.models_dir), "--catalog", str(self.served.catalog)]
        return [sys.executable, "-m", "llmstore", *options, *args]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_environment(),
        )

    def run_all(self, *calls: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands at the same time (each pays the start-up cost)."""
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda args: self.run(*args), calls))

    def json(self, *args: str, exit_code: int = 0) -> Any:
        """Run with ``--json``; check the exit code and parse the one document on stdout."""
        result = self.run("--json", *args)
        assert result.returncode == exit_code, result.stderr
        return json.loads(result.stdout)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environment(),
        )

    def install(self, key: str) -> Path:
        """Put the served file in the models dir, as a finished download would."""
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copyfile(self.served.files[key], self.models_dir / f"{key}.gguf"))

    def temporary_files(self) -> list[str]:
        """Names of the store's temporary files (``.part``, sidecars, locks) left behind."""
        names = (p.name for p in self.models_dir.iterdir())
        return sorted(n for n in names if n.endswith((".part", ".part.json", ".tmp", ".lock")))


@pytest.fixture(scope="module", autouse=True)
def demo() -> Iterator[subprocess.Popen[str]]:
    """``llmstore --json demo``, started before the first test: its ~6 s, mostly spent
    waiting on its throttled loopback server, overlap the other tests."""
    # 5 MB: over the 4 MiB below which a file is fetched in one stream.
    argv = [sys.executable, "-m", "llmstore", "--json", "demo", "--size-mb", "5"]
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(),
    )
    yield process
    _stop(process)


@pytest.fixture
def cli(tmp_path: Path, served: Served) -> Cli:
    return Cli(tmp_path / "models", served)


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _part_has_bytes(cli: Cli, key: str) -> Callable[[], bool]:
    from llmstore._partial import partial_bytes

    # Pieces preallocate the .part: its sidecar says how much is in it.
    return lambda: partial_bytes(cli.models_dir / f"{key}.gguf") > 0


def _stop(process: subprocess.Popen[Any]) -> None:
    """Kill ``process`` if it still runs; reap it and close its pipes."""
    if process.poll() is None:
        process.kill()
    if process.stdout is not None and not process.stdout.closed:
        process.communicate(timeout=TIMEOUT)


# ------------------------------------------------------------------ help, usage


COMMANDS = ["list", "pull", "cancel", "rm", "select", "status", "info", "dir", "demo"]


def test_help_of_every_command_exits_0(cli: Cli) -> None:
    calls = [("--help",), *((command, "--help") for command in COMMANDS)]
    results = cli.run_all(*calls)
    for args, result in zip(calls, results, strict=True):
        assert result.returncode == 0, (args, result.stderr)
        usage = "usage: llmstore" + (f" {args[0]}" if len(args) == 2 else "")
        assert result.stdout.startswith(usage), result.stdout
    assert all(command in results[0].stdout for command in COMMANDS)
    assert "130 interrupted" in " ".join(results[0].stdout.split())
    assert not cli.models_dir.exists()  # --help touches nothing


def test_bad_arguments_exit_2(cli: Cli) -> None:
    no_keys, both, unknown = cli.run_all(("pull",), ("select", "fast", "--none"), ("frob",))
    assert no_keys.returncode == 2
    assert "the following arguments are required: KEY" in no_keys.stderr
    assert both.returncode == 2
    assert both.stderr == "error: give a KEY, or --none to clear the selection\n"
    assert unknown.returncode == 2
    assert "invalid choice: 'frob'" in unknown.stderr


def test_connections_takes_a_count_or_auto(cli: Cli) -> None:
    zero, word, auto = cli.run_all(
        ("--connections", "0", "list"),
        ("--connections", "many", "list"),
        ("--connections", "auto", "list"),
    )
    for bad, given in ((zero, "'0'"), (word, "'many'")):
        assert bad.returncode == 2
        assert f"expected a whole number from 1 to 64, or auto, got {given}" in bad.stderr
    assert auto.returncode == 0, auto.stderr


def test_unknown_key_fails_with_one_clear_line_and_exit_2(cli: Cli) -> None:
    removed = cli.run("rm", "nope", "--yes")
    assert removed.returncode == 2
    assert removed.stdout == ""
    assert removed.stderr.splitlines() == [
        "error: unknown model 'nope' (known: fast, steady, slow, big, broken)"
    ]
    pulled = cli.run("--json", "pull", "fast", "nope")
    assert pulled.returncode == 2
    assert json.loads(pulled.stdout) == {
        "error": "unknown model 'nope' (known: fast, steady, slow, big, broken)",
        "exit_code": 2,
    }
    assert not (cli.models_dir / "fast.gguf").exists()  # nothing started


# ------------------------------------------------------------------ pull


def test_pull_shows_progress_lines_then_the_final_state(cli: Cli) -> None:
    result = cli.run("pull", "steady")
    assert result.returncode == 0, result.stderr
    path = cli.models_dir / "steady.gguf"
    # Progress on stderr, piped or not (as curl, hf and ollama): stdout has the result only.
    assert result.stdout == f"steady: ready at {path}\n"
    lines = result.stderr.splitlines()
    progress = [
        line
        for line in lines
        if re.fullmatch(
            r"steady: +\d+\.\d% \S+ [KM]?B of 3\.0 MB at \d+\.\d MB/s(, ETA \d+s)?", line
        )
    ]
    # ~1 s at 3 MB/s: the start, at least one step in between, and 100%.
    assert len(progress) >= 3, lines
    percents = [float(line.split()[1].rstrip("%")) for line in progress]
    assert percents == sorted(percents)
    assert any(0 < p < 100 for p in percents)
    assert any("ETA" in line for line in progress)
    assert progress[-1].startswith("steady: 100.0% 3.0 MB of 3.0 MB")
    assert progress == lines
    assert hashlib.sha256(path.read_bytes()).hexdigest() == cli.served.sha256["steady"]
    assert cli.temporary_files() == []
    listed = cli.json("list")
    steady = next(m for m in listed["models"] if m["key"] == "steady")
    assert (steady["status"], steady["path"], steady["selected"]) == ("ready", str(path), True)


def test_pull_json_and_quiet(cli: Cli) -> None:
    quiet = cli.run("--quiet", "pull", "fast")
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    document = cli.json("pull", "fast", "steady")  # fast is already there: verified again
    assert document["interrupted"] is False
    assert document["results"] == {"fast": "ready", "steady": "ready"}
    assert [m["key"] for m in document["models"]] == ["fast", "steady"]
    for model in document["models"]:
        _check_model_row(model)
        assert model["status"] == "ready"
        assert model["path"] == str(cli.models_dir / f"{model['key']}.gguf")


def test_endpoint_rewrites_the_host_of_catalog_urls(cli: Cli, tmp_path: Path) -> None:
    entries = json.loads(cli.served.catalog.read_text(encoding="utf-8"))
    fast = {**entries[0], "url": "https://models.invalid/fast.gguf"}
    mirrored = Cli(cli.models_dir, replace(cli.served, catalog=tmp_path / "mirrored.json"))
    mirrored.served.catalog.write_text(json.dumps([fast]), encoding="utf-8")
    document = mirrored.json("--endpoint", cli.served.base_url, "pull", "fast")
    assert document["results"] == {"fast": "ready"}
    bad = mirrored.run("--endpoint", "ftp://mirror.example", "list")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: endpoint must be an http:// or https:// base URL")


def test_pull_failure_prints_one_readable_line_and_exits_1(cli: Cli) -> None:
    result = cli.run("pull", "broken")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if not line.startswith("broken: ")]
    assert len(errors) == 1, errors
    assert errors[0].startswith("error: download of 'broken' failed: ")
    assert "SHA-256" in errors[0] and "0" * 64 + " was expected" in errors[0]
    assert "ready at" not in result.stdout
    assert sorted(p.name for p in cli.models_dir.iterdir()) == ["llmstore-state.json"]
    document = cli.json("pull", "broken", exit_code=1)
    assert document["results"] == {"broken": "error"}
    (model,) = document["models"]
    assert model["status"] == "error"
    assert model["error"].startswith("download of 'broken' failed")


def _interrupt_pull(cli: Cli, signal_number: int, *options: str) -> tuple[int, str, str]:
    """Start pulling the throttled model, send the signal once bytes arrive, collect."""
    process = cli.start(*options, "pull", "slow")
    try:
        _wait_for(_part_has_bytes(cli, "slow"), "the download to start")
        process.send_signal(signal_number)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        _stop(process)
    assert cli.temporary_files() == []
    assert not (cli.models_dir / "slow.gguf").exists()
    return process.returncode, stdout, stderr


def test_sigint_during_pull_cancels_cleanly_and_exits_130(cli: Cli) -> None:
    exit_code, stdout, stderr = _interrupt_pull(cli, signal.SIGINT)
    assert exit_code == 130, stderr
    assert re.search(r"^slow: +\d+\.\d% ", stderr, re.MULTILINE), stderr
    assert stdout == ""
    assert stderr.endswith("\nerror: interrupted: downloads cancelled, temporary files removed\n")


def test_sigterm_during_pull_cancels_cleanly_and_exits_143(cli: Cli) -> None:
    exit_code, stdout, stderr = _interrupt_pull(cli, signal.SIGTERM, "--json")
    assert exit_code == 143, stderr
    assert stderr == "error: interrupted: downloads cancelled, temporary files removed\n"
    document = json.loads(stdout)
    assert document["interrupted"] is True
    assert document["results"] == {"slow": "cancelled"}
    (slow,) = document["models"]
    assert (slow["status"], slow["progress"], slow["path"]) == ("idle", 0.0, None)


# ------------------------------------------------------------------ cancel, status


def test_cancel_discards_what_a_killed_pull_left(cli: Cli) -> None:
    process = cli.start("pull", "slow")
    try:
        _wait_for(_part_has_bytes(cli, "slow"), "the download to start")
        process.kill()  # no cleanup: the .part stays for the next pull to resume
    finally:
        _stop(process)
    status = cli.json("status")
    assert set(status) == {
        "selected_model_key",
        "ready",
        "error",
        "interrupted_downloads",
        "downloading_elsewhere",
        "models_dir",
        "state_file",
        "warnings",
    }
    (partial,) = status["interrupted_downloads"]
    assert partial["key"] == "slow" and partial["total"] == 8 * MB
    assert 0 < partial["bytes"] < 8 * MB
    assert status["downloading_elsewhere"] == []
    cancelled = cli.json("cancel", "slow")
    assert cancelled == {"key": "slow", "discarded": True, "status": "idle"}
    assert cli.temporary_files() == []


def test_cancel_refuses_while_another_process_downloads(cli: Cli) -> None:
    process = cli.start("pull", "slow")
    try:
        _wait_for(_part_has_bytes(cli, "slow"), "the download to start")
        status = cli.json("status")
        refused = cli.run("cancel", "slow")
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=TIMEOUT)
    finally:
        _stop(process)
    assert status["downloading_elsewhere"] == ["slow"]
    assert status["interrupted_downloads"] == []
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "error: 'slow' is being downloaded by another llmstore process; press Ctrl-C in that "
        "process (or send it SIGTERM) to cancel it"
    ]
    assert process.returncode == 130
    assert cli.temporary_files() == []  # (SIGINT: 130; SIGTERM gives 143)


# ------------------------------------------------------------------ rm, select, list, info


def test_rm_without_yes_refuses_when_stdin_is_not_a_terminal(cli: Cli) -> None:
    path = cli.install("fast")
    result = cli.run("rm", "fast")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: refusing to delete {path} without confirmation: stdin is not a terminal; "
        "pass --yes"
    ]
    assert path.exists()
    assert cli.json("rm", "fast", "--yes") == {
        "key": "fast",
        "deleted": True,
        "path": str(path),
        "entry_removed": False,
    }
    assert not path.exists()
    missing = cli.run("rm", "fast", "--yes")
    assert missing.returncode == 1
    assert "'fast' is not downloaded (idle): there is no file to delete" in missing.stderr


def test_select_of_a_model_that_is_not_ready_fails(cli: Cli) -> None:
    cli.install("fast")
    result = cli.run("select", "steady")
    assert result.returncode == 1
    assert result.stderr == (
        "error: cannot select 'steady': it is idle, not ready; download it first\n"
    )
    assert cli.json("status")["selected_model_key"] == "fast"  # unchanged


def test_list_marks_the_selected_model(cli: Cli) -> None:
    cli.install("fast")
    cli.install("steady")
    assert cli.json("select", "steady") == {"selected_model_key": "steady"}
    lines = cli.run("list").stdout.splitlines()
    assert lines[0].split() == ["key", "name", "status", "size", "path"]
    rows = {
        line.split()[1] if line.startswith("*") else line.split()[0]: line for line in lines[1:]
    }
    assert rows["steady"].startswith("*  steady")
    assert rows["steady"].endswith(str(cli.models_dir / "steady.gguf"))
    assert rows["fast"].startswith("   fast") and " ready " in rows["fast"]
    assert rows["slow"].split() == ["slow", "CLI", "slow", "idle", "8.0", "MB"]
    listed = cli.json("list")
    assert listed["selected_model_key"] == "steady"
    assert [m["selected"] for m in listed["models"]] == [False, True, False, False, False]
    for model in listed["models"]:
        _check_model_row(model)
    assert cli.json("select", "--none") == {"selected_model_key": None}


def test_info_shows_size_sha256_and_gguf_metadata(cli: Cli) -> None:
    path = cli.install("fast")
    header = read_gguf_header(path)
    assert 2 * MB // 4 - 1024 < header.parameter_count < 2 * MB // 4  # one F32 tensor
    text, as_json, not_downloaded_json = cli.run_all(
        ("info", "fast"), ("--json", "info", "fast"), ("--json", "info", "slow")
    )
    assert text.returncode == 0, text.stderr
    fields = dict(re.split(r":\s+", line, maxsplit=1) for line in text.stdout.splitlines())
    assert fields["status"] == "ready (selected)"
    assert fields["size"] == "2.0 MB (2,000,000 bytes)"
    assert fields["sha256"] == cli.served.sha256["fast"]
    assert fields["architecture"] == "llama"
    assert fields["model name"] == "CLI Fast"
    assert fields["parameters"].startswith(f"{header.parameter_count:,} (")
    assert fields["context length"] == "8192"
    assert fields["quantization"] == "Q8_0"
    assert fields["GGUF"] == "version 3, 1 tensors"
    assert as_json.returncode == 0, as_json.stderr
    details = json.loads(as_json.stdout)
    _check_model_row(details)
    assert details["sha256"] == cli.served.sha256["fast"]
    assert details["url"].endswith("/fast.gguf")
    assert details["gguf"] == {
        "gguf_version": 3,
        "architecture": "llama",
        "name": "CLI Fast",
        "parameter_count": header.parameter_count,
        "context_length": 8192,
        "quantization": "Q8_0",
        "tensor_count": 1,
    }
    not_downloaded = json.loads(not_downloaded_json.stdout)
    assert (not_downloaded["status"], not_downloaded["gguf"]) == ("idle", None)
    assert not_downloaded["sha256"] == cli.served.sha256["slow"]


def test_info_of_a_local_model_hashes_its_file(cli: Cli) -> None:
    cli.models_dir.mkdir()
    local = Path(shutil.copyfile(cli.served.files["steady"], cli.models_dir / "mine.gguf"))
    details = cli.json("info", "mine")
    assert details["local_only"] is True and details["url"] is None
    assert details["sha256"] == cli.served.sha256["steady"]
    assert details["path"] == str(local) and details["size_bytes"] == 3 * MB
    assert details["gguf"]["name"] == "CLI Steady"
    pulled = cli.run("pull", "mine")
    assert pulled.returncode == 2
    assert "'mine' is a local model, not in the catalog" in pulled.stderr


def test_dir_and_status_text(cli: Cli) -> None:
    cli.install("fast")
    as_json, text, status = cli.run_all(("--json", "dir"), ("dir",), ("status",))
    assert json.loads(as_json.stdout) == {"models_dir": str(cli.models_dir)}
    assert text.stdout == f"{cli.models_dir}\n"
    assert status.stdout.splitlines() == [
        "selected model: fast",
        "ready: fast",
        f"models dir: {cli.models_dir}",
        f"state file: {cli.models_dir / 'llmstore-state.json'}",
    ]


# ------------------------------------------------------------------ terminal, demo


needs_terminal = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")


def _in_terminal(cli: Cli, *args: str, answer: str | None = None) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal with ``NO_COLOR``; type ``answer`` at its prompt."""
    import pty
    import select

    env = {**_environment(), "NO_COLOR": "1", "COLUMNS": "120", "TERM": "xterm-256color"}
    leader, follower = pty.openpty()
    output = b""
    try:
        try:
            process = subprocess.Popen(
                cli.argv(*args), stdin=follower, stdout=follower, stderr=follower, env=env
            )
        finally:
            os.close(follower)  # the child's copy only: reads see EIO once it exits
        try:
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                if not select.select([leader], [], [], 0.1)[0]:
                    continue
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                output += chunk
                if answer is not None and b"[y/N]" in output:
                    os.write(leader, answer.encode() + b"\n")
                    answer = None
            exit_code = process.wait(timeout=TIMEOUT)
        finally:
            _stop(process)
    finally:
        os.close(leader)
    return exit_code, output.decode()


@needs_terminal
def test_terminal_gets_a_rich_table_without_colour_under_no_color(cli: Cli) -> None:
    cli.install("fast")
    exit_code, text = _in_terminal(cli, "list")
    assert exit_code == 0, text
    assert "┏" in text and "┃" in text  # rich box drawing
    assert re.search(r"│ \* +│ fast ", text)
    assert not re.search(r"\x1b\[(3|4|9)\dm", text)  # no colour codes


@needs_terminal
def test_rm_on_a_terminal_asks_first_and_keeps_the_file_unless_told_yes(cli: Cli) -> None:
    path = cli.install("fast")
    exit_code, text = _in_terminal(cli, "rm", "fast", answer="n")
    assert exit_code == 0, text
    assert f"Delete CLI fast ({path})? [y/N] n" in text
    assert text.rstrip().endswith("fast: kept")
    assert path.exists()


def test_demo_runs_the_whole_lifecycle_offline(demo: subprocess.Popen[str]) -> None:
    stdout, stderr = demo.communicate(timeout=TIMEOUT)
    assert (demo.returncode, stderr) == (0, "")
    document = json.loads(stdout)
    assert document["ok"] is True
    assert document["steps"][0] == "generate two GGUF models to serve"
    assert document["steps"][-1] == "done: everything ran offline on 127.0.0.1"
    assert len(document["steps"]) == 9
    assert document["steps"][2].startswith("pull demo-small: pieces over 4 connections")
    assert document["pieces"] == 5  # 1 MiB pieces: four a connection, at least 1 MiB


def _check_model_row(model: dict[str, Any]) -> None:
    types: dict[str, type | tuple[type, ...]] = {
        "key": str,
        "display_name": str,
        "status": str,
        "progress": float,
        "size_bytes": (int, type(None)),
        "path": (str, type(None)),
        "selected": bool,
        "local_only": bool,
        "error": (str, type(None)),
    }
    for name, kind in types.items():
        assert isinstance(model[name], kind), (name, model)
    assert model["status"] in ("idle", "downloading", "initializing", "ready", "error")


# ------------------------------------------------------------------ conventions


def _after(cli: Cli, *args: str) -> list[str]:
    """argv with the global options after the command, as git and pip allow."""
    options = ["--models-dir", str(cli.models_dir), "--catalog", str(cli.served.catalog)]
    return [sys.executable, "-m", "llmstore", *args, *options]


def _run_argv(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=_environment(),
    )


def test_global_options_work_before_or_after_the_command(cli: Cli) -> None:
    cli.install("fast")
    before = [
        cli.run("--json", "list"),
        cli.run("--json", "status"),
        cli.run("--quiet", "info", "fast"),
    ]
    after = [_run_argv(_after(cli, *args)) for args in (
        ("list", "--json"), ("status", "--json"), ("info", "fast", "--quiet"))]  # fmt: skip
    for first, second in zip(before, after, strict=True):
        assert (second.returncode, second.stdout, second.stderr) == (
            first.returncode,
            first.stdout,
            first.stderr,
        )
    assert json.loads(after[0].stdout)["models"][0]["key"] == "fast"
    # Given on both sides, the one after the command wins.
    elsewhere = cli.models_dir.parent / "elsewhere"
    mixed = cli.run("dir", "--json", "--models-dir", str(elsewhere))
    assert json.loads(mixed.stdout) == {"models_dir": str(elsewhere)}
    pulled = _run_argv(_after(cli, "pull", "fast", "--quiet"))
    assert (pulled.returncode, pulled.stdout, pulled.stderr) == (0, "", "")
    helped = _run_argv([sys.executable, "-m", "llmstore", "pull", "--help"])
    assert "global options (before or after the command):" in helped.stdout
    for option in ("--models-dir", "--catalog", "--endpoint", "--stall-timeout", "--json"):
        assert option in helped.stdout


def test_no_arguments_prints_help_and_version_prints_the_version(cli: Cli) -> None:
    from llmstore import __version__

    bare = _run_argv([sys.executable, "-m", "llmstore"])
    assert (bare.returncode, bare.stderr) == (0, "")
    assert bare.stdout.startswith("usage: llmstore")
    assert "143 terminated (SIGTERM)" in " ".join(bare.stdout.split())
    for flag in ("--version", "-V"):
        shown = _run_argv([sys.executable, "-m", "llmstore", flag])
        assert (shown.returncode, shown.stdout) == (0, f"llmstore {__version__}\n")
    options_only = _run_argv([sys.executable, "-m", "llmstore", "--json"])
    assert options_only.returncode == 2 and "give a COMMAND" in options_only.stderr


def test_read_only_commands_write_nothing(cli: Cli) -> None:
    for args in (("list",), ("status",), ("info", "fast"), ("dir",), ("--json", "status")):
        result = cli.run(*args)
        assert result.returncode == 0, (args, result.stderr)
    assert not cli.models_dir.exists()
    cli.models_dir.mkdir()
    (cli.models_dir / "slow.gguf.lock").write_bytes(b"")  # stale: nobody holds it
    (cli.models_dir / "llmstore-state.json").write_text("{torn", encoding="utf-8")
    listed = cli.run("list")
    assert listed.returncode == 0
    warning = f"warning: the state file {cli.models_dir / 'llmstore-state.json'} is unusable"
    assert listed.stderr.startswith(warning)  # warnings on stderr, the table on stdout
    assert listed.stdout.splitlines()[0].split() == ["key", "name", "status", "size", "path"]
    for args in (("status",), ("info", "slow")):
        assert cli.run(*args).returncode == 0
    assert sorted(p.name for p in cli.models_dir.iterdir()) == [
        "llmstore-state.json",
        "slow.gguf.lock",
    ]
    assert (cli.models_dir / "llmstore-state.json").read_text(encoding="utf-8") == "{torn"


def test_keys_differing_only_in_case_resolve_when_unambiguous(cli: Cli, tmp_path: Path) -> None:
    details = cli.json("info", "FAST")
    assert details["key"] == "fast"
    entries = json.loads(cli.served.catalog.read_text(encoding="utf-8"))
    twins = [{**entries[0], "key": "Tiny", "filename": "Tiny.gguf"},
             {**entries[0], "key": "tiny", "filename": "tiny.gguf"}]  # fmt: skip
    catalog = tmp_path / "twins.json"
    catalog.write_text(json.dumps(twins), encoding="utf-8")
    ambiguous = _run_argv(
        [sys.executable, "-m", "llmstore", "--models-dir", str(cli.models_dir),
         "--catalog", str(catalog), "info", "TINY"]
    )  # fmt: skip
    assert ambiguous.returncode == 2
    assert ambiguous.stderr == (
        "error: unknown model 'TINY': 'Tiny' and 'tiny' differ from it only in case; "
        "give one exactly\n"
    )


def test_status_shows_the_last_error_until_the_model_downloads(cli: Cli) -> None:
    failed = cli.run("pull", "broken")
    assert failed.returncode == 1
    status = cli.json("status")
    assert status["error"].startswith("download of 'broken' failed: ")
    text = cli.run("status").stdout.splitlines()
    assert f"last error: {status['error']}" in text
    assert cli.json("pull", "fast")["results"] == {"fast": "ready"}
    assert cli.json("status")["error"] == status["error"]  # another model: still there


def test_a_stall_shows_in_piped_progress_and_is_recovered(cli: Cli) -> None:
    from llmstore.testing import Fault

    # fast.gguf has no other fault queued (a throttle would come first, for good).
    cli.served.server.add_fault("fast.gguf", Fault(stall_after=1_000_000, stall_seconds=30))
    result = cli.run("--stall-timeout", "1", "pull", "fast")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    stalled = [line for line in lines if "stalled" in line]
    assert stalled and re.fullmatch(
        r"fast: stalled at \d+\.\d%: no data for \d+ s; it reconnects and resumes by itself",
        stalled[0],
    )
    assert any(line.startswith("fast: receiving again at ") for line in lines)
    bad = cli.run("--stall-timeout", "0", "list")
    assert bad.returncode == 2 and "expected a positive number of seconds" in bad.stderr


@needs_terminal
def test_a_stall_shows_in_the_progress_bar_on_a_terminal(cli: Cli) -> None:
    from llmstore.testing import Fault

    cli.served.server.add_fault("fast.gguf", Fault(stall_after=1_000_000, stall_seconds=30))
    exit_code, text = _in_terminal(cli, "--stall-timeout", "2", "pull", "fast")
    assert exit_code == 0, text
    assert re.search(r"fast \(stalled \ds\)", text), text
    assert "fast: ready at" in text


def _missing_spans(cli: Cli, key: str, size: int) -> list[tuple[int, int]]:
    """The byte spans (inclusive) a killed pull of ``key`` left to fetch, by its sidecar."""
    from llmstore._partial import partial_paths, read_sidecar

    part, sidecar = partial_paths(cli.models_dir / f"{key}.gguf")
    state = read_sidecar(sidecar)
    assert state is not None
    if state.pieces is None:  # one stream: the .part holds the file's first bytes
        return [(part.stat().st_size, size - 1)]
    return [(done, end - 1) for _, end, done in state.pieces if done < end]


def _asked_spans(cli: Cli, key: str, size: int) -> list[tuple[int, int]]:
    spans = []
    for record in cli.served.server.requests_for(f"{key}.gguf"):
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", record.range or "")
        assert match is not None, f"a request without a Range: {record.range!r}"
        spans.append((int(match[1]), int(match[2]) if match[2] else size - 1))
    return sorted(spans)


@pytest.mark.parametrize("connections", [1, 4, 8])
@pytest.mark.parametrize("then", ["pull", "cancel"])
def test_sigkill_mid_pull_then_pull_resumes_every_piece_or_cancel_removes_all(
    cli: Cli, connections: int, then: str
) -> None:
    """The crash matrix: one stream or pieces, killed mid-way, then resumed or discarded."""
    from llmstore._partial import partial_bytes

    size, dest = SERVED["big"][0], cli.models_dir / "big.gguf"
    process = cli.start("--connections", str(connections), "pull", "big")
    try:
        _wait_for(lambda: partial_bytes(dest) > 6 * MB, "the download to make progress")
        process.kill()  # no cleanup: the .part and its sidecar stay
    finally:
        _stop(process)
    missing = _missing_spans(cli, "big", size)
    if connections > 1:  # 16 pieces of 2.5 MB, most of them still to fetch
        assert len(missing) >= 10 and all(b + 1 - a <= size // 16 for a, b in missing), missing
    (partial,) = cli.json("status")["interrupted_downloads"]
    assert partial["bytes"] == size - sum(b + 1 - a for a, b in missing) >= 6 * MB
    if then == "cancel":
        assert cli.json("cancel", "big")["discarded"] is True
        assert cli.temporary_files() == [] and not dest.exists()
        assert cli.json("status")["interrupted_downloads"] == []
        return
    cli.served.server.clear_requests()
    resumed = cli.run("--connections", str(connections), "pull", "big")
    assert resumed.returncode == 0, resumed.stderr
    asked = _asked_spans(cli, "big", size)
    # Only missing bytes were asked for, and all of them: a piece resumes where it
    # stopped; a free connection may take the upper half of one (a second request
    # inside the same missing span).
    assert all(any(a <= x and y <= b for a, b in missing) for x, y in asked), (asked, missing)
    assert {start for start, _ in missing} <= {start for start, _ in asked}
    for a, b in missing:
        reach = a
        for x, y in asked:  # sorted by start
            if x <= reach <= y:  # (missing spans may touch: stop at this one's end)
                reach = max(reach, min(y, b) + 1)
        assert reach == b + 1, f"bytes {reach}-{b} were never asked for"
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == cli.served.sha256["big"]
    assert cli.temporary_files() == []
