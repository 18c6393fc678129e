"""Accuracy in the report, and where every number came from.

- Table 4 per dataset (``table4_<dataset>``): the newest stored evaluation of each model on the
  dataset's split: top-1/top-5 (EK100: action, verb and noun top-1), training cost, the measured
  relative latency of every latency mode the store has, and per row the device it was evaluated
  on and its source (``study smoke job 3f2a9c1b0d4e``, else the checkpoint). With no evaluation
  stored, one table ``table4`` shows the paper's Table 4, labelled as the paper's numbers.
- Fig. 6's accuracy (``normalised_accuracy``), as the paper defines it: top-1 (EK100: action)
  min-max normalised per dataset, then averaged over the datasets. The normalisation runs over
  the models evaluated on every dataset used, so each dataset's best of them is 1 and worst 0.
  K400 is left out when two other datasets were measured, as the paper leaves it out (its K400
  models were trained with another recipe). Its latency (``mean_latency``): the mean over the
  measured modes of each mode's cross-device relative latency.
- ``pareto_<mode>``: per latency mode, each model's relative latency beside Fig. 6's accuracy
  and whether it is on the latency-accuracy Pareto front (``pareto_front``, which
  ``litevid recommend`` uses too).
- ``provenance``: one row per stored number used: kind, model, dataset or mode, device, study,
  job, run folder, creation time and git revision.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import paper as P
from .data import LATENCY_MODES, ReportData, config_label, config_of, source_of, study_of
from .stats import minmax, wilson_interval
from .tables import Table, describe_primary, slug

__all__ = ["Accuracy", "describe_latency", "drop_empty", "is_epic", "mean_latency",
           "normalised_accuracy", "num_classes", "pareto_front", "pareto_tables",
           "provenance_table", "study_summary", "table4_dataset", "table4_paper",
           "table4_tables", "who"]

EK_HEADS = ("verb", "noun")
# Classes of the fixed public datasets, for the chance level when a row does not say.
KNOWN_CLASSES = {"k400": 400, "ssv2": 174}
PAPER_SOURCE = "paper Table 4"


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names not dominated in (lower latency, higher accuracy), fastest first.

    A point is dominated when another is at most as slow and at least as accurate, and better in
    one of the two. Identical points are all kept.
    """
    order = sorted(points, key=lambda m: (points[m][0], -points[m][1], m))
    front: list[str] = []
    best = float("-inf")
    for m in order:
        lat, acc = points[m]
        if acc > best or (front and points[front[-1]] == (lat, acc)):
            front.append(m)
            best = max(best, acc)
    return front


def drop_empty(columns: list[str], rows: list[list[Any]],
               keep: tuple[str, ...] = ()) -> tuple[list[str], list[list[Any]]]:
    """Leave out columns that are empty in every row (EK100 heads on a K400-only store)."""
    idx = [j for j, c in enumerate(columns)
           if c in keep or any(r[j] is not None for r in rows)]
    return [columns[j] for j in idx], [[r[j] for j in idx] for r in rows]


# ---- provenance ---------------------------------------------------------------------------------

def who(rows: Iterable[dict[str, Any]], *, plain: str, jobs: bool = False) -> str:
    """The studies ``rows`` came from (``study smoke``, with ``jobs`` its job ids), and ``plain``
    for rows no study wrote; joined with `` + ``."""
    studies: dict[str, set[str]] = defaultdict(set)
    n_plain = 0
    for r in rows:
        s = study_of(r)
        if s:
            studies[str(s.get("name", "?"))].add(str(s.get("job", "?")))
        else:
            n_plain += 1
    parts = []
    for name, ids in sorted(studies.items()):
        text = f"study {name}"
        if jobs:
            shown = sorted(ids)
            text += (" job " if len(shown) == 1 else " jobs ") + ", ".join(shown[:4])
            text += f" and {len(shown) - 4} more" if len(shown) > 4 else ""
        parts.append(text)
    if n_plain or not parts:
        parts.append(plain)
    return " + ".join(parts)


