"""The ``llmstore`` command line: list, pull, cancel, rm, select, status, info, dir, demo.

Conventions of git, pip, ``hf`` and ``ollama``: global options go before or
after the command (they are defined once, in ``GLOBAL_OPTIONS``, and attached
to every command by ``add_command``); results go to stdout, progress, warnings
and errors to stderr; ``list``, ``status``, ``info`` and ``dir`` write nothing.
Exit codes: 0 success, 1 failure, 2 bad usage or unknown model, 130 SIGINT,
143 SIGTERM. ``--json`` prints one JSON document per command on stdout,
failures included (shapes in the README).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from llmstore._cli_args import GLOBAL_DEFAULTS, build_parser
from llmstore._files import model_path, remove_file_in_dir
from llmstore._gguf import read_gguf_header
from llmstore._hub import known_key, parse_hub_name
from llmstore._lock import LockBusyError, hold_lock, lock_is_held, lock_path
from llmstore._output import Interrupted, Output, human_size, info_fields
from llmstore._partial import discard_partial, partial_bytes, partial_paths
from llmstore.actions.model_management import sha256_file
from llmstore.catalog import ModelSpec, load_catalog
from llmstore.errors import (
    CatalogError,
    ConfigError,
    DownloadCancelledError,
    LLMStoreError,
    ModelBusyError,
    UnknownModelError,
)
from llmstore.store import LLMStore, create_llm_store_default_model
from llmstore.types import ModelInfo, ModelStatus

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: 128 + the signal number, as shells report a process a signal ended
EXIT_INTERRUPTED, EXIT_TERMINATED = 128 + signal.SIGINT, 128 + signal.SIGTERM
_EXIT_FOR_SIGNAL = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: EXIT_TERMINATED}


class CommandError(Exception):
    """Raised by a command that cannot do what was asked: the message and the exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv:
        parser.print_help()
        return EXIT_OK
    args = parser.parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if getattr(args, name, None) is None:
            setattr(args, name, default)
    if args.command is None:
        parser.error("give a COMMAND (see the list above, or run llmstore with no arguments)")
    output = Output(as_json=args.json, quiet=args.quiet)
    try:
        return asyncio.run(_run(COMMANDS[args.command], args, output))
    except KeyboardInterrupt:  # a signal before our handlers were installed
        return _fail(output, "interrupted", EXIT_INTERRUPTED)


