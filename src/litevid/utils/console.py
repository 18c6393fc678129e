"""The one rich console factory: full width on a terminal, wide and plain when piped.

When output is not a terminal (CI logs, ``| tee``), rich would squash tables to 80 columns and
hide progress bars; long commands check ``is_terminal`` and print one plain line per finished job
instead of a live display.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["JobProgress", "PIPED_WIDTH", "is_terminal", "make_console"]

PIPED_WIDTH = 160


def is_terminal(stderr: bool = False) -> bool:
    """True when stdout (or stderr) is an interactive terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def make_console(*, stderr: bool = False, **kwargs: Any):
    """A rich ``Console`` on stdout (or stderr) that never truncates tables when piped."""
    from rich.console import Console

    if not is_terminal(stderr) and "width" not in kwargs:
        kwargs["width"] = PIPED_WIDTH
    return Console(stderr=stderr, **kwargs)


class JobProgress:
    """Progress of a run made of jobs (benchmark jobs, training epochs).

    On a terminal: a live rich display on stderr, one line per job with a bar and a status text.
    When stdout is not a terminal (CI, ``| tee``, a file): one plain line per finished job on
    stdout, flushed at once, so a long run is never silent for minutes and the log reads in order.

    Use as a context manager; ``start`` a job, ``update`` it while it runs, ``finish`` it.
    """

    def __init__(self, total: int | None = None, *, live: bool | None = None,
                 console: Any = None) -> None:
        self.total = total
        self.live = is_terminal() if live is None else live
        self.console = console
        self._progress: Any = None
        self._task: Any = None
        self._description = ""
        self._started = 0.0
        self.finished = 0

    def __enter__(self) -> "JobProgress":
        if self.live:
            from rich.progress import (BarColumn, Progress, SpinnerColumn, TextColumn,
                                       TimeElapsedColumn)

            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(bar_width=24),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                console=self.console or make_console(stderr=True))
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start(self, description: str, total: int | None = None) -> None:
        import time

        self._description, self._started = description, time.monotonic()
        if self._progress is not None:
            self._task = self._progress.add_task(description, total=total, info="starting")

    def update(self, info: str | None = None, *, completed: int | None = None,
               total: int | None = None) -> None:
        if self._progress is None:
            return
        fields: dict[str, Any] = {}
        if info is not None:
            fields["info"] = info
        if completed is not None:
            fields["completed"] = completed
        if total is not None:
            fields["total"] = total
        self._progress.update(self._task, **fields)

    def finish(self, info: str) -> None:
        import time

        self.finished += 1
        if self._progress is not None:
            self._progress.update(self._task, total=1, completed=1, info=info)
            return
        count = f"[{self.finished}/{self.total}] " if self.total else ""
        elapsed = time.monotonic() - self._started
        plain = info.replace("[red]", "").replace("[/red]", "")
        sys.stdout.write(f"{count}{self._description}: {plain} ({elapsed:.1f} s)\n")
        sys.stdout.flush()
