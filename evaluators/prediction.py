"""Metrics and the logistic mapping for intelligibility-prediction tasks (CLIP1, CPC).

Metrics follow the official CLIP1 ``evaluate.py::compute_scores`` (pyclarity 0.9.0):

* ``rmse``   sqrt(mean((p - y)^2)) -- the ranking metric of CLIP1 and CLIP2;
* ``mae``    mean(|p - y|) (CLIP2, pyclarity ``recipes/clip2/baseline/test.py::compute_metrics``);
* ``std_err`` std(p - y) / sqrt(n), numpy's population std (ddof=0), as official;
* ``ncc``    Pearson correlation; ``kendall_tau`` Kendall's tau-b; ``spearman`` (CLIP2 adds it).

:func:`bootstrap_ci` gives percentile 95 % intervals by resampling items with a seeded
``numpy.random.Generator`` (same seed, same intervals). :class:`LogisticMap` is the CLIP
baseline mapping ``100 / (1 + exp(-k (x - x0)))`` fitted with ``scipy.optimize.curve_fit``
from the official initial guess ``x0 = 0.5, k = 1.0``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

METRICS = ("RMSE", "Std", "NCC", "KT", "SCC")
MIN_POINTS = 3


def _pair(predictions, labels, min_points: int = 2) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predictions, dtype=float).ravel()
    y = np.asarray(labels, dtype=float).ravel()
    if p.shape != y.shape:
        raise ValueError(f"predictions and labels differ in length: {p.size} vs {y.size}")
    if p.size < min_points:
        raise ValueError(f"need at least {min_points} points, got {p.size}")
    for name, v in (("predictions", p), ("labels", y)):
        bad = ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"{name} contain {bad.sum()} NaN/inf value(s), first at index {np.argmax(bad)}")
    return p, y


def rmse(predictions, labels) -> float:
    p, y = _pair(predictions, labels, 1)
    return float(np.sqrt(np.mean((p - y) ** 2)))


def mae(predictions, labels) -> float:
    p, y = _pair(predictions, labels, 1)
    return float(np.mean(np.abs(p - y)))


def std_err(predictions, labels) -> float:
    p, y = _pair(predictions, labels, 1)
    return float(np.std(p - y) / np.sqrt(p.size))


def ncc(predictions, labels) -> float:
    from scipy.stats import pearsonr

    p, y = _pair(predictions, labels)
    return float(pearsonr(p, y)[0])


def kendall_tau(predictions, labels) -> float:
    from scipy.stats import kendalltau

    p, y = _pair(predictions, labels)
    return float(kendalltau(p, y)[0])


def spearman(predictions, labels) -> float:
    from scipy.stats import spearmanr

    p, y = _pair(predictions, labels)
    return float(spearmanr(p, y)[0])


METRIC_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "RMSE": rmse,
    "MAE": mae,
    "Std": std_err,
    "NCC": ncc,
    "KT": kendall_tau,
    "SCC": spearman,
}


def compute_scores(predictions, labels, metrics: Sequence[str] = METRICS) -> dict[str, float]:
    """The named metrics (keys as in the official CLIP1 JSONL: RMSE, Std, NCC, KT; + SCC)."""
    p, y = _pair(predictions, labels, MIN_POINTS)
    unknown = set(metrics) - set(METRIC_FUNCTIONS)
    if unknown:
        raise ValueError(f"unknown metric(s) {sorted(unknown)}; known: {list(METRIC_FUNCTIONS)}")
    return {m: METRIC_FUNCTIONS[m](p, y) for m in metrics}


def bootstrap_ci(
    predictions,
    labels,
    metrics: Sequence[str] = ("RMSE", "NCC", "KT", "SCC"),
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap interval of each metric over items resampled with replacement.

    Deterministic for a given ``seed``. Resamples where a correlation is undefined (a
    constant vector) are skipped for that metric.
    """
    p, y = _pair(predictions, labels, MIN_POINTS)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, p.size, size=(n_boot, p.size))
    out = {}
    alpha = (1 - level) / 2
    for m in metrics:
        fn = METRIC_FUNCTIONS[m]
        values = []
        for row in idx:
            ps, ys = p[row], y[row]
            if m in ("NCC", "KT", "SCC") and (np.ptp(ps) == 0 or np.ptp(ys) == 0):
                continue
            values.append(fn(ps, ys))
        if not values:
            out[m] = (float("nan"), float("nan"))
        else:
            lo, hi = np.quantile(values, [alpha, 1 - alpha])
            out[m] = (float(lo), float(hi))
    return out


def logistic(x, x0: float, k: float):
    """100 / (1 + exp(-k (x - x0))), the CLIP baseline mapping to percent."""
    return 100.0 / (1.0 + np.exp(-k * (np.asarray(x, dtype=float) - x0)))


@dataclass
class LogisticMap:
    """Maps a raw score (Whisper correctness in 0..1, STOI, ...) to a 0..100 prediction."""

    x0: float | None = None
    k: float | None = None
    initial_guess: tuple[float, float] = (0.5, 1.0)  # as the official LogisticModel

    @property
    def fitted(self) -> bool:
        return self.x0 is not None and self.k is not None

    def fit(self, x, y, maxfev: int = 10000) -> LogisticMap:
        from scipy.optimize import curve_fit

        xa, ya = _pair(x, y, MIN_POINTS)
        try:
            params, _ = curve_fit(logistic, xa, ya, p0=list(self.initial_guess), maxfev=maxfev)
        except RuntimeError as exc:  # scipy: "Optimal parameters not found"
            raise RuntimeError(f"logistic fit did not converge on {xa.size} points: {exc}") from exc
        self.x0, self.k = float(params[0]), float(params[1])
        return self

    def predict(self, x) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError("LogisticMap.predict called before fit() (or from_dict())")
        xa = np.asarray(x, dtype=float)
        if not np.all(np.isfinite(xa)):
            raise ValueError("LogisticMap.predict: input contains NaN/inf")
        return logistic(xa, self.x0, self.k)

    def to_dict(self) -> dict:
        if not self.fitted:
            raise RuntimeError("LogisticMap.to_dict called before fit()")
        return {"type": "logistic", "x0": self.x0, "k": self.k}

    @classmethod
    def from_dict(cls, data: dict) -> LogisticMap:
        if data.get("type", "logistic") != "logistic" or "x0" not in data or "k" not in data:
            raise ValueError(f"not a logistic map: {data!r}")
        return cls(x0=float(data["x0"]), k=float(data["k"]))