async def _run(command: Command, args: argparse.Namespace, output: Output) -> int:
    """Run ``command``; SIGINT and SIGTERM cancel it, so its cleanup runs, and give 130 or 143."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(command(args, output))
    received: list[int] = []

    def interrupt(signum: int) -> None:
        received.append(signum)
        task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, interrupt, sig)
            installed.append(sig)
    try:
        code = await task
        if code == EXIT_INTERRUPTED and received:
            code = _EXIT_FOR_SIGNAL[signal.Signals(received[0])]
        return code
    except asyncio.CancelledError:
        if not received:
            raise
        return _fail(output, "interrupted", _EXIT_FOR_SIGNAL[signal.Signals(received[0])])
    except (UnknownModelError, CatalogError, ConfigError) as error:
        return _fail(output, str(error), EXIT_USAGE)
    except CommandError as error:
        return _fail(output, str(error), error.exit_code)
    except (LLMStoreError, OSError) as error:
        return _fail(output, str(error), EXIT_FAILED)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _fail(output: Output, message: str, exit_code: int) -> int:
    output.error(message)
    if output.as_json:
        output.json({"error": message, "exit_code": exit_code})
    return exit_code


def _store(args: argparse.Namespace, *, read_only: bool = False) -> LLMStore:
    catalog = load_catalog(args.catalog) if args.catalog else None
    return create_llm_store_default_model(
        models_dir=args.models_dir,
        catalog=catalog,
        endpoint=args.endpoint,
        stall_timeout=args.stall_timeout,
        connections=args.connections,
        wait_for_lock=True,
        read_only=read_only,
    )


@contextlib.asynccontextmanager
async def _opened(
    args: argparse.Namespace, output: Output, *, read_only: bool = False
) -> AsyncIterator[LLMStore]:
    """The initialized store; its warnings go to stderr. Read-only commands write nothing."""
    async with _store(args, read_only=read_only) as store:
        for warning in store.warnings:
            output.warning(warning)
        yield store


def _resolve(store: LLMStore, key: str) -> str:
    """``key``, a known model's key for a Hub name in any form, or the one model key that
    differs from it only in case; ``UnknownModelError`` otherwise."""
    key = known_key((m.key for m in store.models), key) or key
    if store.find(key) is not None:
        return key
    folded = key.casefold()
    matches = [m.key for m in store.models if m.key.casefold() == folded]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listed = " and ".join(repr(m) for m in matches)
        raise UnknownModelError(
            f"unknown model {key!r}: {listed} differ from it only in case; give one exactly"
        )
    store.model(key)  # raises UnknownModelError listing the known keys
    return key


def _model_row(store: LLMStore, model: ModelInfo) -> dict[str, Any]:
    size = model.size_bytes
    spec = store.env.catalog.get(model.key)
    if model.path is not None and not (spec is not None and spec.parts):
        with contextlib.suppress(OSError):
            size = os.stat(model.path).st_size
    return {
        "key": model.key,
        "display_name": model.display_name,
        "status": model.status.value,
        "progress": model.progress,
        "size_bytes": size,
        "path": model.path,
        "selected": store.selected_model_key == model.key,
        "local_only": model.local_only,
        "error": model.error,
    }


def _destination(store: LLMStore, spec: ModelSpec) -> Path:
    return model_path(store.env.models_dir, spec.filename)


async def _pull_keys(store: LLMStore, names: Sequence[str], output: Output) -> list[str]:
    """The keys to pull: names from the Hub are added first (so typos fail before any pull)."""
    keys: list[str] = []
    for name in names:
        known = known_key((m.key for m in store.models), name)
        if known is None and parse_hub_name(name) is not None:
            known = await store.add_model(name)
            spec = store.env.catalog[known]
            parts = f" in {len(spec.files)} parts" if spec.parts else ""
            output.line(f"{known}: found {human_size(spec.total_size)}{parts} on the Hub")
        keys.append(known if known is not None else _resolve(store, name))
    return list(dict.fromkeys(keys))


def _downloading_elsewhere(store: LLMStore, spec: ModelSpec) -> bool:
    """True while another process holds the model's lock (it is downloading it)."""
    return lock_is_held(lock_path(_destination(store, spec)))


async def cmd_list(args: argparse.Namespace, output: Output) -> int:
    async with _opened(args, output, read_only=True) as store:
        rows = [_model_row(store, m) for m in store.models]
        if output.as_json:
            output.json({"models": rows, "selected_model_key": store.selected_model_key})
            return EXIT_OK
        output.table(
            ["", "key", "name", "status", "size", "path"],
            [
                [
                    "*" if r["selected"] else "",
                    r["key"],
                    r["display_name"],
                    r["status"],
                    human_size(r["size_bytes"]),
                    r["path"] or "",
                ]
                for r in rows
            ],
        )
    return EXIT_OK


