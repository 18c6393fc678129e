"""The report's tables: built from ``ReportData``, written as Markdown, CSV and LaTeX (booktabs).

A ``Table`` keeps raw values (CSV gets full precision) plus a format per column (Markdown, LaTeX
and HTML get rounded text), so each renderer is a few lines and every table looks alike. Stored
names are data in every form: Markdown through ``utils.escaping.markdown_text``, CSV through
``csv_cell`` (no spreadsheet formulas), LaTeX through ``latex_escape``, HTML through
``html.escape``.

- Table 2 (``table2_*``): relative latency (fastest = 1.0) with median ms and peak memory, one
  column group per (mode, batch), one table per device and config, and the cross-device average
  per config (``query.cross_device_average``), as the study's Table 2.
- Table 4 (``table4_<dataset>``), the Pareto front per mode (``pareto_<mode>``) and the
  ``provenance`` table are built in ``accuracy.py`` (accuracy and where each number came from);
  ``all_tables`` collects them in reading order.
- ``latency_ci``: each median with its bootstrap confidence interval from the raw samples.
- ``kendall_*``: Kendall tau between every pair of devices (rank stability), per mode and config.
- ``paper_*`` (``--compare-paper``): the paper's Table 2 beside the measurement, with Spearman and
  Kendall rank correlations per mode.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..results.query import EAGER, vs_eager
from ..utils.escaping import csv_row, markdown_text
from . import paper as P
from .data import CONFIG_KEYS, LATENCY_MODES, ReportData, config_label, config_of, mode_order
from .stats import bootstrap_median_ci, kendall_tau, spearman_rho

__all__ = ["Table", "all_tables", "describe_primary", "kendall_tables", "latency_ci_table",
           "paper_tables", "slug", "table2_tables"]

GB = 1e9


@dataclass
class Table:
    """A titled grid of raw values with a format spec per column (``"{:.2f}"``-style)."""

    name: str  # file stem, unique within a report
    title: str
    columns: list[str]
    rows: list[list[Any]]
    formats: dict[str, str] = field(default_factory=dict)
    caption: str = ""

    def text(self, i: int, j: int) -> str:
        """Cell ``(i, j)`` as text; ``None`` shows as ``-``."""
        value = self.rows[i][j]
        if value is None:
            return "-"
        spec = self.formats.get(self.columns[j])
        if spec and isinstance(value, (int, float)) and not isinstance(value, bool):
            return format(value, spec)
        return str(value)

    def to_markdown(self) -> str:
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(markdown_text(c) for c in cells) + " |"

        numeric = [self.numeric(j) for j in range(len(self.columns))]
        out = [f"### {markdown_text(self.title)}", "", line(self.columns),
               "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
        out += [line([self.text(i, j) for j in range(len(self.columns))])
                for i in range(len(self.rows))]
        if self.caption:
            out += ["", markdown_text(self.caption)]
        return "\n".join(out) + "\n"

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(csv_row(self.columns))
        w.writerows(csv_row("" if v is None else v for v in row) for row in self.rows)
        return buf.getvalue()

    def to_latex(self) -> str:
        align = "".join("r" if self.numeric(j) else "l" for j in range(len(self.columns)))
        body = [" & ".join(latex_escape(self.text(i, j)) for j in range(len(self.columns)))
                + r" \\" for i in range(len(self.rows))]
        lines = [r"% booktabs table written by litevid report", r"\begin{table}[t]",
                 r"\centering", rf"\caption{{{latex_escape(self.title)}"
                 + (f". {latex_escape(self.caption)}" if self.caption else "") + "}",
                 rf"\label{{tab:{self.name}}}", rf"\begin{{tabular}}{{{align}}}", r"\toprule",
                 " & ".join(latex_escape(c) for c in self.columns) + r" \\", r"\midrule",
                 *body, r"\bottomrule", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines) + "\n"

    def numeric(self, j: int) -> bool:
        vals = [r[j] for r in self.rows if r[j] is not None]
        return bool(vals) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                  for v in vals)


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
          "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def slug(text: str) -> str:
    """A file-name-safe form of a device or config label."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def _mem_gb(row: dict[str, Any]) -> float | None:
    b = row.get("peak_mem_bytes")
    return None if b is None else b / GB


