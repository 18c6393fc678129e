"""``litevid recommend``: which models to consider for a device, a mode and a budget.

The answer is the latency/accuracy Pareto front of the models that fit the budget: no model off
the front is both faster and more accurate than one on it. Latency is what the results store
measured on that device (a name substring, or a device class such as ``cpu`` or ``cuda``); when
the store has no row of that device, the nearest device class stands in and the answer says so.
Accuracy is the stored evaluations' top-1 on the dataset (any dataset the store has, e.g. a
study's ``synthetic``; the answer names the study and its jobs), else the paper's Table 4 as a
labelled fallback.
Ranking and grouping reuse ``results.query`` via ``ReportData``: one settings group (input,
precision, runtime, channels-last, compile, batch) is used, never a mix.
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import paper as P
from .accuracy import is_epic, pareto_front, who
from .data import (
    CONFIG_KEYS,
    LATENCY_MODES,
    ReportData,
    config_label,
    config_of,
    load,
    source_of,
    study_of,
)

__all__ = ["Candidate", "Recommendation", "choose_dataset", "device_class", "pareto_front",
           "recommend", "recommend_from"]

# Words that say which kind of device a name is, for the nearest-class fallback.
DEVICE_CLASSES: dict[str, tuple[str, ...]] = {
    "cuda": ("cuda", "gpu", "nvidia", "geforce", "rtx", "gtx", "tesla", "quadro", "titan",
             "a100", "h100", "h200", "v100", "t4", "l4", "l40", "a10", "a6000"),
    "mps": ("mps", "apple m", "macbook", "mac mini", "mac studio"),
    "phone": ("phone", "iphone", "android", "pixel", "galaxy", "snapdragon", "ane", "ipad"),
    "cpu": ("cpu", "intel", "amd", "epyc", "xeon", "ryzen", "core i", "arm", "graviton",
            "neoverse"),
}


def device_class(text: str) -> str | None:
    """The device class (``cuda``, ``mps``, ``phone``, ``cpu``) a device name suggests."""
    t = text.lower()
    for cls, words in DEVICE_CLASSES.items():
        if t == cls or any(w in t for w in words):
            return cls
    return None


@dataclass
class Candidate:
    """A model measured on the chosen device and settings."""

    model: str
    category: str
    latency_ms: float
    relative: float
    peak_mem_gb: float | None
    accuracy: float | None  # top-1 in % (EK100: action)
    on_front: bool = False
    accuracy_from: str | None = None  # study and job, checkpoint, or the paper's Table 4


@dataclass
class Recommendation:
    """The answer: the front, everything that fits, what was left out and why."""

    device_query: str
    device: str
    mode: str
    settings: str
    dataset: str
    accuracy_source: str
    budget: dict[str, float | None]
    front: list[Candidate]
    fitting: list[Candidate]
    excluded: dict[str, str]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        """A plain table of the front, the accuracy's source, then the notes."""
        cols = ["model", "category", "latency ms", "relative", "peak mem GB",
                f"{self.dataset} top-1 %"]
        rows = [[c.model, c.category, f"{c.latency_ms:.1f}", f"{c.relative:.2f}",
                 "-" if c.peak_mem_gb is None else f"{c.peak_mem_gb:.2f}",
                 "-" if c.accuracy is None else f"{c.accuracy:.1f}"] for c in self.front]
        if len({c.accuracy_from for c in self.front}) > 1:  # per model: a study job each
            cols.append("accuracy from")
            for r, c in zip(rows, self.front):
                r.append(c.accuracy_from or "-")
        widths = [max(len(col), *(len(r[i]) for r in rows)) for i, col in enumerate(cols)]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(c.ljust(w) if i < 2 or i == 6 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        budget = ", ".join(f"{k} <= {v:g}" for k, v in self.budget.items() if v is not None)
        out = [f"Pareto front on {self.device}, {self.settings}"
               + (f" ({budget})" if budget else ""),
               f"accuracy: {self.accuracy_source}",
               line(cols), line(["-" * w for w in widths]), *(line(r) for r in rows)]
        others = [c.model for c in self.fitting if not c.on_front]
        if others:
            out.append(f"also fit, but dominated: {', '.join(others)}")
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def _pick_device(data: ReportData, query: str, mode: str) -> tuple[str, list[str]]:
    """The device whose rows answer ``query`` in ``mode``, and notes on how it was chosen."""
    types: dict[str, str] = {}
    models: dict[str, set[str]] = defaultdict(set)
    for r in data.rows:
        if r["mode"] == mode:
            name = r.get("device_name") or "?"
            types[name] = (r.get("device_type") or "").lower()
            models[name].add(r["model"])
    if not types:
        measured = sorted({r["mode"] for r in data.rows})
        raise ValueError(f"no {mode} latency measured in the results (modes measured: "
                         f"{', '.join(measured)}); run `litevid bench --modes {mode}`")
    q = query.lower()
    matched = [d for d in types if q in d.lower() or q == types[d]]
    notes = []
    if not matched:
        cls = device_class(query)
        matched = [d for d in types if cls and (types[d] == cls or device_class(d) == cls)]
        if not matched:
            raise ValueError(f"no {mode} rows for device {query!r} nor for its device class "
                             f"({cls or 'unknown'}); devices with {mode} rows: "
                             + "; ".join(sorted(types)))
        notes.append(f"no rows for {query!r}: latency is from the nearest device class ({cls}); "
                     "expect other absolute times on your device")
    best = max(matched, key=lambda d: (len(models[d]), d))
    if len(matched) > 1:
        notes.append(f"{len(matched)} devices match {query!r}; using the one with the most "
                     f"models, {best} (others: {', '.join(sorted(set(matched) - {best}))})")
    return best, notes


def choose_dataset(data: ReportData, dataset: str | None) -> tuple[str, list[str]]:
    """The dataset whose accuracy ranks the models, and a note when it was not asked for.

    Not given: the only dataset with stored evaluations, else ``k400`` when stored or when
    nothing is (the paper's Table 4), else the stored dataset with the most models.

    Raises:
        ValueError: ``dataset`` has no stored evaluation and is not in the paper's Table 4.
    """
    stored = data.evaluations_by_dataset()
    if dataset is None:
        if len(stored) == 1:
            (only,) = stored
            return only, [f"--dataset not given: using {only}, the only dataset with stored "
                          "evaluations"]
        if not stored or "k400" in stored:
            return "k400", []
        best = max(sorted(stored), key=lambda d: len(stored[d]))
        return best, [f"--dataset not given: using {best}, the stored dataset with the most "
                      f"models (also stored: {', '.join(sorted(set(stored) - {best}))})"]
    if dataset not in stored and dataset not in P.DATASETS:
        known = sorted(set(stored) | set(P.DATASETS))
        close = difflib.get_close_matches(dataset, known, n=1)
        raise ValueError(f"no accuracy on dataset {dataset!r}"
                         + (f" (did you mean {close[0]!r}?)" if close else "")
                         + ": stored evaluations on "
                         + (", ".join(sorted(stored)) or "no dataset")
                         + f"; the paper's Table 4 has {', '.join(P.DATASETS)}")
    return dataset, []


def _accuracy(data: ReportData, dataset: str) -> tuple[dict[str, float], dict[str, str], str,
                                                       str]:
    """``model -> top-1 %``, ``model -> where it came from``, the source line, and a short
    name of the source for the excluded models."""
    rows = data.evaluations_by_dataset().get(dataset, {})
    main = "action top-1" if is_epic(dataset, rows.values()) else "top-1"
    if rows:
        split = next(iter(rows.values()))["split"]
        acc = {m: 100.0 * r["top1"] for m, r in rows.items()}
        origin = {m: source_of(r) or "stored evaluation" for m, r in rows.items()}
        if any(study_of(r) for r in rows.values()):
            source = (f"measured: {who(rows.values(), plain='stored evaluations', jobs=True)} "
                      f"({dataset} {split} {main})")
        else:
            source = f"stored evaluations on {dataset} {split} ({main})"
        return acc, origin, source, "the stored evaluations"
    acc = P.paper_accuracy(dataset)
    return acc, {m: "paper Table 4" for m in acc}, (
        f"the paper's Table 4 ({dataset} {main}) (fallback: no stored evaluation on "
        f"{dataset})"), "the paper's Table 4"


def recommend_from(data: ReportData, *, device: str, mode: str,
                   max_latency_ms: float | None = None, max_memory_gb: float | None = None,
                   dataset: str | None = None) -> Recommendation:
    """The Pareto front of ``data`` for a device, mode and budget (see the module docstring).

    Args:
        dataset: whose accuracy ranks the models: any dataset with stored evaluations, or one
            of the paper's (``k400``, ``ssv2``, ``ek100``); ``None``: see ``choose_dataset``.

    Raises:
        ValueError: unknown mode or dataset, no rows for the device (nor its class), or nothing
            fits.
    """
    if mode not in LATENCY_MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(LATENCY_MODES)}")
    dataset, dataset_notes = choose_dataset(data, dataset)
    chosen, notes = _pick_device(data, device, mode)
    notes += dataset_notes
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for e in data.relative:
        if e["device_name"] == chosen and e["mode"] == mode:
            groups[(config_of(e), e["batch"])].append(e)
    runtime = CONFIG_KEYS.index("runtime")
    key = max(groups, key=lambda k: (k[0][runtime] == "eager", len(groups[k]), str(k)))
    if len(groups) > 1:
        notes.append(f"{len(groups) - 1} other settings measured on this device; using the one "
                     "with the most models (rows of different settings are never mixed)")
    acc, origin, source, short = _accuracy(data, dataset)
    cands, excluded = [], {}
    for e in groups[key]:
        mem = data.row_of(e).get("peak_mem_bytes")
        c = Candidate(model=e["model"], category=P.category(e["model"]),
                      latency_ms=e["latency_ms"], relative=e["relative"],
                      peak_mem_gb=None if mem is None else mem / 1e9,
                      accuracy=acc.get(e["model"]), accuracy_from=origin.get(e["model"]))
        reason = _over_budget(c, max_latency_ms, max_memory_gb)
        if reason:
            excluded[c.model] = reason
        else:
            cands.append(c)
    where = f"{chosen}, {mode} B={key[1]} {config_label(key[0])}"
    if not cands:
        raise ValueError(f"no model fits the budget on {where}: "
                         + _closest(data, groups[key], max_memory_gb is not None))
    scored = {c.model: (c.latency_ms, c.accuracy) for c in cands if c.accuracy is not None}
    for c in cands:
        if c.accuracy is None:
            excluded[c.model] = f"no {dataset} accuracy in {short}"
    if not scored:
        raise ValueError(f"models fit the budget on {where} ({', '.join(c.model for c in cands)})"
                         f" but none has an accuracy on {dataset} from {source}")
    front_names = pareto_front(scored)  # type: ignore[arg-type]
    for c in cands:
        c.on_front = c.model in front_names
    cands.sort(key=lambda c: c.latency_ms)
    front = sorted((c for c in cands if c.on_front), key=lambda c: c.latency_ms)
    return Recommendation(device_query=device, device=chosen, mode=mode,
                          settings=f"{mode} B={key[1]} {config_label(key[0])}", dataset=dataset,
                          accuracy_source=source,
                          budget={"max_latency_ms": max_latency_ms,
                                  "max_memory_gb": max_memory_gb},
                          front=front, fitting=[c for c in cands if c.accuracy is not None],
                          excluded=excluded, notes=notes)


