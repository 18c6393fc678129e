"""The one rich console factory: full width on a terminal, wide and plain when piped.

When output is not a terminal (CI logs, ``| tee``), rich would squash tables to 80 columns and
hide progress bars; long commands check ``is_terminal`` and print one plain line per finished job
instead of a live display.

Stored strings (model, runtime and device names, statuses, operator names) are data, never markup:
a table cell or title made from them goes through ``literal``, a stored value put inside our own
markup (``[red]{...}[/red]``) through ``escape_markup``; both use ``rich.markup.escape``. Our
consoles do not replace ``:emoji:`` codes, so a stored ``:fire:`` stays text too.
"""

from __future__ import annotations

import re
import sys
from typing import Any

__all__ = ["JobProgress", "PIPED_WIDTH", "escape_markup", "is_terminal", "literal",
           "make_console", "plain_text"]

PIPED_WIDTH = 160

# C0/C1 control characters but tab and newline: a stored ESC must not drive the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _visible(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def literal(value: Any) -> str:
    """``str(value)`` as markup that rich shows exactly when it is the whole text of a table cell
    or title: ``[/bold]`` or ``[link=...]`` in a stored name is text, and control characters (ESC)
    show as ``\\x1b``."""
    text = _visible(str(value))
    escaped = escape_markup(text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        escaped = escaped[:-1]  # rich doubles a final backslash for a tag that would follow
    return escaped


def escape_markup(value: Any) -> str:
    """``value`` (``str()`` of it) escaped for use inside a rich markup string of ours, e.g.
    ``f"[red]{escape_markup(status)}[/red]"``: its brackets print as brackets."""
    from rich.markup import escape

    return escape(_visible(str(value)))


def plain_text(markup: str) -> str:
    """A markup string of ours without its tags (what a plain log line shows)."""
    from rich.errors import MarkupError
    from rich.text import Text

    try:
        return Text.from_markup(markup).plain
    except MarkupError:  # not valid markup: show it as it is
        return markup


def is_terminal(stderr: bool = False) -> bool:
    """True when stdout (or stderr) is an interactive terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def make_console(*, stderr: bool = False, **kwargs: Any):
    """A rich ``Console`` on stdout (or stderr) that never truncates tables when piped."""
    from rich.console import Console

    if not is_terminal(stderr) and "width" not in kwargs:
        kwargs["width"] = PIPED_WIDTH
    kwargs.setdefault("emoji", False)  # ":name:" in a stored string is text
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
        plain = plain_text(info)
        sys.stdout.write(f"{count}{self._description}: {plain} ({elapsed:.1f} s)\n")
        sys.stdout.flush()
