"""The report's figures (matplotlib, Agg backend; PNG and SVG), built from ``ReportData``.

- ``fig2_train``, ``fig3_batch``, ``fig4_single``: relative latency per model on each device, as
  the study's Figs. 2-4: a bar per model for the mean over devices in its category's colour, one
  marker per device, baselines in bold. One panel per config and batch (never mixed).
- ``fig5_mobile``: the same for rows run by another runtime than eager PyTorch (ONNX Runtime,
  ExecuTorch, Core ML, or imported phone rows), one panel per runtime and settings with its own
  y-axis, as the study's Fig. 5 has one per phone processor.
- ``fig6_latency_accuracy``: latency (mean of the measured modes' relative latencies) against
  min-max-normalised accuracy, coloured by category, as the study's Fig. 6, with the Pareto
  front ringed; its title and caption say where accuracy came from (a study, stored
  evaluations, or the paper's Table 4 as a labelled fallback).
- ``pareto_modes``: one panel per latency mode, relative latency against the same accuracy,
  the front drawn as a step line (the tables ``pareto_<mode>``).
- ``flops_<device>``: GFLOPs against median latency with a least-squares line and R^2: how much
  of the latency FLOPs explain on that device.

matplotlib is imported inside the functions (the ``report`` extra), so tables and
``litevid recommend`` work without it.
"""

from __future__ import annotations

import io
import textwrap
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.query import EAGER
from . import paper as P
from .accuracy import describe_latency, mean_latency, normalised_accuracy, pareto_front
from .data import LATENCY_MODES, ReportData, config_label, config_of, mode_order
from .stats import linear_fit
from .tables import describe_primary, slug

__all__ = ["FIGURE_NUMBERS", "Figure", "MissingExtra", "all_figures", "fig6_points",
           "pareto_figure", "require_matplotlib"]

# The study's colours for Fig. 6: baselines green, composites blue, the rest red (here two reds).
COLORS = {"baseline": "#2ca02c", "composite": "#1f77b4", "attention-only": "#d62728",
          "standalone-attention": "#ff7f0e", P.UNKNOWN: "#7f7f7f"}
MARKERS = "os^Dv<>pPX*h"
FIGURE_NUMBERS = {"train": 2, "batch": 3, "single": 4}
MODE_TITLES = {"train": "training step", "batch": "batch-mode inference",
               "single": "single-instance inference"}


class MissingExtra(ValueError):
    """matplotlib is not installed (the ``report`` extra)."""


