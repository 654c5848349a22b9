"""STOI at 10 kHz as the CLIP1 (ICASSP 2026) STOI baseline computes it.

Official steps (pyclarity 0.9.0 ``recipes/cad_icassp_2026/baseline/compute_stoi.py`` and
``shared_predict_utils.input_align``), reproduced here:

1. divide reference (the estimated vocals) and processed signal by the processed signal's
   peak (the peak over both channels, :func:`stoi_ears`);
2. resample each channel to 10 kHz;
3. :func:`input_align`: delay from the full cross-covariance (mean removed), backed off by
   2 ms, processed shifted (zero filled), then both cut to the span where the reference
   exceeds 0.001 of its peak;
4. ``pystoi.stoi(reference, processed, 10000)``; better ear = max over channels.

Resampling is soxr "HQ", as upstream (evaluators/resample.py). The metrics take the
processed signal first, then the reference, as every metric of this package; ``input_align``
keeps upstream's (reference, processed) order.
"""

from __future__ import annotations

import numpy as np

from .resample import resample

STOI_RATE = 10000


def input_align(reference: np.ndarray, processed: np.ndarray, sample_rate: float = STOI_RATE, backoff_ms: float = 2.0):
    """Align ``processed`` to ``reference`` (see module docstring, step 3); returns both, cut."""
    from scipy.signal import correlate

    ref = np.asarray(reference, dtype=float)
    proc = np.asarray(processed, dtype=float)
    if ref.ndim != 1 or proc.ndim != 1:
        raise ValueError("input_align takes two 1-D signals")
    n = min(ref.size, proc.size)
    if n == 0:
        raise ValueError("input_align: empty signal")
    ref_abs = np.abs(ref)
    if not np.any(ref_abs > 0):
        raise ValueError("input_align: the reference is silent")
    r = ref[:n] - ref[:n].mean()
    p = proc[:n] - proc[:n].mean()
    xcorr = correlate(r, p, mode="full")
    delay = n - int(np.argmax(np.abs(xcorr))) - 1
    delay = int(np.rint(delay - backoff_ms * sample_rate / 1000.0))
    if delay > 0:  # processed lags the reference
        proc = np.concatenate((proc[delay:], np.zeros(delay)))
    else:
        proc = np.concatenate((np.zeros(-delay), proc[: proc.size + delay]))
    above = np.flatnonzero(ref_abs > 0.001 * ref_abs.max())
    start, end = above[0], min(above[-1], proc.size)
    return ref[start : end + 1], proc[start : end + 1]


def stoi(processed: np.ndarray, reference: np.ndarray, sample_rate: int, stoi_rate: int = STOI_RATE, extended: bool = False) -> float:
    """STOI of one channel: resample both to ``stoi_rate``, align, score (no peak scaling)."""
    from pystoi import stoi as pystoi_stoi

    ref = resample(reference, sample_rate, stoi_rate)
    proc = resample(processed, sample_rate, stoi_rate)
    ref, proc = input_align(ref, proc, stoi_rate)
    return float(pystoi_stoi(ref, proc, stoi_rate, extended=extended))


def stoi_ears(processed: np.ndarray, reference: np.ndarray, sample_rate: int, stoi_rate: int = STOI_RATE) -> list[float]:
    """Per-channel STOI of (n, n_channels) signals after dividing both by the processed peak."""
    ref = np.asarray(reference, dtype=float)
    proc = np.asarray(processed, dtype=float)
    if ref.ndim == 1:
        ref = ref[:, None]
    if proc.ndim == 1:
        proc = proc[:, None]
    if ref.shape[1] != proc.shape[1]:
        raise ValueError(f"reference has {ref.shape[1]} channel(s), processed {proc.shape[1]}")
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(proc))):
        raise ValueError("signals contain NaN/inf")
    peak = np.max(np.abs(proc))
    if peak == 0:
        raise ValueError("the processed signal is silent")
    ref, proc = ref / peak, proc / peak
    return [stoi(proc[:, c], ref[:, c], sample_rate, stoi_rate) for c in range(ref.shape[1])]


def better_ear_stoi(processed: np.ndarray, reference: np.ndarray, sample_rate: int, stoi_rate: int = STOI_RATE) -> float:
    """max over channels of :func:`stoi_ears` (the CLIP1 STOI baseline's raw score)."""
    return max(stoi_ears(processed, reference, sample_rate, stoi_rate))
