"""``build_report``: read the stores, write every table, figure and ``index.html`` to a folder.

Layout of the output folder::

    index.html            everything, self-contained (images inlined, sortable tables)
    report.md             every table in Markdown, with links to the figures
    tables/<name>.md|csv|tex
    figures/<name>.png|svg

The folder is replaced as a whole: the report is written into a temporary folder beside it
(``.{name}.{pid}.{random}.tmp``), then the previous folder is renamed away (``...old``), the new
one renamed in, and the previous one removed. So tables of an older run that this one no longer
makes are gone, and a run killed at any point leaves the previous report (or none) intact: the
next run removes a killed run's temporary folder and, if the kill came between the two renames,
puts the previous report back first.

Only a report folder is replaced: ``out`` must be absent, empty, or hold nothing but a report's
own entries (``REPORT_ENTRIES``); a folder with anything else in it (a user's files, a results
database) is refused with an error naming what is there, and is left untouched.

Stored names are data: ``report.md`` escapes them (``utils.escaping.markdown_text``), the CSV
tables neutralise spreadsheet formulas (``csv_cell``), the page escapes HTML. Without matplotlib
the tables and HTML are still written and the page says which extra draws the figures.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..utils.escaping import markdown_text
from ..utils.io import atomic_write
from ..utils.tempfiles import make_temp_dir, remove_path, stale_temporaries, temp_prefix
from .accuracy import normalised_accuracy, study_summary
from .data import ReportData, load
from .figures import Figure, MissingExtra, all_figures
from .html import render_html
from .tables import Table, all_tables

__all__ = ["REPORT_ENTRIES", "Report", "build_report"]

# What a report folder holds; a folder with anything else in it is not replaced (the files a
# file browser leaves in a folder it showed do not count).
REPORT_ENTRIES = frozenset({"index.html", "report.md", "tables", "figures"})
_BROWSER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


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
             "devices: " + "; ".join(data.devices),
             study_summary(data),
             f"accuracy (Fig. 6, Pareto fronts): {normalised_accuracy(data).source}"]
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
    md = markdown_text  # summary, captions and notes name stored devices and files
    parts = [f"# {md(title)}", "", *(f"- {md(s)}" for s in summary), ""]
    for f in figures:
        png = next(p for p in f.paths if p.suffix == ".png")
        parts += [f"![{md(f.title)}](figures/{png.name})", "", f"*{md(f.title)}.* {md(f.caption)}",
                  ""]
    parts += [f"- not drawn: {md(n)}" for n in notes]
    parts += ["", *(t.to_markdown() for t in tables)]
    return "\n".join(parts) + "\n"


def build_report(dbs: Sequence[str | Path], out: str | Path, *, compare_paper: bool = False,
                 figures: bool = True) -> Report:
    """Write the full report of the stores ``dbs`` into the folder ``out``.

    Args:
        dbs: results databases (read-only); rows are merged by ``uid``.
        out: output folder: created, or replaced as a whole when it holds a previous report
            (absent, empty, or only ``REPORT_ENTRIES``); see the module docstring.
        compare_paper: add the paper's Table 2 beside the measurement, with rank correlations.
        figures: draw figures (needs matplotlib); without it, or when it is missing, only tables
            and pages are written and a note says why.

    Raises:
        ValueError: a file is not a results database, or holds nothing to report; ``out`` is a
            file, or a folder with other things than a report in it.
        FileNotFoundError: a file does not exist.
    """
    out = Path(out)
    target = _recover(out)
    data = load(dbs)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = make_temp_dir(target)  # also removes what a killed run left
    try:
        report = _write(data, staging, compare_paper=compare_paper, figures=figures)
        _swap(staging, target)
    finally:
        remove_path(staging)
    moved = {p: out / p.relative_to(staging) for p in report.files}  # paths in their place
    for f in report.figures:
        f.paths = [moved.get(p, p) for p in f.paths]
    return Report(out=out, tables=report.tables, figures=report.figures, notes=report.notes,
                  files=[moved[p] for p in report.files])


def _recover(out: Path) -> Path:
    """The folder to replace (``out`` with links resolved), after undoing a run killed between
    its two renames and checking that ``out`` holds only a report."""
    target = Path(os.path.realpath(out))
    leftovers = stale_temporaries(target, suffix=".old")  # previous reports renamed away
    if leftovers and not os.path.lexists(target):
        os.replace(leftovers.pop(), target)  # killed before the new one was renamed in
    for old in leftovers if os.path.lexists(target) else []:
        remove_path(old)  # killed while removing the previous report
    if target.exists() and not target.is_dir():
        raise ValueError(f"--out {out}: is a file, not a folder")
    if target.parent.is_dir() and not os.access(target.parent, os.W_OK | os.X_OK):
        raise ValueError(f"--out {out}: the report is written beside it and renamed in place, "
                         f"so {target.parent} must be writable, and it is not")
    if target.is_dir():
        foreign = sorted(p.name for p in target.iterdir()
                         if p.name not in REPORT_ENTRIES | _BROWSER_FILES
                         and not (p.name.startswith(".") and p.name.endswith(".tmp")))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                              if len(foreign) > 5 else "")
            raise ValueError(f"--out {out}: folder holds {shown}, which are not part of a litevid "
                             f"report; the report replaces the whole folder, so choose another "
                             f"--out (or an empty folder)")
    return target


def _swap(staging: Path, target: Path) -> None:
    """Rename the finished report ``staging`` to ``target``; a previous one there is renamed
    away first and removed last."""
    if not target.exists():
        os.replace(staging, target)
        return
    old = target.with_name(f"{temp_prefix(target.name)}{staging.name.rsplit('.', 2)[-2]}.old")
    os.replace(target, old)
    os.replace(staging, target)
    remove_path(old)


def _write(data: ReportData, out: Path, *, compare_paper: bool, figures: bool) -> Report:
    """Every table, figure and page of ``data`` into the (new, empty) folder ``out``."""
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
                ("Table 4: accuracy with relative latency",
                 [t for t in tables if t.name.startswith("table4")]),
                ("Latency-accuracy Pareto front per mode",
                 [t for t in tables if t.name.startswith("pareto_")]),
                ("The paper beside the measurement",
                 [t for t in tables if t.name.startswith("paper")]),
                ("Statistics: rank stability and confidence intervals",
                 [t for t in tables if t.name.startswith(("kendall", "latency_ci"))]),
                ("Provenance: where every number came from",
                 [t for t in tables if t.name.startswith("provenance")])]
    page = render_html(title=title, summary=summary, tables=tables, figures=figs, notes=notes,
                       sections=sections)
    atomic_write(out / "index.html", page)
    atomic_write(out / "report.md", _markdown(title, summary, tables, figs, notes))
    files += [out / "index.html", out / "report.md"]
    return Report(out=out, tables=tables, figures=figs, notes=notes, files=files)
