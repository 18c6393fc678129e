"""Rich tables of result rows, shared by ``litevid bench`` and ``litevid results show``.

Every cell and title is a ``utils.console.literal``: a model, runtime or device name from the
store is shown as it is, never read as rich markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..utils.console import literal
from .query import EAGER, relative_latency, runtime_of, vs_eager

__all__ = ["evaluation_table", "fmt_bytes", "measurement_table", "mem_label", "settings_label",
           "status_label"]


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("GB", 1e9), ("MB", 1e6)):
        if n >= div:
            return f"{n / div:.2f} {unit}" if unit == "GB" else f"{n / div:.0f} {unit}"
    return f"{n / 1e3:.0f} kB"


def mem_label(row: dict[str, Any]) -> str:
    """Short tag for the kind of the memory number (details in the row's ``mem_kind``)."""
    kind = row.get("mem_kind") or ""
    if kind.startswith("cuda"):
        return "reserved"
    if kind.startswith("cpu"):
        return "RSS"
    return kind.split(":")[0] if kind else ""


def status_label(row: dict[str, Any]) -> str:
    """The row's status, with the passes after the timing that failed (``ok; memory pass:
    oom``)."""
    text = row.get("status") or ""
    for name, why in (row.get("pass_errors") or {}).items():
        text += f"; {name} pass: {why}"
    return text


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def settings_label(row: dict[str, Any]) -> str:
    """Input and options that set a row apart: ``16x224 fp32``, ``+cl`` (channels-last),
    ``+compile``, ``+opt`` (the ``litevid.optimize`` form). Rows are only ranked against rows
    with the same settings."""
    label = f"{row.get('frames')}x{row.get('size')} {row.get('precision')}"
    for flag, mark in (("channels_last", " +cl"), ("compile", " +compile"), ("optimized", " +opt")):
        if row.get(flag):
            label += mark
    return label


def measurement_table(rows: Iterable[dict[str, Any]], title: str, caption: str | None = None):
    """A table with one line per row: model, mode, batch, median, p90, CV, relative latency
    (within this set of rows, per device, runtime and settings), peak memory, GFLOPs, TFLOP/s,
    status.

    When a row was run by another runtime than eager PyTorch, a ``runtime`` column follows the
    mode, and ``vs eager`` (its median / the eager median of the same model and settings) follows
    ``relative`` where such an eager row is among ``rows``; eager-only tables are unchanged.
    ``title`` is shown literally (it names stored devices); ``caption`` is our own text.
    """
    from rich.table import Table

    rows = list(rows)
    rel = {e["uid"]: e["relative"] for e in relative_latency(rows)}
    show_runtime = any(runtime_of(r) != EAGER for r in rows)
    ratio = vs_eager(rows) if show_runtime else {}
    table = Table(title=literal(title), caption=caption)
    cols = ["model", "mode", "settings", "batch", "median ms", "p90 ms", "CV", "relative",
            "peak mem", "GFLOPs", "TFLOP/s", "status"]
    if show_runtime:
        cols.insert(cols.index("mode") + 1, "runtime")
    if ratio:
        cols.insert(cols.index("relative") + 1, "vs eager")
    for col in cols:
        table.add_column(col, justify="left" if col in ("model", "mode", "runtime", "settings",
                                                        "status") else "right")
    for r in rows:
        batch = str(r.get("batch"))
        if r.get("requested_batch") not in (None, r.get("batch")):
            batch += f" (fit; asked {r['requested_batch']})"
        cv = r.get("cv")
        cv_txt = "-" if cv is None else f"{cv * 100:.1f}%" + (" !" if cv > 0.10 else "")
        mem = fmt_bytes(r.get("peak_mem_bytes"))
        if r.get("peak_mem_bytes") is not None:
            mem += f" {mem_label(r)}"
        rel_v = rel.get(r.get("uid"))
        cells = {"model": r["model"], "mode": r["mode"], "runtime": runtime_of(r),
                 "settings": settings_label(r), "batch": batch,
                 "median ms": _num(r.get("median_ms"), ".1f"),
                 "p90 ms": _num(r.get("p90_ms"), ".1f"),
                 "CV": cv_txt, "relative": "-" if rel_v is None else f"{rel_v:.2f}",
                 "vs eager": _num(ratio.get(r.get("uid")), ".2f"), "peak mem": mem,
                 "GFLOPs": _num(r.get("gflops"), ".1f"), "TFLOP/s": _num(r.get("tflops"), ".3f"),
                 "status": status_label(r)}
        table.add_row(*(literal(cells[c]) for c in cols))
    return table


def evaluation_table(rows: Iterable[dict[str, Any]]):
    """One line per stored evaluation: accuracy with what the training cost."""
    from rich.table import Table

    table = Table(title="evaluations (single view, single crop)",
                  caption="top-1/top-5 of the main head (EK100: action = verb and noun right); "
                          "clips: scored, and 'of N' when clips of the split could not be read")
    for col in ("model", "dataset", "split", "clips", "input", "top-1", "top-5", "mean class",
                "epochs", "train time", "device"):
        table.add_column(col, justify="left" if col in ("model", "dataset", "split", "device")
                         else "right")
    for r in rows:
        wall = r.get("train_wall_s")
        clips = str(r.get("clips"))
        if r.get("failed_clips"):
            clips += f" of {r.get('clips_total')}"
        table.add_row(*map(literal, (
            r["model"], r["dataset"], r["split"], clips,
            f"{r.get('frames')}x{r.get('size')}", _num(r.get("top1"), ".4f"),
            _num(r.get("top5"), ".4f"), _num(r.get("mean_class_acc"), ".4f"),
            str(r.get("epochs") if r.get("epochs") is not None else "-"),
            "-" if wall is None else f"{wall / 60:.1f} min", r.get("device_name") or "?")))
    return table
