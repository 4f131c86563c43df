"""The ``llmstore`` argument parser: global options defined once, attached to every command.

``GLOBAL_OPTIONS`` lists the options every command takes; ``add_command``
creates a command's parser with them attached, so they work before or after
the command and show in each command's ``--help``. A new command is one
``add_command`` call in ``build_parser``.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from llmstore import __version__

__all__ = ["GLOBAL_DEFAULTS", "GLOBAL_OPTIONS", "add_command", "build_parser"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _connections(text: str) -> int | None:
    if text == "auto":
        return None  # one stream, split when it leaves the machine idle
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to 64, or auto, got {text!r}"
        )
    return value


#: The options every command takes, before or after its name: (flags, add_argument options).
GLOBAL_OPTIONS: list[tuple[tuple[str, ...], dict[str, Any]]] = [
    (
        ("--models-dir",),
        {
            "metavar": "DIR",
            "help": "where models live (default: $LLMSTORE_MODELS_DIR or the user cache dir)",
        },
    ),
    (
        ("--catalog",),
        {"metavar": "FILE", "help": "a JSON catalog to use instead of the default one"},
    ),
    (
        ("--endpoint",),
        {
            "metavar": "URL",
            "help": "a Hugging Face mirror: rewrites the host of catalog URLs, gets the "
            'token of entries with auth "hf", and is the Hub asked for names '
            "(default: $LLMSTORE_ENDPOINT)",
        },
    ),
    (
        ("--stall-timeout",),
        {
            "metavar": "SECONDS",
            "type": _seconds,
            "help": "drop and resume a download that receives nothing for this long "
            "(default: $LLMSTORE_STALL_TIMEOUT or 20)",
        },
    ),
    (
        ("--connections",),
        {
            "metavar": "N|auto",
            "type": _connections,
            "help": "connections per download: pieces in parallel when the server "
            "supports Range (default 4; 1: one stream; auto: one stream, split over up "
            "to 4 when it leaves the machine idle)",
        },
    ),
    (
        ("--json",),
        {"action": "store_true", "help": "print one JSON document on stdout (scripts)"},
    ),
    (
        ("--quiet", "-q"),
        {"action": "store_true", "help": "print only errors (no progress)"},
    ),
]
GLOBAL_DEFAULTS: dict[str, Any] = {
    "models_dir": None,
    "catalog": None,
    "endpoint": None,
    "stall_timeout": None,
    "connections": 4,
    "json": False,
    "quiet": False,
}


def _add_global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Attach ``GLOBAL_OPTIONS``; a command's copy leaves unset options to the main parser."""
    group = parser.add_argument_group("global options (before or after the command)")
    for flags, options in GLOBAL_OPTIONS:
        # SUPPRESS: an option not given after the command must not reset one given before.
        extra: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
        group.add_argument(*flags, **options, **extra)


def add_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, **options: Any
) -> argparse.ArgumentParser:
    """Add the command ``name`` with the global options attached; return its parser."""
    parser = commands.add_parser(name, **options)
    _add_global_options(parser, suppress=True)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmstore",
        description="Manage local language-model files.",
        epilog="Exit codes: 0 success, 1 failure, 2 bad usage or unknown model, "
        "130 interrupted (Ctrl-C, SIGINT), 143 terminated (SIGTERM). Global options go "
        "before or after the command.",
    )
    parser.add_argument("--version", "-V", action="version", version=f"llmstore {__version__}")
    _add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_command(
        commands,
        "list",
        help="the catalog, models added from Hugging Face, and local models (* = selected)",
    )
    pull = add_command(
        commands,
        "pull",
        help="download models by key or Hugging Face name (Ctrl-C or SIGTERM cancels cleanly)",
        description="Download models: catalog keys, or any GGUF model on Hugging Face by name "
        "(hf.co/OWNER/REPO:QUANT, OWNER/REPO:QUANT or OWNER/REPO/FILE.gguf), added to the "
        "models list first. The Hub is $HF_ENDPOINT (or --endpoint); $HF_TOKEN is sent to it, "
        "never to the CDN it redirects to; $HF_HUB_OFFLINE=1 allows only models already added.",
    )
    pull.add_argument(
        "keys", nargs="+", metavar="KEY", help="a catalog key, or hf.co/OWNER/REPO:QUANT"
    )
    cancel = add_command(
        commands,
        "cancel",
        help="discard what an interrupted download left for resuming",
        description="A download runs inside the `llmstore pull` that started it and stops "
        "with it (Ctrl-C, SIGTERM). A pull killed hard (SIGKILL, power loss) leaves a .part "
        "file that the next pull resumes; cancel deletes it. It fails (exit 1) while "
        "another process is downloading the model.",
    )
    cancel.add_argument("key", metavar="KEY")
    remove = add_command(
        commands,
        "rm",
        help="delete a downloaded model",
        description="Delete a model's files. A model pulled from Hugging Face by name also "
        "leaves the models list (even when not downloaded), unless --keep-entry.",
    )
    remove.add_argument("key", metavar="KEY")
    remove.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    remove.add_argument(
        "--keep-entry",
        action="store_true",
        help="keep a model added from Hugging Face in the list (to pull it again later)",
    )
    select = add_command(
        commands,
        "select",
        help="select the model to use (it must be ready)",
        description="Select the model to use; it must be ready. --none clears the selection, "
        "but the store selects the first ready model again when it next starts with none.",
    )
    select.add_argument("key", nargs="?", metavar="KEY")
    select.add_argument("--none", action="store_true", help="clear the selection")
    add_command(commands, "status", help="selection, last error, interrupted downloads, dirs")
    info = add_command(commands, "info", help="size, sha256 and GGUF metadata of a model")
    info.add_argument("key", metavar="KEY")
    add_command(commands, "dir", help="print the models directory")
    demo = add_command(commands, "demo", help="run the whole lifecycle offline, on loopback")
    demo.add_argument("--size-mb", type=int, default=24, help="size of the generated model")
    return parser
