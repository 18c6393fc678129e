"""The study's published numbers and model metadata, read from ``report/paper.json``.

Reports must run where only a results file exists (no torch, no model registry), yet they need
each model's category (Fig. 6 colours, baselines marked) and the paper's Table 2 and Table 4 to
compare against or to fall back on. Those facts live in ``paper.json`` as data, each block with
its source; a test checks the categories against the registry.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["BASELINE", "CATEGORIES", "DATASETS", "MODES", "category", "is_baseline", "paper",
           "paper_accuracy", "paper_name", "paper_relative_latency", "paper_vram_gb"]

PAPER_JSON = Path(__file__).with_name("paper.json")
BASELINE = "baseline"
# The study's categories, in the order its figures list them.
CATEGORIES = ("baseline", "composite", "attention-only", "standalone-attention")
MODES = ("train", "batch", "single")
DATASETS = ("k400", "ssv2", "ek100")
UNKNOWN = "other"


@lru_cache(maxsize=1)
def paper() -> dict[str, Any]:
    """The whole of ``paper.json`` (parsed once)."""
    return json.loads(PAPER_JSON.read_text(encoding="utf-8"))


def _model(name: str) -> dict[str, Any]:
    return paper()["models"]["rows"].get(name, {})


def category(name: str) -> str:
    """The study's category of a registry name; ``other`` for a model the study lacks."""
    return _model(name).get("category", UNKNOWN)


def is_baseline(name: str) -> bool:
    return category(name) == BASELINE


def paper_name(name: str) -> str:
    """The name the paper prints (``TSM-R50``), else the registry name."""
    return _model(name).get("paper_name", name)


def paper_relative_latency(mode: str) -> dict[str, float]:
    """Table 2: ``model -> relative latency`` (average over 5 desktop GPUs) in ``mode``."""
    rows = paper()["table2"]["rows"]
    return {m: v[mode]["relative_latency"] for m, v in rows.items() if mode in v}


def paper_vram_gb(mode: str) -> dict[str, float]:
    """Table 2: ``model -> VRAM in GB`` in ``mode``."""
    rows = paper()["table2"]["rows"]
    return {m: v[mode]["vram_gb"] for m, v in rows.items() if mode in v}


def paper_accuracy(dataset: str, metric: str | None = None) -> dict[str, float]:
    """Table 4: ``model -> accuracy in %`` on ``dataset``.

    Args:
        dataset: ``k400``, ``ssv2`` or ``ek100``.
        metric: ``top1``/``top5`` (K400, SSV2) or ``action``/``verb``/``noun`` (EK100); by
            default the main one (top-1, or action top-1 for EK100), as the paper sorts by it.
    """
    if dataset not in DATASETS:
        raise ValueError(f"the paper has no accuracy on {dataset!r} ({', '.join(DATASETS)})")
    metric = metric or ("action" if dataset == "ek100" else "top1")
    rows = paper()["table4"]["rows"]
    return {m: v[dataset][metric] for m, v in rows.items() if metric in v.get(dataset, {})}
