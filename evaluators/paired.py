"""Paired comparison of two systems scored on the same items.

For per-item scores ``a`` (a system) and ``b`` (the baseline) of the same items, in the same
order, the differences ``d = a - b`` give:

* ``mean``: the mean paired difference, in the metric's unit;
* ``lo``, ``hi``: its paired-bootstrap percentile interval (items resampled with replacement,
  the same resampled items for both systems, so the pairing is kept; Efron and Tibshirani,
  *An Introduction to the Bootstrap*, 1993, ch. 13), from a seeded ``numpy.random.Generator``:
  the same inputs and seed always give the same interval;
* ``p``: the two-sided Wilcoxon signed-rank p-value (``scipy.stats.wilcoxon`` with its
  defaults: zero differences dropped, exact distribution for small samples without ties,
  the normal approximation otherwise). All-zero differences (identical systems) give
  ``p = 1.0``: there is no evidence of a difference. No items give NaN everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BOOT = 2000
SEED = 0
LEVEL = 0.95


@dataclass(frozen=True)
class Paired:
    """One paired comparison: mean difference (system - baseline), its interval, the
    Wilcoxon p-value and the number of paired items."""

    mean: float
    lo: float
    hi: float
    p: float
    n: int


def _differences(system, baseline) -> np.ndarray:
    a = np.asarray(system, dtype=float).ravel()
    b = np.asarray(baseline, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired scores differ in length: {a.size} vs {b.size}")
    d = a - b
    bad = ~np.isfinite(d)
    if bad.any():
        raise ValueError(f"paired scores contain {bad.sum()} NaN/inf value(s), first at index {np.argmax(bad)}")
    return d


def bootstrap_mean_ci(d: np.ndarray, n_boot: int = N_BOOT, seed: int = SEED, level: float = LEVEL) -> tuple[float, float]:
    """Percentile interval of the mean of `d` over `n_boot` resamples of its items (seeded)."""
    d = np.asarray(d, dtype=float).ravel()
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if d.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def wilcoxon_p(d: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of the differences `d` (scipy's defaults);
    1.0 when every difference is zero, NaN when there is none."""
    from scipy.stats import wilcoxon

    d = np.asarray(d, dtype=float).ravel()
    if d.size == 0:
        return float("nan")
    if not np.any(d != 0):
        return 1.0
    return float(wilcoxon(d).pvalue)


def paired(system, baseline, n_boot: int = N_BOOT, seed: int = SEED, level: float = LEVEL) -> Paired:
    """Compare per-item scores `system` and `baseline` (same items, same order; finite)."""
    d = _differences(system, baseline)
    if d.size == 0:
        nan = float("nan")
        return Paired(nan, nan, nan, nan, 0)
    lo, hi = bootstrap_mean_ci(d, n_boot, seed, level)
    return Paired(float(d.mean()), lo, hi, wilcoxon_p(d), int(d.size))
