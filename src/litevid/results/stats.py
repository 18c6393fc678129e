"""Summary statistics of raw latency samples.

The mean alone hides warm-up stragglers, thermal throttling and scheduler noise; we keep every
sample and report robust statistics beside it (median, p90, p99, IQR) plus the coefficient of
variation, so a noisy measurement is visible instead of silently averaged away. Pure Python: the
results store and reports reuse it without importing torch or numpy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

__all__ = ["CV_WARN_THRESHOLD", "LatencyStats", "percentile", "summarize"]

# A coefficient of variation above this marks a measurement as noisy (see ``LatencyStats.noisy``).
CV_WARN_THRESHOLD = 0.10


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Percentile ``q`` in [0, 100] with linear interpolation between closest ranks.

    Same definition as ``numpy.percentile(..., method="linear")``, so numbers agree with what a
    reader recomputes from the stored raw samples.
    """
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be in [0, 100], got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of one measurement, in the unit of the samples (milliseconds in litevid).

    ``std`` is the sample standard deviation (n - 1 in the denominator; 0 for one sample) and
    ``cv = std / mean``.
    """

    n: int
    mean: float
    median: float
    p90: float
    p99: float
    std: float
    iqr: float
    cv: float
    min: float
    max: float

    @property
    def noisy(self) -> bool:
        """True when the coefficient of variation exceeds ``CV_WARN_THRESHOLD`` (10%)."""
        return self.cv > CV_WARN_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(samples: Sequence[float]) -> LatencyStats:
    """Summarise raw per-iteration samples (any unit; litevid stores milliseconds)."""
    if len(samples) == 0:
        raise ValueError("cannot summarise zero samples")
    xs = sorted(float(s) for s in samples)
    n = len(xs)
    mean = math.fsum(xs) / n
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    std = math.sqrt(var)
    return LatencyStats(
        n=n,
        mean=mean,
        median=percentile(xs, 50.0),
        p90=percentile(xs, 90.0),
        p99=percentile(xs, 99.0),
        std=std,
        iqr=percentile(xs, 75.0) - percentile(xs, 25.0),
        cv=std / mean if mean > 0 else 0.0,
        min=xs[0],
        max=xs[-1],
    )
