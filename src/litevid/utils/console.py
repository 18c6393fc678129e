"""The one rich console factory: full width on a terminal, wide and plain when piped.

When output is not a terminal (CI logs, ``| tee``), rich would squash tables to 80 columns and
hide progress bars; long commands check ``is_terminal`` and print one plain line per finished job
instead of a live display.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["PIPED_WIDTH", "is_terminal", "make_console"]

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
