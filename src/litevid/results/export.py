"""CSV / JSON export of the results store, written atomically (temporary file + rename).

Each exported row carries the relative latency of its comparison group (``relative_latency``;
empty for failed rows and for older duplicates that do not enter the ranking). Raw samples and
other structured columns are JSON text in CSV and nested values in JSON.

CSV cells are ``utils.escaping.csv_cell``: a stored string that a spreadsheet would run as a
formula (``=...``, ``+...``, ``-...``, ``@...``) starts with ``'``; numbers stay numbers. JSON
needs nothing: its strings are quoted.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable

from ..utils.escaping import csv_cell
from ..utils.io import atomic_write
from .query import relative_latency
from .store import COLUMN_NAMES, JSON_COLUMNS, SCHEMA_VERSION

__all__ = ["FORMATS", "export_rows", "with_relative"]

FORMATS = ("csv", "json")


def with_relative(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with a ``relative_latency`` field (median-based, see ``query``)."""
    rel = {e["uid"]: e["relative"] for e in relative_latency(rows)}
    return [{**r, "relative_latency": rel.get(r.get("uid"))} for r in rows]


def export_rows(rows: Iterable[dict[str, Any]], path: str | Path, fmt: str) -> int:
    """Write decoded store rows to ``path`` as ``csv`` or ``json``; returns the row count."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    rows = with_relative(list(rows))
    if fmt == "json":
        doc = {"schema_version": SCHEMA_VERSION, "rows": rows}
        atomic_write(path, json.dumps(doc, indent=1, default=str) + "\n")
        return len(rows)
    import io

    buf = io.StringIO()
    scalars = [c for c in COLUMN_NAMES if c not in JSON_COLUMNS]
    at = scalars.index("status") + 1  # relative latency next to the status; JSON text last
    fields = [*scalars[:at], "relative_latency", *scalars[at:], *JSON_COLUMNS]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: csv_cell(json.dumps(r[k]) if k in JSON_COLUMNS and r.get(k) is not None
                                     else r.get(k)) for k in fields})
    atomic_write(path, buf.getvalue())
    return len(rows)
