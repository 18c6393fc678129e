"""Reading results stores for a report, and the groupings every table and figure shares.

One or more ``.db`` files are read (read-only), their rows merged by ``uid`` (a file merged into
another is not counted twice) and checked: a foreign or empty file is a one-line ``ValueError``.
Relative latency and cross-device averages come from ``results.query``, so the report ranks
exactly as ``litevid results show`` does; here they are only grouped. A *config* is everything
in ``query.COMPARE_KEYS`` except device, mode and batch (input, precision, runtime, channels-last,
compile): within a config a mode's batch is part of the column, so rows with different settings
are never averaged or ranked together.

Provenance: a row a study wrote carries ``settings["study"]`` (name, job, kind, study_sha256 and,
for evaluations, the training run); ``study_of`` reads it and ``source_of`` names it in a few
words. Rows of a plain ``litevid bench`` / ``eval`` / ``train`` lack it; their own device,
checkpoint and creation time say where they came from.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results.query import (
    COMPARE_KEYS,
    EAGER,
    cross_device_average,
    latest_ok,
    relative_latency,
    setting,
)
from ..results.table import settings_label

__all__ = ["CONFIG_KEYS", "DEFAULT_DB", "ReportData", "config_label", "default_dbs", "load",
           "mode_order", "source_of", "study_of"]

DEFAULT_DB = "litevid-results.db"
LATENCY_MODES = ("train", "batch", "single")
# What sets a table apart (one table per config); device, mode and batch are inside the table.
CONFIG_KEYS = tuple(k for k in COMPARE_KEYS if k not in ("device_name", "mode", "batch"))


def default_dbs(cwd: Path | None = None) -> list[Path]:
    """``results/*.db`` of the working directory, else of the repository this package sits in
    (an editable install of a clone), else ``litevid-results.db``."""
    cwd = cwd or Path.cwd()
    repo = Path(__file__).resolve().parents[3]
    for base in (cwd, repo):
        found = sorted((base / "results").glob("*.db"))
        if found:
            return found
    return [cwd / DEFAULT_DB]


def config_of(entry: dict[str, Any]) -> tuple:
    """The config key of a row or a ``query`` entry (see the module docstring)."""
    return tuple(setting(entry, k) for k in CONFIG_KEYS)


def config_label(config: Sequence[Any]) -> str:
    """``16x224 fp32 eager``, with ``+cl`` / ``+compile`` / ``+opt`` when set."""
    c = dict(zip(CONFIG_KEYS, config))
    base, _, flags = settings_label(c).partition(" +")
    return f"{base} {c['runtime']}" + (f" +{flags}" if flags else "")


def mode_order(mode: str) -> int:
    """Sort key: train, batch, single (the paper's column order), then anything else."""
    return LATENCY_MODES.index(mode) if mode in LATENCY_MODES else len(LATENCY_MODES)


@dataclass
class ReportData:
    """The rows of one or more stores and what is computed from them once.

    Attributes:
        sources: the files read.
        rows: the newest ``ok`` measurement per (settings, model) (``query.latest_ok``).
        evaluations: the newest finite evaluation per (model, dataset, split).
        relative: ``query.relative_latency`` entries (per device, mode and settings).
        average: ``query.cross_device_average`` entries.
        failed: how many measurement rows were not ``ok``.
    """

    sources: list[Path]
    rows: list[dict[str, Any]]
    evaluations: list[dict[str, Any]]
    relative: list[dict[str, Any]] = field(default_factory=list)
    average: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0

    def __post_init__(self) -> None:
        self.by_uid = {r["uid"]: r for r in self.rows}
        if not self.relative:
            self.relative = relative_latency(self.rows)
        if not self.average:
            self.average = cross_device_average(self.relative)

    @property
    def devices(self) -> list[str]:
        return sorted({r.get("device_name") or "?" for r in self.rows})

    def row_of(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The stored row a ``relative_latency`` entry was computed from."""
        return self.by_uid.get(entry.get("uid"), {})

    def relative_groups(self) -> dict[tuple, list[dict[str, Any]]]:
        """``(device, config) -> relative entries`` of the latency modes, sorted by key."""
        groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for e in self.relative:
            if e["mode"] in LATENCY_MODES:
                groups[(e["device_name"] or "?", config_of(e))].append(e)
        return dict(sorted(groups.items(), key=lambda kv: _str_key(kv[0])))

    def average_groups(self) -> dict[tuple, list[dict[str, Any]]]:
        """``config -> cross-device average entries`` of the latency modes."""
        groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for e in self.average:
            if e["mode"] in LATENCY_MODES:
                groups[config_of(e)].append(e)
        return dict(sorted(groups.items(), key=lambda kv: _str_key(kv[0])))

    def _primary_group(self, mode: str) -> tuple[tuple, list[dict[str, Any]]] | None:
        """``((config, batch), average entries)`` of the group that stands for ``mode``."""
        groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
        for e in self.average:
            if e["mode"] == mode:
                groups[(config_of(e), e["batch"])].append(e)
        if not groups:
            return None
        key = max(groups, key=lambda k: (k[0][CONFIG_KEYS.index("runtime")] == EAGER,
                                         len(groups[k]), sum(e["n_devices"] for e in groups[k]),
                                         _str_key(k)))
        return key, groups[key]

    def primary_average(self, mode: str) -> tuple[dict[str, float], str, list[str]] | None:
        """The main cross-device ranking of ``mode``: ``(model -> mean relative, settings
        label, devices)``.

        Among the (config, batch) groups of the mode, eager PyTorch first, the one with the most
        models (then the most devices) stands for the mode, as the study has one column per mode.
        ``None`` when the mode was not measured.
        """
        got = self._primary_group(mode)
        if got is None:
            return None
        (config, batch), entries = got
        devices = sorted({d for e in entries for d in e["devices"]})
        label = f"{mode} B={batch} {config_label(config)}"
        return {e["model"]: e["relative"] for e in entries}, label, devices

    def primary_rows(self, mode: str) -> list[dict[str, Any]]:
        """The stored rows behind ``primary_average(mode)`` (every device), for provenance."""
        got = self._primary_group(mode)
        if got is None:
            return []
        (config, batch), _ = got
        return [r for r in self.rows
                if r["mode"] == mode and r.get("batch") == batch and config_of(r) == config]

    def evaluations_by_dataset(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``dataset -> model -> evaluation row``; per dataset the split with the most models
        (usually ``val``; a study's ``test``), so one dataset's numbers share a split."""
        by: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
        for r in self.evaluations:
            by[(r["dataset"], r["split"])][r["model"]] = r
        best: dict[str, dict[str, dict[str, Any]]] = {}
        for (dataset, _split), rows in sorted(by.items()):
            if len(rows) > len(best.get(dataset, {})):
                best[dataset] = rows
        return best

    def accuracy_by_dataset(self) -> dict[str, dict[str, float]]:
        """``dataset -> model -> top-1 in %`` (EK100: action) of ``evaluations_by_dataset``."""
        return {d: {m: 100.0 * r["top1"] for m, r in rows.items()}
                for d, rows in self.evaluations_by_dataset().items()}


def study_of(row: dict[str, Any]) -> dict[str, Any] | None:
    """``settings["study"]`` of a row a study wrote (name, job, kind, study_sha256, run), else
    ``None`` (a plain ``litevid bench`` / ``eval`` / ``train`` row)."""
    settings = row.get("settings")
    study = settings.get("study") if isinstance(settings, dict) else None
    return study if isinstance(study, dict) else None


def source_of(row: dict[str, Any]) -> str | None:
    """Where a row came from, in a few words: ``study smoke job 3f2a9c1b0d4e``, else the
    evaluated checkpoint's file name, else ``None``."""
    study = study_of(row)
    if study:
        return f"study {study.get('name', '?')} job {study.get('job', '?')}"
    ckpt = row.get("checkpoint")
    return Path(ckpt).name if ckpt else None


def _str_key(key: Any) -> tuple:
    if isinstance(key, tuple):
        return tuple(_str_key(k) for k in key)
    return (str(key),)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


def latest_evaluations(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest evaluation with a finite top-1 per (model, dataset, split)."""
    best: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        if r.get("status", "ok") != "ok" or not _finite(r.get("top1")):
            continue
        k = (r["model"], r["dataset"], r["split"])
        if k not in best or (r.get("created_at") or "") >= (best[k].get("created_at") or ""):
            best[k] = r
    return sorted(best.values(), key=lambda r: (r["dataset"], r["split"], r["model"]))


def load(paths: Sequence[str | Path], *, require_latency: bool = True) -> ReportData:
    """Read the stores, merge by ``uid`` and check there is something to report.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: a file is not a litevid results database, or no usable row was found.
    """
    from ..results.store import ResultStore

    if not paths:
        raise ValueError("no results database given")
    measurements: dict[str, dict[str, Any]] = {}
    evaluations: dict[str, dict[str, Any]] = {}
    for path in paths:
        with ResultStore(path, readonly=True) as store:
            for r in store.rows():
                measurements.setdefault(r["uid"], r)
            for r in store.rows(table="evaluations"):
                evaluations.setdefault(r["uid"], r)
    names = ", ".join(str(p) for p in paths)
    timed = [r for r in measurements.values() if r["mode"] in LATENCY_MODES]
    ok = [r for r in latest_ok(timed) if _finite(r.get("median_ms")) and r["median_ms"] > 0]
    evals = latest_evaluations(evaluations.values())
    if require_latency and not ok:
        what = (f"{len(timed)} latency row(s), none ok" if timed
                else "no latency rows (train/batch/single)")
        raise ValueError(f"{names}: nothing to report: {what}; run `litevid bench` first")
    return ReportData(sources=[Path(p) for p in paths], rows=ok, evaluations=evals,
                      failed=sum(1 for r in timed if r.get("status") != "ok"))
