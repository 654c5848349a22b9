"""The SDR family: framewise BSSEval v4, SiSEC aggregation, global (MDX) SDR, SI-SDR.

* :func:`bsseval_v4`: SDR, ISR, SIR, SAR per source and frame (BSSEval v4 images, museval's
  ``bss_eval`` with ``compute_permutation=False``; ``evaluators.bsseval`` by default, museval
  itself with ``backend="museval"``).
* :func:`sisec_median`: SiSEC 2018 aggregation: per source the median over frames (NaN frames
  ignored), and :func:`median_over_tracks` for the median of those over tracks.
* :func:`museval_sdr`: per stem the SiSEC median-over-frames SDR with 1 s windows and hops,
  as SiSEC/MDX report it; :func:`median_sdr` the median over stems.
* :func:`global_sdr`: the MDX 2021 "SDR": ``10 log10`` of the energy ratio over the whole track
  (Mitsufuji et al., "Music Demixing Challenge 2021", Front. Signal Process. 2022).
* :func:`si_sdr`: scale-invariant SDR (Le Roux et al., "SDR - half-baked or well done?",
  ICASSP 2019).

Arguments are estimate first, then reference; signals are ``(samples,)`` or
``(samples, channels)``, groups of sources ``(sources, samples, channels)``; results in dB.
"""

from __future__ import annotations

import numpy as np

from evaluators import bsseval

BACKENDS = ("fast", "museval")


def bsseval_v4(estimates: np.ndarray, references: np.ndarray, sample_rate: int, window: float = 1.0,
               hop: float = 1.0, backend: str = "fast") -> dict[str, np.ndarray]:
    """Framewise BSSEval v4: ``{"sdr", "isr", "sir", "sar"}``, each ``(sources, frames)`` in dB.

    ``estimates`` and ``references`` are ``(sources, samples, channels)``; ``window`` and
    ``hop`` in seconds (``numpy.inf``: one frame). Edge rules (silent frames NaN, a silent
    source ``ValueError``, the partial last frame dropped) as ``museval.metrics.bss_eval``;
    see :mod:`evaluators.bsseval`.
    """
    win, step = window * sample_rate, hop * sample_rate
    win = win if np.isinf(win) else int(round(win))
    step = step if np.isinf(step) else int(round(step))
    if backend == "fast":
        out = bsseval.bss_eval(references, estimates, win, step)
    elif backend == "museval":
        from museval import metrics  # museval imports musdb/stempeg, which need ffmpeg at import time

        out = metrics.bss_eval(np.asarray(references, dtype=float), np.asarray(estimates, dtype=float),
                               window=win, hop=step, compute_permutation=False)[:4]
    else:
        raise ValueError(f"unknown BSSEval backend {backend!r}; expected one of {BACKENDS}")
    return dict(zip(("sdr", "isr", "sir", "sar"), out))


def sisec_median(framewise: np.ndarray) -> np.ndarray:
    """SiSEC 2018 per-source figure: the median over frames of ``(sources, frames)``, NaN ignored.

    A source with no finite frame is NaN. Infinite frames count as values (museval's
    ``TrackStore`` takes ``nanmedian`` too).
    """
    framewise = np.atleast_2d(np.asarray(framewise, dtype=float))
    out = np.full(framewise.shape[0], np.nan)
    for i, row in enumerate(framewise):
        if np.any(~np.isnan(row)):
            out[i] = np.nanmedian(row)
    return out


def median_over_tracks(per_track: np.ndarray) -> float:
    """SiSEC 2018 figure of a method: the median over tracks of the per-track medians (NaN ignored)."""
    values = np.asarray(per_track, dtype=float)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else float("nan")


def global_sdr(estimate: np.ndarray, reference: np.ndarray, delta: float = 1e-7) -> float:
    """MDX 2021 SDR of one source over the whole track, in dB.

    ``10 log10((sum(ref^2) + delta) / (sum((ref - est)^2) + delta))`` over all samples and
    channels, with the challenge's ``delta = 1e-7`` (its ``evaluate.py``, function ``sdr``).
    """
    estimate, reference = np.asarray(estimate, dtype=float), np.asarray(reference, dtype=float)
    if estimate.shape != reference.shape:
        raise ValueError(f"shapes differ: estimate {estimate.shape}, reference {reference.shape}")
    num = np.sum(reference ** 2) + delta
    den = np.sum((reference - estimate) ** 2) + delta
    return float(10 * np.log10(num / den))


def si_sdr(estimate: np.ndarray, reference: np.ndarray, zero_mean: bool = False) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019), one scale over all samples and channels.

    ``alpha = <est, ref> / |ref|^2``; ``10 log10(|alpha ref|^2 / |alpha ref - est|^2)``.
    ``zero_mean`` removes each channel's mean first. ``+inf`` for an estimate that is an exact
    multiple of the reference; NaN for a silent reference.
    """
    estimate, reference = np.asarray(estimate, dtype=float), np.asarray(reference, dtype=float)
    if estimate.shape != reference.shape:
        raise ValueError(f"shapes differ: estimate {estimate.shape}, reference {reference.shape}")
    if zero_mean:
        estimate = estimate - estimate.mean(axis=0)
        reference = reference - reference.mean(axis=0)
    ref_energy = np.sum(reference ** 2)
    if ref_energy == 0:
        return float("nan")
    target = (np.sum(estimate * reference) / ref_energy) * reference
    noise = np.sum((target - estimate) ** 2)
    if noise == 0:
        return float("inf")
    with np.errstate(divide="ignore"):
        return float(10 * np.log10(np.sum(target ** 2) / noise))


def museval_sdr(estimates: dict[str, np.ndarray], references: dict[str, np.ndarray], sample_rate: int,
                backend: str = "fast") -> dict[str, float]:
    """Median-over-frames SDR per stem (1 s windows and hops). Arrays are (n, ch).

    Estimates must cover every reference; both are cut to the shortest stem. ``backend``:
    ``"fast"`` (``evaluators.bsseval``) or ``"museval"`` (``museval.evaluate``, the reference).
    museval needs at least two sources and raises on an all-silent stem; both cases return NaN
    for every stem instead, so one odd song never stops a run. Perfect estimates (every stem
    equal to its reference) give ``inf``; infinite frames are otherwise ignored.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown SDR backend {backend!r}; expected one of {BACKENDS}")
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
    if backend == "museval":
        import museval  # imports musdb/stempeg, which need the ffmpeg program at import time

        sdr, _, _, _ = museval.evaluate(refs, ests, win=sample_rate, hop=sample_rate)
    else:
        sdr = bsseval.bss_eval(refs, ests, sample_rate, sample_rate)[0]
    with np.errstate(invalid="ignore"):
        return {k: float(np.nanmedian(np.where(np.isinf(v), np.nan, v))) if np.isfinite(v).any() else float("nan")
                for k, v in zip(names, sdr)}


def median_sdr(per_stem: dict[str, float]) -> float:
    values = [v for v in per_stem.values() if np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")