def study_summary(data: ReportData) -> str:
    """One line for the report's summary: each study (name, sha256 short) and its row counts."""
    counts: dict[tuple[str, str], list[int]] = {}
    plain = [0, 0]
    for kind, rows in enumerate((data.rows, data.evaluations)):
        for r in rows:
            s = study_of(r)
            if s:
                key = (str(s.get("name", "?")), str(s.get("study_sha256") or "?")[:12])
                counts.setdefault(key, [0, 0])[kind] += 1
            else:
                plain[kind] += 1
    if not counts:
        return "studies: none (every row comes from a plain litevid bench / eval / train)"
    parts = [f"{name} (sha256 {sha}): {n[0]} latency row(s), {n[1]} evaluation(s)"
             for (name, sha), n in sorted(counts.items())]
    if any(plain):
        parts.append(f"not from a study: {plain[0]} latency row(s), {plain[1]} evaluation(s)")
    return "studies: " + "; ".join(parts)


def provenance_table(data: ReportData) -> Table:
    """One row per stored number the report uses: where and by what it was measured."""
    rows: list[list[Any]] = []
    for r in data.rows:
        s = study_of(r) or {}
        rows.append(["latency", r["model"],
                     f"{r['mode']} B={r.get('batch')} {config_label(config_of(r))}",
                     r.get("device_name"), s.get("name"), s.get("job"), None,
                     r.get("created_at"), r.get("git_rev")])
    for r in data.evaluations:
        s = study_of(r) or {}
        rows.append(["evaluation", r["model"], f"{r['dataset']} {r['split']}",
                     r.get("device_name"), s.get("name"), s.get("job"),
                     s.get("run") or r.get("checkpoint"), r.get("created_at"), r.get("git_rev")])
    rows.sort(key=lambda x: (x[0] != "latency", str(x[2]), str(x[3]), x[1]))
    return Table(
        name="provenance", title="Provenance: where every number came from",
        columns=["kind", "model", "dataset or mode", "device", "study", "job", "run folder",
                 "created", "git rev"], rows=rows,
        caption="one row per stored number the report uses (the newest ok latency row per "
                "model and settings, the newest evaluation per model, dataset and split); "
                "study and job '-': not written by a study (a plain litevid bench / eval / "
                "train); run folder: the training run a study's evaluation used, else the "
                "evaluated checkpoint")


# ---- Fig. 6's axes ------------------------------------------------------------------------------

@dataclass
class Accuracy:
    """Fig. 6's accuracy axis and where it came from.

    Attributes:
        datasets: the datasets averaged.
        top1: ``dataset -> model -> top-1 in %`` (EK100: action) of every evaluated model.
        normalised: ``model -> mean over datasets of min-max normalised top-1``, for the models
            evaluated on every dataset.
        source: ``measured: study smoke (datasets synthetic)``, or the paper's Table 4 fallback.
        measured: the store had evaluations (else the paper's numbers).
        notes: what was left out and why.
    """

    datasets: list[str]
    top1: dict[str, dict[str, float]]
    normalised: dict[str, float]
    source: str
    measured: bool
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One clause for captions: how the number is made, from what, what was left out."""
        text = (f"accuracy = top-1 (EK100: action) min-max normalised per dataset over the "
                f"{len(self.normalised)} model(s) evaluated on every dataset, then averaged "
                f"over {', '.join(self.datasets)}; from {self.source}")
        return "; ".join([text, *self.notes])


def normalised_accuracy(data: ReportData) -> Accuracy:
    """Fig. 6's accuracy (see the module docstring): measured when the store has evaluations,
    else the paper's SSV2 and EK100 (action) accuracies, said so."""
    stored = data.evaluations_by_dataset()
    notes: list[str] = []
    if stored:
        others = [d for d in sorted(stored) if d != "k400"]
        datasets = others if len(others) >= 2 else sorted(stored)
        if "k400" in stored and len(others) >= 2:
            notes.append("k400 left out, as the paper does (its K400 models were trained "
                         "with another recipe)")
        elif "k400" in stored and others:
            notes.append("k400 kept: fewer than two other datasets measured (the paper "
                         "leaves it out)")
        top1 = {d: {m: 100.0 * r["top1"] for m, r in stored[d].items()} for d in datasets}
        rows = [r for d in datasets for r in stored[d].values()]
        source = (f"measured: {who(rows, plain='stored evaluations')} "
                  f"(datasets {', '.join(datasets)})")
    else:
        datasets = ["ssv2", "ek100"]
        top1 = {d: P.paper_accuracy(d) for d in datasets}
        source = ("the paper's Table 4 (SSV2 top-1, EK100 action top-1; fallback: no "
                  "evaluation stored)")
    common = set.intersection(*(set(a) for a in top1.values()))
    left = sorted(set().union(*top1.values()) - common)
    if left:
        notes.append(f"not evaluated on every dataset, so left out: {', '.join(left)}")
    if len(datasets) == 1:
        notes.append("one dataset: min-max over it maps the best model to 1 and the worst to 0")
    norm = {d: minmax({m: top1[d][m] for m in common}) for d in datasets}
    normalised = {m: sum(norm[d][m] for d in datasets) / len(datasets) for m in sorted(common)}
    return Accuracy(datasets, top1, normalised, source, bool(stored), notes)