def _closest(data: ReportData, entries: list[dict[str, Any]], memory: bool) -> str:
    """What came closest to the budget: the fastest model, and the smallest when memory counts."""
    fastest = min(entries, key=lambda e: e["latency_ms"])
    text = f"the fastest is {fastest['model']} at {fastest['latency_ms']:.1f} ms"
    mems = [(data.row_of(e)["peak_mem_bytes"], e["model"]) for e in entries
            if data.row_of(e).get("peak_mem_bytes") is not None]
    if memory and mems:
        size, model = min(mems)
        text += f"; the smallest is {model} at {size / 1e9:.2f} GB"
    return text


def _over_budget(c: Candidate, max_latency_ms: float | None,
                 max_memory_gb: float | None) -> str | None:
    if max_latency_ms is not None and c.latency_ms > max_latency_ms:
        return f"{c.latency_ms:.1f} ms > {max_latency_ms:g} ms"
    if max_memory_gb is not None:
        if c.peak_mem_gb is None:
            return "peak memory not measured"
        if c.peak_mem_gb > max_memory_gb:
            return f"{c.peak_mem_gb:.2f} GB > {max_memory_gb:g} GB"
    return None


def recommend(dbs: Sequence[str | Path], **kwargs: Any) -> Recommendation:
    """``recommend_from`` on the rows of the stores ``dbs``."""
    return recommend_from(load(dbs), **kwargs)
