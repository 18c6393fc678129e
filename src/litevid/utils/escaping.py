"""Stored strings are data: one escaping rule per output kind.

Names in a results store (model, runtime, device, host, status) come from other machines and
from hand-written import files, so no output may read them as markup or code:

- terminal (rich): ``utils.console.literal`` / ``escape_markup``;
- HTML: ``html.escape`` (``report.html``);
- LaTeX: ``report.tables.latex_escape``;
- Markdown: ``markdown_text`` (here);
- CSV opened by a spreadsheet: ``csv_cell`` (here).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["csv_cell", "csv_row", "markdown_text"]

# OWASP "CSV injection": a cell starting with one of these is a formula to Excel, LibreOffice
# and Google Sheets. Tab and carriage return start one after some importers strip them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What a spreadsheet reads as a plain number; such a string keeps its sign and stays a number.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# Markdown: HTML is neutralised as entities, the table separator, code spans and link brackets
# are backslash-escaped (the backslash itself first), and line breaks, which would end a table
# row or a heading, become spaces.
_MARKDOWN = {"\\": "\\\\", "`": "\\`", "|": "\\|", "[": "\\[", "]": "\\]", "&": "&amp;",
             "<": "&lt;", ">": "&gt;", "\r\n": " ", "\n": " ", "\r": " "}
_MARKDOWN_RE = re.compile("|".join(re.escape(k) for k in sorted(_MARKDOWN, key=len,
                                                                  reverse=True)))


def csv_cell(value: Any) -> Any:
    """``value`` safe for a CSV a spreadsheet may open.

    A string that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return and is not a
    plain number gets a leading ``'`` (so ``=HYPERLINK(...)`` shows as text); numbers, and strings
    that read as numbers (``-1.5``, ``+3``, ``-2e-3``), are unchanged, as is everything else.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_row(values: Any) -> list[Any]:
    """``csv_cell`` of every value of a row (a header included)."""
    return [csv_cell(v) for v in values]


def markdown_text(value: Any) -> str:
    """``str(value)`` shown literally in Markdown (a table cell, a heading, a list item):
    ``<script>`` is text, ``|`` does not split a cell, backticks and ``[..](..)`` make no code
    span or link."""
    return _MARKDOWN_RE.sub(lambda m: _MARKDOWN[m.group()], str(value))
