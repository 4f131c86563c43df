"""Terminal output for the CLI: results on stdout; progress, warnings and errors on stderr.

Each stream is rich when it is a terminal and plain text when it is not.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from llmstore.progress import ProgressEvent

__all__ = ["Interrupted", "Output", "human_size", "info_fields"]


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM while :meth:`Output.confirm` waits; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Output:
    """Where the CLI writes: JSON for scripts, rich for terminals, plain text otherwise.

    Results go to stdout; progress, warnings, errors and prompts to stderr, so
    ``llmstore pull X > file`` keeps only the result. ``quiet`` silences
    progress and warnings; ``as_json`` leaves stdout to :meth:`json` alone and
    shows no progress. rich honours ``NO_COLOR`` (no colour) and ``FORCE_COLOR``.
    """

    def __init__(self, *, as_json: bool = False, quiet: bool = False) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)
        #: progress bars (on stderr) rather than a line per 10%
        self.interactive = self.errors.is_terminal and not as_json and not quiet

    def json(self, value: Any) -> None:
        """Print ``value`` as one JSON document (even when quiet)."""
        sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """Print a line of text, never wrapped (not when quiet or JSON)."""
        if not self.quiet and not self.as_json:
            self.console.print(text, markup=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """Print progress or a notice on stderr, never wrapped (not when quiet or JSON)."""
        if not self.quiet and not self.as_json:
            self.errors.print(text, markup=False, soft_wrap=True)

    def warning(self, text: str) -> None:
        """Print ``warning: text`` on stderr (not when quiet)."""
        if not self.quiet:
            self.errors.print(f"warning: {text}", markup=False, style="yellow", soft_wrap=True)

    def error(self, text: str) -> None:
        """Print ``error: text`` on stderr, never wrapped, whatever the mode."""
        self.errors.print(f"error: {text}", markup=False, style="red", soft_wrap=True)

    def table(
        self, columns: list[str], rows: Iterable[list[str]], title: str | None = None
    ) -> None:
        """A rich table on a terminal; aligned plain columns otherwise."""
        if self.quiet or self.as_json:
            return
        rows = [list(row) for row in rows]
        if not self.console.is_terminal:
            widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
            for cells in [columns, *rows]:
                self.line(
                    "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
                )
            return
        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def fields(self, pairs: Iterable[tuple[str, str]]) -> None:
        """``name: value`` lines with the values aligned."""
        pairs = list(pairs)
        width = max((len(name) for name, _ in pairs), default=0) + 1
        for name, value in pairs:
            self.line(f"{name + ':':<{width}} {value}")

    def confirm(self, question: str) -> bool:
        """Ask ``question`` on the terminal; True for y or yes.

        Raises :class:`Interrupted` on Ctrl-C or SIGTERM while waiting.
        """

        # The event loop cannot see signals while a read blocks it: raise instead.
        def stop(signum: int, frame: FrameType | None) -> None:
            raise Interrupted(signum)

        saved: dict[int, Any] = {}
        wakeup = -1
        if threading.current_thread() is threading.main_thread():
            saved = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            # Else the loop would see the signal too, later, and cancel the cleanup.
            wakeup = signal.set_wakeup_fd(-1)
        try:
            sys.stderr.write(question)  # stderr keeps stdout clean for --json
            sys.stderr.flush()
            answer = sys.stdin.readline()
        except KeyboardInterrupt:
            sys.stderr.write("\n")
            raise
        finally:
            if saved:
                signal.set_wakeup_fd(wakeup)
            for sig, handler in saved.items():
                if handler is not None:
                    signal.signal(sig, handler)
        return answer.strip().lower() in ("y", "yes")

    def progress(self) -> ProgressView:
        return ProgressView(self)


class ProgressView:
    """One bar per model (percent, bytes, speed, ETA) on stderr; a line per 10% when piped.

    A stall (no byte for a while) shows in the bar's label, or as a line when piped.
    """

    def __init__(self, output: Output) -> None:
        self.output = output
        self.tasks: dict[str, TaskID] = {}
        self.last_decile: dict[str, int] = {}
        self.stalled: set[str] = set()
        self.bar: Progress | None = None
        if output.interactive:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=output.errors,
                transient=False,
            )

    def __enter__(self) -> ProgressView:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, event: ProgressEvent) -> None:
        if self.output.quiet or self.output.as_json:
            return
        if self.bar is not None:
            task = self.tasks.get(event.key)
            if task is None:
                task = self.tasks[event.key] = self.bar.add_task(event.key, total=event.total)
            label = event.key
            if event.stalled_seconds:
                label += f" (stalled {event.stalled_seconds:.0f}s)"
            self.bar.update(task, completed=event.bytes_done, total=event.total, description=label)
            return
        if event.stalled_seconds:
            if event.key not in self.stalled:
                self.stalled.add(event.key)
                self.output.note(
                    f"{event.key}: stalled at {event.percent:.1f}%: no data for "
                    f"{event.stalled_seconds:.0f} s; it reconnects and resumes by itself"
                )
            return
        if event.key in self.stalled and event.bytes_done:
            self.stalled.discard(event.key)
            self.output.note(f"{event.key}: receiving again at {event.percent:.1f}%")
        decile = int(event.percent // 10)
        last = self.last_decile.get(event.key, -1)
        # Verification reports 100% before the final event: print 100% once.
        if decile > last or (event.done and last < 10):
            self.last_decile[event.key] = decile
            speed = event.bytes_per_second / 1e6
            eta = f", ETA {event.eta_seconds:.0f}s" if event.eta_seconds else ""
            self.output.note(
                f"{event.key}: {event.percent:5.1f}% {_size(event.bytes_done)}"
                f" of {_size(event.total)} at {speed:.1f} MB/s{eta}"
            )


def _size(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1000
    return f"{size:.1f} GB"


def info_fields(details: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``info`` command's document as ``(name, value)`` lines for people."""
    size = details["size_bytes"]
    fields = [
        ("key", details["key"]),
        ("name", details["display_name"]),
        ("status", details["status"] + (" (selected)" if details["selected"] else "")),
        ("size", f"{human_size(size)} ({size:,} bytes)" if size is not None else "unknown"),
        ("path", details["path"] or "not downloaded"),
        ("sha256", details["sha256"] or "unknown"),
        ("url", details["url"] or "none (a local file)"),
    ]
    if details.get("parts"):
        fields.append(("parts", f"{len(details['parts'])} files, loaded from the first"))
    if details["error"]:
        fields.append(("error", details["error"]))
    gguf = details["gguf"]
    if gguf is not None:
        count = gguf["parameter_count"]
        fields += [
            ("architecture", gguf["architecture"] or "unknown"),
            ("model name", gguf["name"] or "unknown"),
            ("parameters", f"{count:,} ({_count(count)})"),
            ("context length", str(gguf["context_length"] or "unknown")),
            ("quantization", gguf["quantization"] or "unknown"),
            ("GGUF", f"version {gguf['gguf_version']}, {gguf['tensor_count']} tensors"),
        ]
    return fields


def _count(count: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(count)


def human_size(value: int | None) -> str:
    """Bytes as a short human string (decimal units)."""
    return _size(value)