def mean_latency(data: ReportData) -> tuple[dict[str, float], dict[str, tuple]]:
    """``model -> mean over the measured modes of the cross-device relative latency`` (models
    lacking a mode are left out), and ``mode -> primary_average`` of the modes used."""
    modes = {m: p for m in LATENCY_MODES if (p := data.primary_average(m))}
    if not modes:
        return {}, {}
    common = set.intersection(*(set(p[0]) for p in modes.values()))
    return {m: sum(p[0][m] for p in modes.values()) / len(modes) for m in sorted(common)}, modes


def describe_latency(data: ReportData, modes: dict[str, tuple]) -> str:
    """Fig. 6's latency in words: which modes were averaged, over which devices, from where."""
    names = list(modes)
    if len(names) == 1:
        head = (f"latency = {names[0]} only (the store measured one mode; the paper averages "
                "train, batch and single)")
    elif len(names) == len(LATENCY_MODES):
        head = "latency = mean of the train, batch and single relative latencies, as the paper"
    else:
        missing = [m for m in LATENCY_MODES if m not in modes]
        head = (f"latency = mean of the {' and '.join(names)} relative latencies "
                f"({', '.join(missing)} not measured; the paper averages all three)")
    rows = [r for m in names for r in data.primary_rows(m)]
    groups = "; ".join(describe_primary(p) for p in modes.values())
    return (f"{head}, each the mean over devices ({groups}), from "
            f"{who(rows, plain='litevid bench rows')}")


# ---- Table 4 ------------------------------------------------------------------------------------

def _percent(v: float | None) -> float | None:
    """Stored accuracies are fractions; the paper prints percent."""
    return None if v is None else 100.0 * v


def _head_top1(row: dict[str, Any], head: str) -> float | None:
    m = (row.get("metrics") or {}).get(head)
    return _percent(m.get("top1")) if isinstance(m, dict) and m.get("top1") is not None else None


def is_epic(dataset: str, rows: Iterable[dict[str, Any]]) -> bool:
    """EK100-style: verb and noun heads, the main top-1 being the action."""
    return dataset == "ek100" or any(all(h in (r.get("metrics") or {}) for h in EK_HEADS)
                                     for r in rows)


def _count(v: Any) -> int | None:
    """A class count from ``8``, a list of class names, or a one-head dict of either."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v if v > 1 else None
    if isinstance(v, (list, tuple)):
        return len(v) if len(v) > 1 else None
    if isinstance(v, dict) and len(v) == 1:
        return _count(next(iter(v.values())))
    return None


def num_classes(dataset: str, rows: Iterable[dict[str, Any]]) -> int | None:
    """Classes of a one-head dataset: from a row's metrics or settings (``num_classes`` or
    ``classes``), else the public dataset's count (K400, SSV2), else ``None``."""
    for r in rows:
        metrics, settings = r.get("metrics") or {}, r.get("settings") or {}
        holders = [metrics, metrics.get("label"), settings, study_of(r),
                   settings.get("train_config"), settings.get("eval_args")]
        for h in holders:
            if isinstance(h, dict):
                for key in ("num_classes", "classes"):
                    n = _count(h.get(key))
                    if n:
                        return n
    return KNOWN_CLASSES.get(dataset)


