"""Progress bars of long ``hatang`` commands, drawn by rich on stderr (stdout stays parseable).

One place decides how progress looks: a bar with the count, the rate and the time left when the
total is known. On a terminal it redraws in place; elsewhere (a log, a pipe) rich prints it once
when it ends. Nothing here reads settings or talks to a service.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

_STDERR = Console(stderr=True)


@dataclass(frozen=True, slots=True)
class Bar:
    """One progress bar: ``advance`` it as work is done."""

    progress: Progress
    task: TaskID

    def advance(self, amount: float = 1, *, description: str | None = None) -> None:
        """Count ``amount`` more done (and change the label, when given)."""
        if description is None:
            self.progress.update(self.task, advance=amount)
        else:
            self.progress.update(self.task, advance=amount, description=description)


@contextmanager
def bar(description: str, *, total: float | None, unit: str = "items") -> Iterator[Bar]:
    """A progress bar of ``total`` ``unit`` (``bytes`` shows sizes and a transfer rate)."""
    amount = [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
    columns = [TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), *amount,
               TimeElapsedColumn(), TimeRemainingColumn()]  # fmt: skip
    with Progress(*columns, console=_STDERR, transient=False) as progress:
        yield Bar(progress, progress.add_task(description, total=total))