def require_matplotlib() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, or ``MissingExtra`` saying what to install."""
    try:
        import matplotlib
    except ImportError:
        raise MissingExtra("figures need matplotlib: pip install 'litevid[report]' "
                           "(or pip install 'matplotlib>=3.7')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass
class Figure:
    """A written figure: file stem, title, caption and the files (PNG first, then SVG)."""

    name: str
    title: str
    caption: str
    paths: list[Path] = field(default_factory=list)


def _save(fig: Any, out_dir: Path, name: str) -> list[Path]:
    from ..utils.io import atomic_write

    paths = []
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=120, bbox_inches="tight")
        path = out_dir / f"{name}.{ext}"
        atomic_write(path, buf.getvalue())
        paths.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return paths


def _legend_handles(categories: set[str], devices: list[str]) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=COLORS[c], label=c + (" (bold)" if c == P.BASELINE else ""))
                          for c in (*P.CATEGORIES, P.UNKNOWN) if c in categories]
    if len(devices) > 1:
        handles += [Line2D([], [], marker=MARKERS[i % len(MARKERS)], ls="", color="black",
                           markerfacecolor="white", label=d) for i, d in enumerate(devices)]
    return handles


def _bar_panel(ax: Any, per_device: dict[str, dict[str, float]], title: str) -> None:
    """Bars of the mean relative latency over devices, a marker per device, baselines bold."""
    devices = sorted(per_device)
    models = sorted({m for v in per_device.values() for m in v})
    mean = {m: sum(per_device[d][m] for d in devices if m in per_device[d])
            / sum(1 for d in devices if m in per_device[d]) for m in models}
    models.sort(key=lambda m: (mean[m], m))
    xs = range(len(models))
    multi = len(devices) > 1
    ax.bar(xs, [mean[m] for m in models], color=[COLORS[P.category(m)] for m in models],
           alpha=0.45 if multi else 0.9, edgecolor="black", linewidth=0.5)
    if multi:
        width = 0.6
        for i, d in enumerate(devices):
            offset = (i / max(len(devices) - 1, 1) - 0.5) * width
            pts = [(x + offset, per_device[d][m]) for x, m in zip(xs, models)
                   if m in per_device[d]]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=MARKERS[i % len(MARKERS)],
                       facecolor="white", edgecolor="black", s=22, zorder=3, linewidths=0.8)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=0.8)
    top = max(max(v.values()) for v in per_device.values())
    if top > 20:  # mobile runtimes spread over 50x (the study's Fig. 5): keep the fast visible
        ax.set_yscale("log")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([P.paper_name(m) for m in models], rotation=45, ha="right")
    for label, m in zip(ax.get_xticklabels(), models):
        if P.is_baseline(m):
            label.set_fontweight("bold")
    ax.set_ylabel("relative latency (fastest = 1.0)" + (", log scale" if top > 20 else ""))
    ax.set_title(title, fontsize=10)
    ax.legend(handles=_legend_handles({P.category(m) for m in models}, devices), fontsize=7,
              loc="upper left")


def _panels(data: ReportData, *, eager: bool, mode: str | None) -> dict[tuple, dict]:
    """``(config, mode, batch) -> {device: {model: relative}}`` of the selected entries."""
    panels: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for e in data.relative:
        if e["mode"] not in LATENCY_MODES or (mode and e["mode"] != mode):
            continue
        if (e["runtime"] == EAGER) != eager:
            continue
        panels[(config_of(e), e["mode"], e["batch"])][e["device_name"] or "?"][e["model"]] = \
            e["relative"]
    # A lone model is 1.0 by definition: nothing to compare, so no panel (its table remains).
    panels = {k: v for k, v in panels.items() if len({m for d in v.values() for m in d}) > 1}
    return dict(sorted(panels.items(), key=lambda kv: (mode_order(kv[0][1]), str(kv[0]))))


def _relative_figure(panels: dict[tuple, dict], out_dir: Path, name: str, title: str,
                     caption: str) -> Figure:
    plt = require_matplotlib()
    n_models = max(len({m for v in p.values() for m in v}) for p in panels.values())
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(max(6.0, 0.55 * n_models + 2.5), 3.8 * len(panels)))
    for ax, ((cfg, mode, batch), per_device) in zip(axes[:, 0], panels.items()):
        _bar_panel(ax, per_device, f"{mode} B={batch}, {config_label(cfg)}")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return Figure(name, title, caption, _save(fig, out_dir, name))


def mode_figures(data: ReportData, out_dir: Path) -> tuple[list[Figure], list[str]]:
    """Figs. 2-4 (eager PyTorch) and Fig. 5 (other runtimes); notes for the ones not drawn."""
    figures, notes = [], []
    for mode in LATENCY_MODES:
        panels = _panels(data, eager=True, mode=mode)
        num = FIGURE_NUMBERS[mode]
        if not panels:
            notes.append(f"Fig. {num} ({MODE_TITLES[mode]}): no {mode} rows measured "
                         f"(litevid bench --modes {mode})")
            continue
        figures.append(_relative_figure(
            panels, out_dir, f"fig{num}_{mode}",
            f"Fig. {num}: relative {MODE_TITLES[mode]} latency per device",
            "Bars: mean relative latency over the devices; markers: each device; colour: "
            "category; bold names: non-transformer baselines. Relative to the fastest model on "
            "the same device and settings."))
    panels = _panels(data, eager=False, mode=None)
    if panels:
        figures.append(_relative_figure(
            panels, out_dir, "fig5_mobile",
            "Fig. 5: relative latency under mobile / export runtimes",
            "One panel per runtime and settings, each with its own y-axis (ranked within the "
            "runtime, never against eager PyTorch); markers: each device."))
    else:
        notes.append("Fig. 5 (mobile runtimes): no rows of another runtime than eager PyTorch "
                     "(litevid bench --runtime ..., or litevid results import for phones)")
    return figures, notes


def fig6_points(data: ReportData) -> tuple[dict[str, tuple[float, float]], str]:
    """``model -> (latency, normalised accuracy)`` for Fig. 6, and how both were made.

    As the paper defines it (``accuracy.mean_latency``, ``accuracy.normalised_accuracy``):
    latency is the mean over the measured modes of the cross-device relative latency; accuracy
    is top-1 (EK100: action) min-max normalised per dataset, then averaged over the datasets
    (K400 left out when two others were measured). Accuracy is measured when the store has
    evaluations, else the paper's Table 4, and the text says which.
    """
    latency, modes = mean_latency(data)
    if not modes:
        return {}, ""
    acc = normalised_accuracy(data)
    both = sorted(set(latency) & set(acc.normalised))
    points = {m: (latency[m], acc.normalised[m]) for m in both}
    return points, f"{describe_latency(data, modes)}; {acc.describe()}"


def _front_line(ax: Any, points: dict[str, tuple[float, float]]) -> list[str]:
    """Ring the Pareto front and draw it as a step line; returns the front."""
    front = pareto_front(points)
    xs, ys = [points[m][0] for m in front], [points[m][1] for m in front]
    ax.step(xs, ys, where="post", color="black", linewidth=1, linestyle="--", zorder=2,
            label="Pareto front")
    ax.scatter(xs, ys, s=140, facecolor="none", edgecolor="black", linewidths=1.2, zorder=4)
    return front


def _scatter_models(ax: Any, points: dict[str, tuple[float, float]]) -> None:
    for model, (x, y) in points.items():
        cat = P.category(model)
        ax.scatter([x], [y], color=COLORS[cat], s=40, edgecolor="black", linewidths=0.5,
                   zorder=3)
        ax.annotate(P.paper_name(model), (x, y), textcoords="offset points", xytext=(4, 3),
                    fontsize=7, fontweight="bold" if cat == P.BASELINE else "normal")


def fig6(data: ReportData, out_dir: Path) -> Figure | str:
    """Fig. 6 with its Pareto front, or a note saying why it was not drawn."""
    points, how = fig6_points(data)
    if len(points) < 2:
        return ("Fig. 6 (latency against accuracy): fewer than two models have both a measured "
                "latency and an accuracy")
    acc = normalised_accuracy(data)
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    _scatter_models(ax, points)
    front = _front_line(ax, points)
    _, modes = mean_latency(data)
    ax.set_xlabel(f"relative latency (mean over {', '.join(modes)}; devices averaged)")
    ax.set_ylabel(f"normalised accuracy (min-max per dataset, mean over {len(acc.datasets)})")
    ax.legend(handles=_legend_handles({P.category(m) for m in points}, []), fontsize=7)
    title = "Fig. 6: latency against normalised accuracy"
    ax.set_title(f"{title}\n" + textwrap.fill(f"accuracy: {acc.source}", 90), fontsize=9)
    fig.tight_layout()
    caption = (how[0].upper() + how[1:] + f". Ringed, joined by the dashed step line: the "
               f"Pareto front ({', '.join(front)}).")
    return Figure("fig6_latency_accuracy", title, caption,
                  _save(fig, out_dir, "fig6_latency_accuracy"))


def pareto_figure(data: ReportData, out_dir: Path) -> Figure | str:
    """One panel per measured mode: relative latency against Fig. 6's accuracy, with the
    Pareto front as a step line (the tables ``pareto_<mode>``); or a note."""
    acc = normalised_accuracy(data)
    panels = {}
    for mode in LATENCY_MODES:
        primary = data.primary_average(mode)
        if primary:
            pts = {m: (r, acc.normalised[m]) for m, r in primary[0].items() if m in acc.normalised}
            if len(pts) >= 2:
                panels[mode] = (pts, primary)
    if not panels:
        return ("Pareto front per mode: no mode has two models with both a latency and an "
                "accuracy")
    plt = require_matplotlib()
    fig, axes = plt.subplots(1, len(panels), squeeze=False, figsize=(5.0 * len(panels), 4.4))
    fronts = []
    for i, (ax, (mode, (pts, primary))) in enumerate(zip(axes[0], panels.items())):
        _scatter_models(ax, pts)
        front = _front_line(ax, pts)
        fronts.append(f"{mode}: {', '.join(front)}")
        ax.set_title(primary[1], fontsize=9)
        if i == 0:
            ax.legend(handles=_legend_handles({P.category(m) for m in pts}, []), fontsize=7)
        ax.set_xlabel(f"relative {MODE_TITLES[mode]} latency (devices averaged)")
        ax.set_ylabel("normalised accuracy (Fig. 6)")
    title = "Latency-accuracy Pareto front per mode"
    fig.suptitle(f"{title}\n" + textwrap.fill(f"accuracy: {acc.source}", 110), fontsize=9)
    fig.tight_layout()
    return Figure("pareto_modes", title,
                  f"Dashed step line and rings: the Pareto front ({'; '.join(fronts)}); "
                  f"{acc.describe()}. Latency: "
                  + "; ".join(describe_primary(p) for _, p in panels.values()) + ".",
                  _save(fig, out_dir, "pareto_modes"))


def flops_figures(data: ReportData, out_dir: Path) -> list[Figure]:
    """Per device, GFLOPs against median latency with a fitted line and R^2 per panel."""
    by_device: dict[str, dict[tuple, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for e in data.relative:
        r = data.row_of(e)
        if e["mode"] in LATENCY_MODES and r.get("gflops"):
            by_device[e["device_name"] or "?"][(config_of(e), e["mode"], e["batch"])].append(
                {**e, "gflops": r["gflops"]})
    figures: list[Figure] = []
    for device, panels in sorted(by_device.items()):
        panels = {k: v for k, v in panels.items() if len(v) >= 3}
        if not panels:
            continue
        name = f"flops_{slug(device)}"
        taken = {f.name for f in figures}
        name += f"-{len(figures) + 1}" if name in taken else ""  # two devices that slug alike
        figures.append(_flops_figure(device, panels, out_dir, name))
    return figures


def _flops_figure(device: str, panels: dict[tuple, list[dict[str, Any]]], out_dir: Path,
                  name: str) -> Figure:
    plt = require_matplotlib()
    keys = sorted(panels, key=lambda k: (mode_order(k[1]), str(k)))
    fig, axes = plt.subplots(1, len(keys), squeeze=False, figsize=(4.6 * len(keys), 4.0))
    fits = []
    for ax, key in zip(axes[0], keys):
        pts = panels[key]
        xs, ys = [p["gflops"] for p in pts], [p["latency_ms"] for p in pts]
        for p in pts:
            ax.scatter([p["gflops"]], [p["latency_ms"]], color=COLORS[P.category(p["model"])],
                       edgecolor="black", linewidths=0.5, s=30, zorder=3)
            ax.annotate(P.paper_name(p["model"]), (p["gflops"], p["latency_ms"]), fontsize=6,
                        textcoords="offset points", xytext=(3, 2))
        fit = linear_fit(xs, ys)
        cfg, mode, batch = key
        r2 = ""
        if fit:
            slope, intercept, r2v = fit
            lo, hi = min(xs), max(xs)
            ax.plot([lo, hi], [slope * lo + intercept, slope * hi + intercept], color="black",
                    linewidth=1, linestyle="--")
            r2 = f", R² = {r2v:.2f}"
            fits.append(f"{mode} B={batch}: R² = {r2v:.2f}")
        ax.set_title(f"{mode} B={batch}, {config_label(cfg)}{r2}", fontsize=9)
        ax.set_xlabel("GFLOPs per step")
        ax.set_ylabel("median latency (ms)")
    title = f"FLOPs against latency on {device}"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return Figure(name, title,
                  "Least-squares line over the models; R² = share of the latency variance "
                  "that FLOPs explain on this device (" + ("; ".join(fits) or "no fit") + ").",
                  _save(fig, out_dir, name))


def all_figures(data: ReportData, out_dir: Path) -> tuple[list[Figure], list[str]]:
    """Every figure written to ``out_dir``, and notes for figures there was no data for."""
    figures, notes = mode_figures(data, out_dir)
    for made in (fig6(data, out_dir), pareto_figure(data, out_dir)):
        if isinstance(made, Figure):
            figures.append(made)
        else:
            notes.append(made)
    figures += flops_figures(data, out_dir)
    return figures, notes
