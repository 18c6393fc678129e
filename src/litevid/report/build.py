"""``build_report``: read the stores, write every table, figure and ``index.html`` to a folder.

Layout of the output folder::

    index.html            everything, self-contained (images inlined, sortable tables)
    report.md             every table in Markdown, with links to the figures
    tables/<name>.md|csv|tex
    figures/<name>.png|svg

Every file is written atomically (temporary file, then rename), so a report folder is never
left half-written by a crash. Without matplotlib the tables and HTML are still written and the
page says which extra draws the figures.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.io import atomic_write
from .data import ReportData, load
from .figures import Figure, MissingExtra, all_figures
from .html import render_html
from .tables import Table, all_tables

__all__ = ["Report", "build_report"]


@dataclass
class Report:
    """What ``build_report`` wrote."""

    out: Path
    tables: list[Table]
    figures: list[Figure]
    notes: list[str]
    files: list[Path] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"


def _summary(data: ReportData) -> list[str]:
    from .. import __version__

    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    lines = [f"generated {now} by litevid {__version__} from "
             + ", ".join(str(p) for p in data.sources),
             f"{len(data.rows)} latency measurement(s) used (newest ok per model and settings), "
             f"{data.failed} failed row(s) not shown; {len(data.evaluations)} evaluation(s)",
             "devices: " + "; ".join(data.devices)]
    return lines


def _write_tables(tables: Sequence[Table], out: Path) -> list[Path]:
    folder = out / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for t in tables:
        for ext, text in (("md", t.to_markdown()), ("csv", t.to_csv()), ("tex", t.to_latex())):
            path = folder / f"{t.name}.{ext}"
            atomic_write(path, text)
            files.append(path)
    return files


def _markdown(title: str, summary: Sequence[str], tables: Sequence[Table],
              figures: Sequence[Figure], notes: Sequence[str]) -> str:
    parts = [f"# {title}", "", *(f"- {s}" for s in summary), ""]
    for f in figures:
        png = next(p for p in f.paths if p.suffix == ".png")
        parts += [f"![{f.title}](figures/{png.name})", "", f"*{f.title}.* {f.caption}", ""]
    parts += [f"- not drawn: {n}" for n in notes]
    parts += ["", *(t.to_markdown() for t in tables)]
    return "\n".join(parts) + "\n"


def build_report(dbs: Sequence[str | Path], out: str | Path, *, compare_paper: bool = False,
                 figures: bool = True) -> Report:
    """Write the full report of the stores ``dbs`` into the folder ``out``.

    Args:
        dbs: results databases (read-only); rows are merged by ``uid``.
        out: output folder (created).
        compare_paper: add the paper's Table 2 beside the measurement, with rank correlations.
        figures: draw figures (needs matplotlib); without it, or when it is missing, only tables
            and pages are written and a note says why.

    Raises:
        ValueError: a file is not a results database, or holds nothing to report.
        FileNotFoundError: a file does not exist.
    """
    data = load(dbs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = all_tables(data, compare_paper=compare_paper)
    figs: list[Figure] = []
    notes: list[str] = []
    if figures:
        (out / "figures").mkdir(exist_ok=True)
        try:
            figs, notes = all_figures(data, out / "figures")
        except MissingExtra as exc:
            notes = [f"no figures: {exc}"]
    else:
        notes = ["figures not asked for (--no-figures)"]
    files = _write_tables(tables, out)
    files += [p for f in figs for p in f.paths]
    title = "litevid report: latency and accuracy of lightweight video models"
    summary = _summary(data)
    sections = [("Figures", figs),
                ("Table 2: relative latency and memory",
                 [t for t in tables if t.name.startswith("table2")]),
                ("Table 4: accuracy and training latency",
                 [t for t in tables if t.name == "table4"]),
                ("The paper beside the measurement",
                 [t for t in tables if t.name.startswith("paper")]),
                ("Statistics: rank stability and confidence intervals",
                 [t for t in tables if t.name.startswith(("kendall", "latency_ci"))])]
    page = render_html(title=title, summary=summary, tables=tables, figures=figs, notes=notes,
                       sections=sections)
    atomic_write(out / "index.html", page)
    atomic_write(out / "report.md", _markdown(title, summary, tables, figs, notes))
    files += [out / "index.html", out / "report.md"]
    return Report(out=out, tables=tables, figures=figs, notes=notes, files=files)
