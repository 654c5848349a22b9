"""SDR of separated stems with museval (BSSEval v4), as SiSEC/MDX report it.

1 s windows and hops; per stem the median over frames (silent frames are NaN and ignored),
then the median over stems.
"""

from __future__ import annotations

import numpy as np


def museval_sdr(estimates: dict[str, np.ndarray], references: dict[str, np.ndarray], sample_rate: int) -> dict[str, float]:
    """Median-over-frames SDR per stem. Arrays are (n, ch); estimates must cover every reference.

    museval needs at least two sources and raises on an all-silent stem; both cases return NaN
    for every stem instead, so one odd song never stops a run.
    """
    import museval  # imports musdb/stempeg, which need the ffmpeg program at import time

    names = sorted(references)
    missing = [n for n in names if n not in estimates]
    if missing:
        raise ValueError(f"no estimate for stem(s) {missing}")
    if len(names) < 2 or any(not np.any(references[n]) or not np.any(estimates[n]) for n in names):
        return {n: float("nan") for n in names}
    if all(np.array_equal(references[k], estimates[k]) for k in names):
        return {k: float("inf") for k in names}  # perfect estimates: museval would divide by zero
    n = min(min(references[k].shape[0], estimates[k].shape[0]) for k in names)
    refs = np.stack([references[k][:n] for k in names])
    ests = np.stack([estimates[k][:n] for k in names])
    sdr, _, _, _ = museval.evaluate(refs, ests, win=sample_rate, hop=sample_rate)
    with np.errstate(invalid="ignore"):
        return {k: float(np.nanmedian(np.where(np.isinf(v), np.nan, v))) if np.isfinite(v).any() else float("nan")
                for k, v in zip(names, sdr)}


def median_sdr(per_stem: dict[str, float]) -> float:
    values = [v for v in per_stem.values() if np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")
