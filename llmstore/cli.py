"""The ``llmstore`` command line: list, pull, cancel, rm, select, status, info, dir, demo.

Exit codes: 0 success, 1 failure, 2 bad usage or unknown model, 130 interrupted.
``--json`` prints one JSON document per command (shapes in the README).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from llmstore._files import part_path, remove_file_in_dir
from llmstore._gguf import read_gguf_header
from llmstore._output import Output, human_size
from llmstore.catalog import load_catalog
from llmstore.errors import (
    DownloadCancelledError,
    LLMStoreError,
    ModelBusyError,
    UnknownModelError,
)
from llmstore.store import LLMStore, create_llm_store_default_model
from llmstore.types import ModelStatus

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstore", description="Manage local language-model files."
    )
    parser.add_argument(
        "--models-dir",
        help="where models live (default: $LLMSTORE_MODELS_DIR or the user cache dir)",
    )
    parser.add_argument(
        "--catalog", metavar="FILE", help="a JSON catalog to use instead of the default one"
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="a mirror: rewrites the host of catalog URLs (default: $LLMSTORE_ENDPOINT)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="the catalog and local models")
    pull = commands.add_parser("pull", help="download models (Ctrl-C cancels cleanly)")
    pull.add_argument("keys", nargs="+", metavar="KEY")
    cancel = commands.add_parser("cancel", help="discard a model's interrupted download")
    cancel.add_argument("key", metavar="KEY")
    remove = commands.add_parser("rm", help="delete a downloaded model")
    remove.add_argument("key", metavar="KEY")
    remove.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    select = commands.add_parser("select", help="select the model to use")
    select.add_argument("key", nargs="?", metavar="KEY")
    select.add_argument("--none", action="store_true", help="clear the selection")
    commands.add_parser("status", help="selection, interrupted downloads, directories")
    info = commands.add_parser("info", help="size, sha256 and GGUF metadata of a model")
    info.add_argument("key", metavar="KEY")
    commands.add_parser("dir", help="print the models directory")
    demo = commands.add_parser("demo", help="run the whole lifecycle offline, on loopback")
    demo.add_argument("--size-mb", type=int, default=24, help="size of the generated model")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = build_parser().parse_args(argv)
    output = Output(as_json=args.json, quiet=args.quiet)
    command = COMMANDS[args.command]
    try:
        return asyncio.run(command(args, output))
    except UnknownModelError as error:
        output.error(str(error))
        return EXIT_USAGE
    except LLMStoreError as error:
        output.error(str(error))
        return EXIT_FAILED
    except KeyboardInterrupt:
        output.error("interrupted")
        return EXIT_INTERRUPTED


def _store(args: argparse.Namespace) -> LLMStore:
    catalog = load_catalog(args.catalog) if args.catalog else None
    return create_llm_store_default_model(
        models_dir=args.models_dir, catalog=catalog, endpoint=args.endpoint, wait_for_lock=True
    )


def _model_row(store: LLMStore, model: Any) -> dict[str, Any]:
    return {
        "key": model.key,
        "display_name": model.display_name,
        "status": model.status.value,
        "progress": model.progress,
        "size_bytes": model.size_bytes,
        "path": model.path,
        "selected": store.selected_model_key == model.key,
        "error": model.error,
    }


async def cmd_list(args: argparse.Namespace, output: Output) -> int:
    async with _store(args) as store:
        rows = [_model_row(store, m) for m in store.models]
        if output.as_json:
            output.json({"models": rows, "selected_model_key": store.selected_model_key})
        else:
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
    async with _store(args) as store:
        for key in args.keys:
            store.model(key)  # unknown keys fail before anything starts
        results: dict[str, str] = {}
        with output.progress() as view:
            subscriptions = [
                store.progress(k).subscribe(view.update, lambda e: None) for k in args.keys
            ]

            async def pull(key: str) -> None:
                try:
                    await store.start_model_download(key)
                    results[key] = "ready"
                except DownloadCancelledError:
                    results[key] = "cancelled"
                except LLMStoreError as error:
                    results[key] = "error"
                    output.error(str(error))

            work = asyncio.ensure_future(asyncio.gather(*(pull(k) for k in args.keys)))
            interrupted = await _run_cancellable(work)
            for subscription in subscriptions:
                subscription.dispose()
        if interrupted:
            await asyncio.gather(
                *(store.cancel_model_download(k) for k in args.keys), return_exceptions=True
            )
            output.error("interrupted: downloads cancelled, temporary files removed")
        if output.as_json:
            output.json(
                {
                    "results": results,
                    "models": [_model_row(store, store.model(k)) for k in args.keys],
                }
            )
        else:
            for key in args.keys:
                model = store.model(key)
                if model.status is ModelStatus.READY:
                    output.line(f"{key}: ready at {model.path}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if all(v == "ready" for v in results.values()) else EXIT_FAILED


async def _run_cancellable(work: asyncio.Future[Any]) -> bool:
    """Await ``work``; SIGINT or SIGTERM cancel it. True when it was interrupted."""
    loop = asyncio.get_running_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        work.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, interrupt)
            installed.append(sig)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await work
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return interrupted


async def cmd_cancel(args: argparse.Namespace, output: Output) -> int:
    async with _store(args) as store:
        model = store.model(args.key)
        spec = store.env.catalog.get(args.key)
        if spec is None:
            output.error(f"{args.key!r} is a local model: there is no download to cancel")
            return EXIT_USAGE
        dest = store.env.models_dir / spec.filename
        lock = dest.with_name(dest.name + ".lock")
        import filelock

        try:
            with filelock.FileLock(str(lock), timeout=0):
                removed = False
                for leftover in (part_path(dest), dest.with_name(dest.name + ".part.json")):
                    if leftover.exists():
                        remove_file_in_dir(store.env.models_dir, leftover)
                        removed = True
        except filelock.Timeout:
            raise ModelBusyError(
                f"{args.key!r} is being downloaded by another llmstore process; press Ctrl-C "
                "in that process to cancel it"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                lock.unlink()
        if output.as_json:
            output.json(
                {
                    "key": args.key,
                    "discarded_partial_download": removed,
                    "status": model.status.value,
                }
            )
        else:
            output.line(
                f"{args.key}: "
                + ("interrupted download discarded" if removed else "no download to cancel")
            )
    return EXIT_OK


async def cmd_rm(args: argparse.Namespace, output: Output) -> int:
    async with _store(args) as store:
        model = store.model(args.key)
        if model.path is None:
            output.error(f"{args.key!r} is not downloaded; nothing to delete")
            return EXIT_FAILED
        if not args.yes:
            if not sys.stdin.isatty():
                output.error("refusing to delete without confirmation: pass --yes")
                return EXIT_USAGE
            answer = input(f"Delete {model.display_name} ({model.path})? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                output.line("kept")
                return EXIT_OK
        await store.delete_model(args.key)
        if output.as_json:
            output.json({"key": args.key, "deleted": True})
        else:
            output.line(f"{args.key}: deleted")
    return EXIT_OK


async def cmd_select(args: argparse.Namespace, output: Output) -> int:
    if args.none == (args.key is not None):
        output.error("give a KEY, or --none to clear the selection")
        return EXIT_USAGE
    async with _store(args) as store:
        store.select_model(None if args.none else args.key)
        if output.as_json:
            output.json({"selected_model_key": store.selected_model_key})
        else:
            output.line(f"selected: {store.selected_model_key or 'none'}")
    return EXIT_OK


async def cmd_status(args: argparse.Namespace, output: Output) -> int:
    async with _store(args) as store:
        env = store.env
        partial: list[dict[str, Any]] = []
        for spec in env.catalog.values():
            part = part_path(env.models_dir / spec.filename)
            if part.exists():
                partial.append(
                    {"key": spec.key, "bytes": part.stat().st_size, "total": spec.size_bytes}
                )
        ready = [m.key for m in store.models if m.status is ModelStatus.READY]
        status: dict[str, Any] = {
            "selected_model_key": store.selected_model_key,
            "ready": ready,
            "interrupted_downloads": partial,
            "models_dir": str(env.models_dir),
            "state_file": str(env.state_file),
            "warnings": store.warnings,
        }
        if output.as_json:
            output.json(status)
        else:
            output.line(f"selected model: {status['selected_model_key'] or 'none'}")
            output.line(f"ready: {', '.join(ready) or 'none'}")
            for item in partial:
                output.line(
                    f"interrupted download: {item['key']} ({human_size(item['bytes'])} of "
                    f"{human_size(item['total'])}), resumes on the next pull"
                )
            output.line(f"models dir: {status['models_dir']}")
            output.line(f"state file: {status['state_file']}")
            for warning in store.warnings:
                output.line(f"warning: {warning}")
    return EXIT_OK


async def cmd_info(args: argparse.Namespace, output: Output) -> int:
    async with _store(args) as store:
        model = store.model(args.key)
        spec = store.env.catalog.get(args.key)
        details: dict[str, Any] = _model_row(store, model)
        details["url"] = spec.url if spec else None
        details["sha256"] = spec.sha256 if spec else None
        if model.path is not None:
            header = await asyncio.to_thread(read_gguf_header, Path(model.path))
            details["gguf"] = {
                "version": header.version,
                "architecture": header.architecture,
                "name": header.name,
                "parameter_count": header.parameter_count,
                "context_length": header.context_length,
                "quantization": header.quantization,
                "tensor_count": header.tensor_count,
            }
        if output.as_json:
            output.json(details)
        else:
            for name, value in details.items():
                if isinstance(value, dict):
                    for sub, item in value.items():
                        output.line(f"{name}.{sub}: {item}")
                else:
                    output.line(f"{name}: {value}")
    return EXIT_OK


async def cmd_dir(args: argparse.Namespace, output: Output) -> int:
    store = _store(args)
    if output.as_json:
        output.json({"models_dir": str(store.env.models_dir)})
    else:
        print(store.env.models_dir)
    return EXIT_OK


async def cmd_demo(args: argparse.Namespace, output: Output) -> int:
    from llmstore._demo import run_demo

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
