"""Progress bars and progress lines for long work, on stderr so stdout stays parseable.

One wrapper around ``rich`` (already a Typer dependency) so every stage shows the
same kind of bar, and so bars switch off cleanly when stderr is not a terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["progress_bar", "say"]

T = TypeVar("T")


def say(message: str) -> None:
    """One progress line on stderr, prefixed so it never mixes with a command's stdout."""
    print(f"[alexedge] {message}", file=sys.stderr, flush=True)


def progress_bar(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate ``items`` while drawing a bar; without a terminal, print start and end lines."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    console = Console(file=sys.stderr)
    if not console.is_terminal:
        print(f"{description} ...", file=sys.stderr, flush=True)
        yield from items
        print(f"{description}: done", file=sys.stderr, flush=True)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