def _mem_kind(rows: list[dict[str, Any]]) -> str:
    from ..results.table import mem_label

    kinds = sorted({mem_label(r) for r in rows if r.get("peak_mem_bytes") is not None} - {""})
    return "/".join(kinds) or "peak memory"


def _get(entry: dict[str, Any] | None, key: str) -> Any:
    return None if entry is None else entry[key]


def _columns_of(entries: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The (mode, batch) column groups present, in the paper's order."""
    return sorted({(e["mode"], e["batch"]) for e in entries},
                  key=lambda mb: (mode_order(mb[0]), str(mb[1])))


def _model_order(values: dict[str, list[float]]) -> list[str]:
    """Models by mean relative latency over their columns, fastest first."""
    return sorted(values, key=lambda m: (sum(values[m]) / len(values[m]), m))


def table2_device(data: ReportData, device: str, config: tuple,
                  entries: list[dict[str, Any]]) -> Table:
    """Table 2 of one device and config: relative latency, median ms and peak memory."""
    groups = _columns_of(entries)
    cell: dict[tuple, dict[str, Any]] = {(e["model"], e["mode"], e["batch"]): e for e in entries}
    rel: dict[str, list[float]] = defaultdict(list)
    for e in entries:
        rel[e["model"]].append(e["relative"])
    # A runtime other than eager PyTorch also says how it compares with eager (query.vs_eager).
    ratio = vs_eager(data.rows) if dict(zip(CONFIG_KEYS, config))["runtime"] != EAGER else None
    columns = ["model", "category"]
    for mode, batch in groups:
        columns += [f"{mode} B={batch} rel", f"{mode} B={batch} ms", f"{mode} B={batch} mem GB"]
        if ratio is not None:
            columns.append(f"{mode} B={batch} vs eager")
    rows = []
    for model in _model_order(rel):
        row: list[Any] = [model, P.category(model)]
        for mode, batch in groups:
            e = cell.get((model, mode, batch))
            stored = data.row_of(e) if e else {}
            row += [_get(e, "relative"), _get(e, "latency_ms"), _mem_gb(stored) if e else None]
            if ratio is not None:
                row.append(ratio.get(e["uid"]) if e else None)
        rows.append(row)
    mem = _mem_kind([data.row_of(e) for e in entries])
    formats = {c: ".2f" for c in columns if c.endswith(("rel", "GB", "vs eager"))}
    formats.update({c: ".1f" for c in columns if c.endswith(" ms")})
    vs = ("; vs eager = this runtime's median / eager PyTorch's median of the same model and "
          "settings on this device" if ratio is not None else "")
    return Table(
        name=f"table2_{slug(device)}_{slug(config_label(config))}",
        title=f"Table 2, {device}, {config_label(config)}: relative latency and memory",
        columns=columns, rows=rows, formats=formats,
        caption=f"rel = median / fastest model's median in that mode (fastest = 1.0); ms = "
                f"median per step; mem = {mem} in GB (10^9 bytes){vs}")


def table2_average(data: ReportData, config: tuple, entries: list[dict[str, Any]]) -> Table:
    """Table 2 averaged across devices (the study's layout) for one config."""
    groups = _columns_of(entries)
    cell = {(e["model"], e["mode"], e["batch"]): e for e in entries}
    mem: dict[tuple, list[float]] = defaultdict(list)
    for e in data.relative:
        if config_of(e) == config:
            gb = _mem_gb(data.row_of(e))
            if gb is not None:
                mem[(e["model"], e["mode"], e["batch"])].append(gb)
    rel: dict[str, list[float]] = defaultdict(list)
    for e in entries:
        rel[e["model"]].append(e["relative"])
    columns = ["model", "category"]
    for mode, batch in groups:
        columns += [f"{mode} B={batch} rel", f"{mode} B={batch} devices",
                    f"{mode} B={batch} mem GB"]
    rows = []
    for model in _model_order(rel):
        row: list[Any] = [model, P.category(model)]
        for mode, batch in groups:
            e = cell.get((model, mode, batch))
            m = mem.get((model, mode, batch))
            row += [_get(e, "relative"), _get(e, "n_devices"), max(m) if m else None]
        rows.append(row)
    devices = sorted({d for e in entries for d in e["devices"]})
    kinds = _mem_kind([data.row_of(e) for e in data.relative if config_of(e) == config])
    formats = {c: ".2f" for c in columns if c.endswith(("rel", "GB"))}
    return Table(
        name=f"table2_average_{slug(config_label(config))}",
        title=f"Table 2, average across devices, {config_label(config)}",
        columns=columns, rows=rows, formats=formats,
        caption=f"rel = mean over devices of the per-device relative latency (as the study's "
                f"Table 2); devices = how many measured it ({', '.join(devices)}); mem = the "
                f"largest peak memory over those devices ({kinds}), GB")


def table2_tables(data: ReportData) -> list[Table]:
    """Every per-device Table 2 and one cross-device average per config."""
    tables = [table2_device(data, dev, cfg, es)
              for (dev, cfg), es in data.relative_groups().items()]
    tables += [table2_average(data, cfg, es) for cfg, es in data.average_groups().items()]
    return tables


def latency_ci_table(data: ReportData, *, level: float = 0.95, seed: int = 0) -> Table:
    """Median latency of every row with a bootstrap interval from its stored samples."""
    rows = []
    for e in data.relative:
        r = data.row_of(e)
        samples = r.get("samples_ms") or []
        ci = bootstrap_median_ci(samples, level=level, seed=seed) if len(samples) > 1 else None
        rows.append([e["device_name"], config_label(config_of(e)), e["mode"], e["batch"],
                     e["model"], len(samples) or r.get("n"), e["latency_ms"],
                     ci and ci[0], ci and ci[1], r.get("cv")])
    rows.sort(key=lambda x: (str(x[0]), x[1], mode_order(x[2]), str(x[3]), x[6]))
    pct = f"{level:.0%}"
    return Table(
        name="latency_ci", title=f"Median latency with {pct} bootstrap confidence intervals",
        columns=["device", "settings", "mode", "batch", "model", "n", "median ms",
                 f"CI {pct} low", f"CI {pct} high", "CV"],
        rows=rows, formats={"median ms": ".2f", f"CI {pct} low": ".2f",
                            f"CI {pct} high": ".2f", "CV": ".3f"},
        caption=f"percentile bootstrap of the median from the stored per-iteration samples "
                f"(2000 resamples, seed {seed}); '-' where a row has no raw samples (imported)")


def kendall_tables(data: ReportData) -> list[Table]:
    """Kendall tau between every pair of devices, per (config, mode, batch) with >= 2 devices."""
    groups: dict[tuple, dict[str, dict[str, float]]] = defaultdict(dict)
    for e in data.relative:
        if e["mode"] in LATENCY_MODES:
            groups[(config_of(e), e["mode"], e["batch"])].setdefault(
                e["device_name"] or "?", {})[e["model"]] = e["relative"]
    tables = []
    for (cfg, mode, batch), by_dev in sorted(groups.items(),
                                             key=lambda kv: (mode_order(kv[0][1]), str(kv[0]))):
        devices = sorted(by_dev)
        if len(devices) < 2:
            continue
        rows = []
        for a in devices:
            row: list[Any] = [a]
            for b in devices:
                common = sorted(set(by_dev[a]) & set(by_dev[b]))
                row.append(kendall_tau([by_dev[a][m] for m in common],
                                       [by_dev[b][m] for m in common]))
            rows.append(row)
        label = f"{mode} B={batch} {config_label(cfg)}"
        tables.append(Table(
            name=f"kendall_{slug(label)}", title=f"Rank stability across devices, {label}",
            columns=["device", *devices], rows=rows, formats={d: ".2f" for d in devices},
            caption="Kendall tau-b between two devices' rankings of the models both measured "
                    "(1 = same order)"))
    return tables


def describe_primary(primary: tuple[dict[str, float], str, list[str]]) -> str:
    """``train B=8 16x224 fp32 eager, mean over 2 device(s): A, B``."""
    _, label, devices = primary
    return f"{label}, mean over {len(devices)} device(s): {', '.join(devices)}"


def paper_tables(data: ReportData) -> list[Table]:
    """The paper's Table 2 beside the measured cross-device average, and rank correlations."""
    measured = {mode: data.primary_average(mode) for mode in P.MODES}
    models = list(P.paper()["table2"]["rows"])
    columns = ["model", "category"]
    for mode in P.MODES:
        columns += [f"{mode} paper", f"{mode} measured"]
    rows = []
    for model in models:
        row: list[Any] = [model, P.category(model)]
        for mode in P.MODES:
            got = measured[mode]
            row += [P.paper_relative_latency(mode).get(model),
                    got[0].get(model) if got else None]
        rows.append(row)
    labels = "; ".join(describe_primary(got) for got in measured.values() if got)
    side = Table(name="paper_table2", title="The paper's Table 2 beside the measurement",
                 columns=columns, rows=rows, formats={c: ".2f" for c in columns[2:]},
                 caption="relative latency (fastest = 1.0); paper: average over 5 desktop GPUs, "
                         f"mixed precision; measured: {labels or 'nothing'}")
    return [side, correlation_table(data)]


def correlation_table(data: ReportData) -> Table:
    """Spearman rho and Kendall tau between the paper's ranking and each measured one."""
    rows = []
    for mode in P.MODES:
        ref = P.paper_relative_latency(mode)
        got = data.primary_average(mode)
        if got:
            rows.append(_corr_row(f"average of {len(got[2])} device(s)", got[1], mode, ref,
                                  got[0]))
        for (dev, cfg), es in data.relative_groups().items():
            for batch in sorted({e["batch"] for e in es if e["mode"] == mode}, key=str):
                meas = {e["model"]: e["relative"] for e in es
                        if e["mode"] == mode and e["batch"] == batch}
                rows.append(_corr_row(dev, f"{mode} B={batch} {config_label(cfg)}", mode, ref,
                                      meas))
    return Table(name="paper_correlation",
                 title="How well the measurement reproduces the paper's ranking",
                 columns=["where", "settings", "mode", "models", "Spearman rho", "Kendall tau"],
                 rows=rows, formats={"Spearman rho": ".3f", "Kendall tau": ".3f"},
                 caption="rank correlations over the models both have (ties: average ranks; "
                         "Kendall tau-b); 1 = the paper's order of Table 2")


def _corr_row(where: str, settings: str, mode: str, ref: dict[str, float],
              meas: dict[str, float]) -> list[Any]:
    common = sorted(set(ref) & set(meas))
    x, y = [ref[m] for m in common], [meas[m] for m in common]
    return [where, settings, mode, len(common), spearman_rho(x, y), kendall_tau(x, y)]


def all_tables(data: ReportData, *, compare_paper: bool = False) -> list[Table]:
    """Every table of a report, in reading order."""
    from .accuracy import normalised_accuracy, pareto_tables, provenance_table, table4_tables

    tables = table2_tables(data) + table4_tables(data)
    tables += pareto_tables(data, normalised_accuracy(data))
    if compare_paper:
        tables += paper_tables(data)
    tables += kendall_tables(data) + [latency_ci_table(data), provenance_table(data)]
    return unique_names(tables)


def unique_names(items: list[Any]) -> list[Any]:
    """Suffix ``-2``, ``-3`` to repeated ``name`` attributes (two long device names can slug
    alike), so no file overwrites another."""
    seen: dict[str, int] = {}
    for item in items:
        n = seen[item.name] = seen.get(item.name, 0) + 1
        if n > 1:
            item.name = f"{item.name}-{n}"
    return items
