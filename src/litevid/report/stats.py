"""Statistics the report needs beyond ``results.stats``: rank correlations, bootstrap intervals,
a least-squares line and min-max normalisation.

Rank correlations say how well a device reproduces the study's (or another device's) ranking of
models, which is what a reader choosing a model cares about; absolute latencies differ by device.
Written here rather than imported from scipy so the report needs nothing beyond numpy (a core
dependency) and the definitions are visible: ties get average ranks; Spearman's rho is Pearson's
r of those ranks; Kendall's tau is tau-b (tie-corrected), as ``scipy.stats.kendalltau`` computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["average_ranks", "bootstrap_median_ci", "kendall_tau", "linear_fit", "minmax",
           "pearson", "spearman_rho"]


def average_ranks(values: Sequence[float]) -> list[float]:
    """Ranks 1..n of ``values`` (smallest first); tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1  # mean of ranks i+1 .. j+1
        i = j + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Pearson's r; ``None`` when fewer than two points or either side is constant."""
    _check_pairs(x, y)
    n = len(x)
    if n < 2:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); ``None`` when undefined."""
    _check_pairs(x, y)
    return pearson(average_ranks(x), average_ranks(y))


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_x) (n0 - ties_y)).

    O(n^2), plenty for 13 models. ``None`` when fewer than two points or a side is constant.
    """
    _check_pairs(x, y)
    conc = disc = ties_x = ties_y = 0
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0 and dy == 0:
                ties_x += 1
                ties_y += 1
            elif dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                conc += 1
            else:
                disc += 1
    n0 = n * (n - 1) // 2
    denom = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    return (conc - disc) / denom if denom > 0 else None


def _check_pairs(x: Sequence[float], y: Sequence[float]) -> None:
    if len(x) != len(y):
        raise ValueError(f"paired values of different lengths ({len(x)} and {len(y)})")


def bootstrap_median_ci(samples: Sequence[float], *, level: float = 0.95, n_boot: int = 2000,
                        seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the median of ``samples``.

    Resamples with replacement ``n_boot`` times from a generator seeded with ``seed``, so a
    report is reproducible. ``None`` for fewer than two samples (no spread to resample).
    """
    import numpy as np

    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    xs = np.asarray(samples, dtype=float)
    if xs.size < 2:
        return None
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(xs, size=(n_boot, xs.size), replace=True), axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(medians, [alpha, 1 - alpha])
    return float(lo), float(hi)


def linear_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float, float] | None:
    """Least-squares line ``y = slope * x + intercept`` and its R^2 (``r ** 2``).

    ``None`` with fewer than three points (two always fit exactly) or a constant ``x``.
    """
    _check_pairs(x, y)
    n = len(x)
    if n < 3:
        return None
    mx, my = math.fsum(x) / n, math.fsum(y) / n
    sxx = math.fsum((a - mx) ** 2 for a in x)
    if sxx == 0:
        return None
    slope = math.fsum((a - mx) * (b - my) for a, b in zip(x, y)) / sxx
    intercept = my - slope * mx
    r = pearson(x, y)
    return slope, intercept, (r * r if r is not None else 0.0)


def minmax(values: dict[str, float]) -> dict[str, float]:
    """Scale to [0, 1] (min -> 0, max -> 1), as the study normalises accuracy for Fig. 6.

    All-equal values map to 0.5 (nothing to tell apart).
    """
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi == lo:
        return {k: 0.5 for k in values}
    return {k: (v - lo) / (hi - lo) for k, v in values.items()}


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a proportion ``p`` measured on ``n``
    trials, e.g. a top-1 accuracy on ``n`` clips: how far sampling alone moves it."""
    if n < 1 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need n >= 1 and 0 <= p <= 1, got n={n}, p={p}")
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half

