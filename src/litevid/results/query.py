"""Relative latency, as the study reports it, computed from stored rows.

Per device and mode the fastest model gets 1.0 and every other model its latency divided by the
fastest one's (section 3.2 of the study). Rows are only compared when everything but the model is
the same: device, mode, batch, input size, precision, runtime, channels-last and compile, so a
fitted batch or a different precision never ends up in someone else's ranking. When a model was
measured several times under the same settings, the newest ``ok`` row counts.

Runtimes are ranked separately, as the study's Figure 5 ranks phone CPU, GPU and ANE separately:
an ONNX Runtime or Core ML row is relative to the fastest model under that runtime on that
device, never to an eager PyTorch row. How a runtime compares with eager PyTorch for the same
model is a separate number, ``vs_eager`` (runtime latency / eager latency, same device and
settings).

The cross-device average is the mean of a model's relative latencies over the devices that
measured it (the study's Table 2 "average across devices"); ``n_devices`` says how many.

The study reports the mean of 100 runs; we rank by the median by default (robust to stragglers)
and accept ``metric="mean_ms"`` to reproduce the study exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

__all__ = ["COMPARE_KEYS", "EAGER", "cross_device_average", "latest_ok", "relative_latency",
           "runtime_of", "setting", "vs_eager"]

# What must be equal for two rows to be ranked against each other.
COMPARE_KEYS = ("device_name", "mode", "batch", "frames", "size", "precision", "runtime",
                "channels_last", "compile", "optimized")
_FLAGS = ("channels_last", "compile", "optimized")  # booleans: a missing/NULL one is False
METRICS = ("median_ms", "mean_ms", "p90_ms", "min_ms")
EAGER = "eager"  # the runtime of rows that do not name one (all rows before schema v4)


def runtime_of(row: dict[str, Any]) -> str:
    return row.get("runtime") or EAGER


def setting(row: dict[str, Any], key: str) -> Any:
    """A ``COMPARE_KEYS`` value of a row, normalised (runtime 'eager' and flags False when
    missing, as rows written before those columns existed)."""
    if key == "runtime":
        return runtime_of(row)
    if key in _FLAGS:
        return bool(row.get(key))
    return row.get(key)


def _key(row: dict[str, Any], keys: tuple[str, ...] = COMPARE_KEYS) -> tuple:
    return tuple(setting(row, k) for k in keys)


def latest_ok(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest ``ok`` row per (settings, model); rows later in the input win ties."""
    best: dict[tuple, tuple[str, int, dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        if row.get("status") != "ok":
            continue
        k = (*_key(row), row["model"])
        cand = (row.get("created_at") or "", i, row)
        if k not in best or cand[:2] >= best[k][:2]:
            best[k] = cand
    return [v[2] for v in sorted(best.values(), key=lambda v: v[1])]


def relative_latency(rows: Iterable[dict[str, Any]], metric: str = "median_ms"
                     ) -> list[dict[str, Any]]:
    """One entry per (settings, model) with ``latency_ms`` and ``relative`` (fastest = 1.0).

    Entries are sorted by comparison group, then relative latency. Each carries the
    ``COMPARE_KEYS``, ``model``, ``uid`` of the row used, ``latency_ms`` and ``relative``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown latency metric {metric!r}; choose from {', '.join(METRICS)}")
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in latest_ok(rows):
        if row.get(metric) is not None and row[metric] > 0:
            groups[_key(row)].append(row)
    out = []
    for key in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
        members = groups[key]
        fastest = min(r[metric] for r in members)
        for r in sorted(members, key=lambda r: r[metric]):
            out.append({**dict(zip(COMPARE_KEYS, key)), "model": r["model"], "uid": r.get("uid"),
                        "latency_ms": r[metric], "relative": r[metric] / fastest})
    return out


def cross_device_average(relative: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean relative latency per (settings except device, model) over the devices measured.

    Args:
        relative: entries from ``relative_latency``.

    Returns:
        Entries with the non-device ``COMPARE_KEYS``, ``model``, ``relative`` (the mean),
        ``n_devices`` and ``devices``; sorted by group, then mean relative latency.
    """
    keys = tuple(k for k in COMPARE_KEYS if k != "device_name")
    acc: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for e in relative:
        acc[(*_key(e, keys), e["model"])].append(e)
    out = []
    for k, es in acc.items():
        out.append({**dict(zip(keys, k[:-1])), "model": k[-1],
                    "relative": sum(e["relative"] for e in es) / len(es),
                    "n_devices": len(es), "devices": sorted(e["device_name"] for e in es)})
    out.sort(key=lambda e: (tuple(str(e[k]) for k in keys), e["relative"]))
    return out


def vs_eager(rows: Iterable[dict[str, Any]], metric: str = "median_ms") -> dict[str, float]:
    """``uid -> latency / eager latency`` for each newest ``ok`` row of a runtime other than eager
    that has an eager row of the same model and settings on the same device (< 1: faster)."""
    if metric not in METRICS:
        raise ValueError(f"unknown latency metric {metric!r}; choose from {', '.join(METRICS)}")
    keys = tuple(k for k in COMPARE_KEYS if k != "runtime")
    latest = [r for r in latest_ok(rows) if r.get(metric) is not None and r[metric] > 0]
    eager = {(*_key(r, keys), r["model"]): r[metric] for r in latest if runtime_of(r) == EAGER}
    out = {}
    for r in latest:
        base = eager.get((*_key(r, keys), r["model"]))
        if runtime_of(r) != EAGER and base is not None:
            out[r.get("uid")] = r[metric] / base
    return out
