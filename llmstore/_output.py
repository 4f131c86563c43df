"""Terminal output for the CLI: rich tables and progress bars, plain text when piped."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
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

__all__ = ["Output"]


class Output:
    """Where the CLI writes: JSON for scripts, rich for terminals, plain text otherwise."""

    def __init__(self, *, as_json: bool = False, quiet: bool = False) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)
        self.interactive = self.console.is_terminal and not as_json and not quiet

    def json(self, value: Any) -> None:
        sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        if not self.quiet and not self.as_json:
            self.console.print(text, markup=False, soft_wrap=True)

    def error(self, text: str) -> None:
        self.errors.print(f"error: {text}", markup=False, style="red")

    def table(
        self, columns: list[str], rows: Iterable[list[str]], title: str | None = None
    ) -> None:
        if self.quiet:
            return
        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        self.console.print(table)

    def progress(self) -> ProgressView:
        return ProgressView(self)


class ProgressView:
    """One bar per model (percent, bytes, speed, ETA); a line per 10% when not a terminal."""

    def __init__(self, output: Output) -> None:
        self.output = output
        self.tasks: dict[str, TaskID] = {}
        self.last_decile: dict[str, int] = {}
        self.bar: Progress | None = None
        if output.interactive:
            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=output.console,
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
            self.bar.update(task, completed=event.bytes_done, total=event.total)
            return
        decile = int(event.percent // 10)
        if event.done or decile > self.last_decile.get(event.key, -1):
            self.last_decile[event.key] = decile
            speed = event.bytes_per_second / 1e6
            eta = f", ETA {event.eta_seconds:.0f}s" if event.eta_seconds else ""
            self.output.line(
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


def human_size(value: int | None) -> str:
    """Bytes as a short human string (decimal units)."""
    return _size(value)