def table4_tables(data: ReportData) -> list[Table]:
    """Table 4 per evaluated dataset; the paper's Table 4 (labelled) when none is stored."""
    stored = data.evaluations_by_dataset()
    if not stored:
        return [table4_paper(data)]
    return [table4_dataset(data, d, rows) for d, rows in sorted(stored.items())]


def _latency_caption(data: ReportData, lat: dict[str, tuple]) -> list[str]:
    if not lat:
        return ["no latency measured in the store (litevid bench --modes train,batch,single)"]
    return [f"{m} rel = measured relative {m} latency, fastest = 1.0 ({describe_primary(p)}; "
            f"from {who(data.primary_rows(m), plain='litevid bench rows')})"
            for m, p in lat.items()]


def table4_dataset(data: ReportData, dataset: str, rows: dict[str, dict[str, Any]]) -> Table:
    """Table 4 of one dataset: the stored evaluations (``model -> row``, one split) with the
    measured relative latency of each mode, the device and the source of each row."""
    epic = is_epic(dataset, rows.values())
    lat = {m: p for m in LATENCY_MODES if (p := data.primary_average(m))}
    paper_train = P.paper_relative_latency("train")
    acc_cols = ["action top-1 %", "verb top-1 %", "noun top-1 %"] if epic else \
        ["top-1 %", "top-5 %"]
    columns = ["model", "category", *acc_cols, "epochs", "train h", "GPU-h",
               *(f"{m} rel" for m in lat), "paper train rel", "device", "source"]
    out = []
    for model, r in rows.items():
        acc = ([_percent(r["top1"]), _head_top1(r, "verb"), _head_top1(r, "noun")] if epic
               else [_percent(r["top1"]), _percent(r.get("top5"))])
        wall = r.get("train_wall_s")
        out.append([model, P.category(model), *acc, r.get("epochs"),
                    None if wall is None else wall / 3600, r.get("gpu_hours"),
                    *(p[0].get(model) for p in lat.values()), paper_train.get(model),
                    r.get("device_name"), source_of(r)])
    out.sort(key=lambda x: (-x[2], x[0]))  # best top-1 (EK100: action) first
    first = next(iter(rows.values()))
    clips = sorted({r["clips"] for r in rows.values() if r.get("clips") is not None})
    clip_text = ("clips evaluated: not recorded" if not clips else
                 f"{clips[0]} clips evaluated per model" if len(clips) == 1 else
                 f"{clips[0]}-{clips[-1]} clips evaluated per model")
    if clips:  # how much of the spread between models is sampling noise alone
        top1s = sorted(x[2] for x in out if x[2] is not None)
        mid = top1s[len(top1s) // 2] / 100 if top1s else 0.5
        lo, hi = wilson_interval(mid, clips[0])
        clip_text += (f" (95 % interval of a top-1 of {100 * mid:.1f} % on {clips[0]} clips: "
                      f"{100 * lo:.1f}-{100 * hi:.1f} %; smaller differences are sampling noise)")
    views = "/".join(sorted({r.get("views") or "1x1" for r in rows.values()}))
    parts = [f"{dataset} {first['split']}: {clip_text}, views {views} (temporal x spatial)",
             f"accuracy from {who(rows.values(), plain='stored evaluations')}, the newest "
             f"evaluation per model; rows sorted by {'action ' if epic else ''}top-1, best first"]
    if epic:
        parts.append("action = verb and noun both right")
    else:
        n = num_classes(dataset, rows.values())
        if n:
            parts.append(f"chance level {100 / n:.1f} % (1 of {n} classes)")
    parts += _latency_caption(data, lat)
    if any(x[columns.index("paper train rel")] is not None for x in out):
        parts.append("paper train rel = the paper's Table 2 training latency, for the models "
                     "the paper has")
    parts.append("epochs, train h: the training of the evaluated checkpoint when it was "
                 "saved (a best.pt: its best epoch and the time to it)")
    parts.append("device = where the evaluation ran; source = study and job, else the "
                 "checkpoint file")
    columns, out = drop_empty(columns, out, keep=("device", "source"))
    return Table(name=f"table4_{slug(dataset)}",
                 title=f"Table 4, {dataset}: accuracy with relative latency",
                 columns=columns, rows=out,
                 formats={c: ".1f" for c in columns if c.endswith("%")}
                 | {c: ".2f" for c in columns if c.endswith((" rel", " h", "GPU-h"))},
                 caption="; ".join(parts))


def table4_paper(data: ReportData) -> Table:
    """The paper's Table 4 (no evaluation stored), with the store's measured latencies."""
    lat = {m: p for m in LATENCY_MODES if (p := data.primary_average(m))}
    rel_cols = [f"{m} rel" for m in ("train", *(m for m in lat if m != "train"))]
    paper_train = P.paper_relative_latency("train")
    rows = []
    for dataset in P.DATASETS:
        acc = P.paper_accuracy(dataset)
        second = P.paper_accuracy(dataset, "verb" if dataset == "ek100" else "top5")
        noun = P.paper_accuracy(dataset, "noun") if dataset == "ek100" else {}
        for model in sorted(acc, key=acc.get):
            top5 = None if dataset == "ek100" else second.get(model)
            verb = second.get(model) if dataset == "ek100" else None
            rels = [lat[c[:-4]][0].get(model) if c[:-4] in lat else None for c in rel_cols]
            rows.append([dataset, "val", model, P.category(model), acc[model], top5, verb,
                         noun.get(model), None, None, None, *rels, paper_train.get(model),
                         PAPER_SOURCE])
    columns = ["dataset", "split", "model", "category", "top-1 %", "top-5 %", "verb %",
               "noun %", "epochs", "train h", "GPU-h", *rel_cols, "paper train rel", "source"]
    latency = _latency_caption(data, lat) if lat else \
        ["train rel: no training latency measured (run `litevid bench --modes train`)"]
    rows.sort(key=lambda r: (r[0], r[1], r[4]))
    columns, rows = drop_empty(columns, rows, keep=("train rel",))
    return Table(name="table4", title="Table 4 (the paper's numbers): accuracy with latency",
                 columns=columns, rows=rows,
                 formats={c: ".1f" for c in ("top-1 %", "top-5 %", "verb %", "noun %")}
                 | {c: ".2f" for c in columns if c.endswith(" rel")},
                 caption="; ".join(["no evaluations stored: accuracy is the paper's Table 4 "
                                    "(EK100 top-1 = action), not measured here", *latency,
                                    "paper train rel = Table 2 of the study"]))


# ---- Pareto front per mode ----------------------------------------------------------------------

def pareto_tables(data: ReportData, acc: Accuracy | None = None) -> list[Table]:
    """Per latency mode measured: each model with an accuracy, its relative latency, median ms
    per device, Fig. 6's normalised accuracy, per-dataset top-1 and whether it is on the front."""
    acc = acc or normalised_accuracy(data)
    tables = []
    for mode in LATENCY_MODES:
        primary = data.primary_average(mode)
        if not primary:
            continue
        rel, _, devices = primary
        models = sorted((m for m in rel if m in acc.normalised), key=lambda m: (rel[m], m))
        if not models:
            continue
        front = set(pareto_front({m: (rel[m], acc.normalised[m]) for m in models}))
        src = data.primary_rows(mode)
        ms = {(r["model"], r.get("device_name")): r.get("median_ms") for r in src}
        columns = ["model", "category", f"{mode} rel", *(f"{d} ms" for d in devices),
                   "norm. accuracy", *(f"{d} top-1 %" for d in acc.datasets), "on front"]
        rows = [[m, P.category(m), rel[m], *(ms.get((m, d)) for d in devices),
                 acc.normalised[m], *(acc.top1[d].get(m) for d in acc.datasets),
                 "yes" if m in front else "no"] for m in models]
        tables.append(Table(
            name=f"pareto_{mode}", title=f"Latency-accuracy Pareto front, {mode}",
            columns=columns, rows=rows,
            formats={f"{mode} rel": ".2f", "norm. accuracy": ".3f"}
            | {f"{d} ms": ".1f" for d in devices}
            | {f"{d} top-1 %": ".1f" for d in acc.datasets},
            caption=f"{mode} rel = mean over devices of the relative latency "
                    f"({describe_primary(primary)}; from {who(src, plain='litevid bench rows')})"
                    f"; ms = median per step on each device; norm. accuracy = Fig. 6's "
                    f"{acc.describe()}; on front = no other model is at most as slow and at "
                    "least as accurate, and better in one; rows fastest first"))
    return tables
