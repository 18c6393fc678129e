"""What an annotation file holds: clips, classes per head, clips per class, durations.

``annotation_stats`` reads nothing itself; it summarises the ``Annotations`` a reader returned
(``litevid data check`` prints it, with the paper's Table 3 counts to compare against).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

from .annotations import Annotations
from .specs import dataset_spec

__all__ = ["annotation_stats"]


def _summary(values: Sequence[float]) -> dict[str, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / n)
    ordered = sorted(values)
    median = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    return {"n": n, "mean": mean, "std": std, "min": ordered[0], "median": median,
            "max": ordered[-1]}


def annotation_stats(ann: Annotations) -> dict[str, Any]:
    """Clips, classes per head (defined and present), clips per class, duration mean and std.

    When the file names several heads (``list`` with label columns; the dataset declares none)
    their distinct combinations are counted as a head named ``a+b`` (EK100 declares its joint
    ``action`` head already).
    """
    out: dict[str, Any] = {"format": ann.format, "annotations": str(ann.source),
                           "clips": len(ann.records), "heads": {}}
    for head, names in ann.classes.items():
        counts = Counter(r.labels[head] for r in ann.records if r.labels[head] >= 0)
        unseen = sum(1 for r in ann.records if r.labels[head] < 0)
        per_class = list(counts.values())
        out["heads"][head] = {
            "classes_defined": len(names),
            "classes_present": len(counts),
            "clips_per_class": _summary(per_class),
            "counts": {(names[i] if 0 <= i < len(names) else str(i)): c
                       for i, c in sorted(counts.items())},
        }
        if unseen:
            out["heads"][head]["unmapped_clips"] = unseen
    heads = list(ann.classes)
    if len(heads) > 1 and dataset_spec(ann.format).heads is None:
        combo = Counter(tuple(r.labels[h] for h in heads) for r in ann.records)
        out["heads"]["+".join(heads)] = {
            "classes_defined": len(combo), "classes_present": len(combo),
            "clips_per_class": _summary(list(combo.values())), "counts": {}}
    durations = [r.duration for r in ann.records if r.duration is not None]
    out["duration_s"] = _summary(durations) if durations else None
    return out