async def cmd_pull(args: argparse.Namespace, output: Output) -> int:
    async with _opened(args, output) as store:
        # Unknown keys fail before anything starts; Hub names are added first.
        keys = await _pull_keys(store, args.keys, output)
        catalog = store.env.catalog
        for key in keys:
            if key not in catalog:
                raise CommandError(
                    f"{key!r} is a local model, not in the catalog: nothing to download",
                    EXIT_USAGE,
                )
        for key in keys:
            if _downloading_elsewhere(store, catalog[key]):
                output.note(f"{key}: another llmstore process is downloading it; waiting")
        results: dict[str, str] = {}

        async def pull(key: str) -> None:
            try:
                await store.start_model_download(key)
                results[key] = "ready"
            except DownloadCancelledError:
                results[key] = "cancelled"
            except LLMStoreError as error:
                results[key] = "error"
                output.error(store.model(key).error or f"{key}: {error}")

        interrupted = False
        with output.progress() as view:
            subscriptions = [
                store.progress(k).subscribe(view.update, lambda _error: None) for k in keys
            ]
            try:
                await asyncio.gather(*(pull(k) for k in keys))
            except asyncio.CancelledError:
                # SIGINT or SIGTERM (see _run): the downloads have stopped and removed
                # their temporary files; report instead of dying.
                interrupted = True
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
            finally:
                for subscription in subscriptions:
                    subscription.dispose()
        if interrupted:
            await asyncio.gather(
                *(store.cancel_model_download(k) for k in keys), return_exceptions=True
            )
            for key in keys:
                results.setdefault(key, "cancelled")
            output.error("interrupted: downloads cancelled, temporary files removed")
        rows = [_model_row(store, store.model(k)) for k in keys]
        if output.as_json:
            output.json({"interrupted": interrupted, "results": results, "models": rows})
        for row in rows:
            if row["status"] == ModelStatus.READY.value:
                output.line(f"{row['key']}: ready at {row['path']}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(v == "ready" for v in results.values()) else EXIT_FAILED


async def cmd_cancel(args: argparse.Namespace, output: Output) -> int:
    async with _opened(args, output) as store:
        key = _resolve(store, args.key)
        model = store.model(key)
        spec = store.env.catalog.get(key)
        discarded = False
        if spec is not None:  # a local-only model never has a download
            dest = _destination(store, spec)
            try:
                async with hold_lock(lock_path(dest), wait=False):
                    for file in spec.files:  # every part of a split model
                        part_dest = model_path(store.env.models_dir, file.filename)
                        discarded |= any(p.exists() for p in partial_paths(part_dest))
                        await asyncio.to_thread(discard_partial, part_dest)
                        if spec.parts and model.path is None:
                            # The parts an interrupted split pull verified go too.
                            discarded |= await asyncio.to_thread(
                                remove_file_in_dir, store.env.models_dir, part_dest
                            )
            except LockBusyError:
                raise ModelBusyError(
                    f"{key!r} is being downloaded by another llmstore process; press "
                    "Ctrl-C in that process (or send it SIGTERM) to cancel it"
                ) from None
        if output.as_json:
            output.json({"key": key, "discarded": discarded, "status": model.status.value})
        else:
            done = "interrupted download discarded" if discarded else "no download to cancel"
            output.line(f"{key}: {done}")
    return EXIT_OK


async def cmd_rm(args: argparse.Namespace, output: Output) -> int:
    async with _opened(args, output) as store:
        key = _resolve(store, args.key)
        model = store.model(key)
        drop_entry = key in store.env.added and not args.keep_entry
        if model.path is None and not drop_entry:
            raise CommandError(
                f"{key!r} is not downloaded ({model.status.value}): there is no file "
                f"to delete; `llmstore cancel {key}` discards an interrupted download"
            )
        path = model.path
        what = f"{model.display_name} ({path})" if path else f"{key} from the models list"
        if not args.yes:
            if not sys.stdin.isatty():
                raise CommandError(
                    f"refusing to delete {path or key} without confirmation: stdin is not a "
                    "terminal; pass --yes",
                    EXIT_USAGE,
                )
            try:
                confirmed = output.confirm(f"Delete {what}? [y/N] ")
            except Interrupted as interrupted:
                code = _EXIT_FOR_SIGNAL.get(signal.Signals(interrupted.signum), EXIT_INTERRUPTED)
                raise CommandError("interrupted: nothing deleted", code) from None
            if not confirmed:
                if output.as_json:
                    output.json(
                        {"key": key, "deleted": False, "path": path, "entry_removed": False}
                    )
                output.line(f"{key}: kept")
                return EXIT_OK
        spec = store.env.catalog.get(key)
        more = len(spec.parts) if spec is not None else 0
        await store.delete_model(key, keep_entry=args.keep_entry)
        if output.as_json:
            output.json({"key": key, "deleted": True, "path": path, "entry_removed": drop_entry})
        else:
            others = f" and its {more} other part{'s' * (more > 1)}" if more else ""
            done = [f"deleted {path}{others}"] if path else []
            done += ["removed it from the models list"] if drop_entry else []
            output.line(f"{key}: {' and '.join(done)}")
    return EXIT_OK


async def cmd_select(args: argparse.Namespace, output: Output) -> int:
    if args.none == (args.key is not None):
        raise CommandError("give a KEY, or --none to clear the selection", EXIT_USAGE)
    async with _opened(args, output) as store:
        store.select_model(None if args.none else _resolve(store, args.key))
        if output.as_json:
            output.json({"selected_model_key": store.selected_model_key})
        else:
            output.line(f"selected: {store.selected_model_key or 'none'}")
    return EXIT_OK


async def cmd_status(args: argparse.Namespace, output: Output) -> int:
    async with _opened(args, output, read_only=True) as store:
        env = store.env
        partial: list[dict[str, Any]] = []
        elsewhere: list[str] = []
        for spec in env.catalog.values():
            dests = [model_path(env.models_dir, file.filename) for file in spec.files]
            parts = [partial_paths(dest)[0] for dest in dests]
            if _downloading_elsewhere(store, spec):
                elsewhere.append(spec.key)
            elif any(part.exists() for part in parts):
                # A segmented .part counts its filled pieces; a split model's parts
                # already in place count as done too.
                done = sum(partial_bytes(dest) for dest in dests)
                done += sum(d.stat().st_size for d in dests if d.exists()) if spec.parts else 0
                partial.append(
                    {
                        "key": spec.key,
                        "bytes": done,
                        "total": spec.total_size,
                    }
                )
        ready = [m.key for m in store.models if m.status is ModelStatus.READY]
        status: dict[str, Any] = {
            "selected_model_key": store.selected_model_key,
            "ready": ready,
            "error": store.error,
            "interrupted_downloads": partial,
            "downloading_elsewhere": elsewhere,
            "models_dir": str(env.models_dir),
            "state_file": str(env.state_file),
            "warnings": store.warnings,
        }
        if output.as_json:
            output.json(status)
            return EXIT_OK
        output.line(f"selected model: {status['selected_model_key'] or 'none'}")
        output.line(f"ready: {', '.join(ready) or 'none'}")
        if store.error is not None:
            output.line(f"last error: {store.error}")
        for item in partial:
            output.line(
                f"interrupted download: {item['key']} ({human_size(item['bytes'])} of "
                f"{human_size(item['total'])}); `pull` resumes it, `cancel` discards it"
            )
        for key in elsewhere:
            output.line(f"downloading in another process: {key}")
        output.line(f"models dir: {status['models_dir']}")
        output.line(f"state file: {status['state_file']}")
    return EXIT_OK


async def cmd_info(args: argparse.Namespace, output: Output) -> int:
    async with _opened(args, output, read_only=True) as store:
        key = _resolve(store, args.key)
        model = store.model(key)
        spec = store.env.catalog.get(key)
        details = _model_row(store, model)
        details["url"] = spec.url if spec else None
        details["parts"] = [f.url for f in spec.files] if spec and spec.parts else None
        # A catalog sha256 was checked when the file was downloaded; hash the others.
        details["sha256"] = spec.sha256 if spec else None
        details["gguf"] = None
        if model.path is not None:
            path = Path(model.path)
            if details["sha256"] is None:
                details["sha256"] = await asyncio.to_thread(sha256_file, path)
            if path.suffix == ".gguf":
                header = await asyncio.to_thread(read_gguf_header, path)
                details["gguf"] = header.summary()
        if output.as_json:
            output.json(details)
            return EXIT_OK
        output.fields(info_fields(details))
    return EXIT_OK


async def cmd_dir(args: argparse.Namespace, output: Output) -> int:
    models_dir = _store(args).env.models_dir
    if output.as_json:
        output.json({"models_dir": str(models_dir)})
    else:
        output.line(str(models_dir))
    return EXIT_OK


async def cmd_demo(args: argparse.Namespace, output: Output) -> int:
    from llmstore._demo import run_demo

    if args.size_mb < 2:
        raise CommandError("--size-mb must be at least 2", EXIT_USAGE)
    return await run_demo(output, size_mb=args.size_mb)


Command = Callable[[argparse.Namespace, Output], Coroutine[Any, Any, int]]
COMMANDS: dict[str, Command] = {
    "list": cmd_list,
    "pull": cmd_pull,
    "cancel": cmd_cancel,
    "rm": cmd_rm,
    "select": cmd_select,
    "status": cmd_status,
    "info": cmd_info,
    "dir": cmd_dir,
    "demo": cmd_demo,
}
