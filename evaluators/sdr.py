"""The SDR family: framewise BSSEval v4, SiSEC aggregation, global (MDX) SDR, SI-SDR, improvement.

* :func:`bsseval_v4`: SDR, ISR, SIR, SAR per source and frame (BSSEval v4 images, museval's
  ``bss_eval`` with ``compute_permutation=False``). Backends: ``"fast"`` (numpy,
  :mod:`evaluators.bsseval`), ``"torch"`` (:mod:`evaluators.bsseval_torch`, float64, a GPU when
  present) and ``"museval"`` (museval itself, the reference).
* :func:`aggregate_frames`: per source the median (SiSEC 2018) or mean over frames, and
  :func:`aggregate_tracks` the same over tracks, as museval's ``TrackStore``/``EvalStore``.
* :func:`museval_sdr`: per stem the SiSEC median-over-frames SDR with 1 s windows and hops,
  as SiSEC/MDX report it; :func:`median_sdr` the median over stems.
* :func:`global_sdr`: the MDX 2021 "SDR": ``10 log10`` of the energy ratio over the whole track
  (Mitsufuji et al., "Music Demixing Challenge 2021", Front. Signal Process. 2022).
* :func:`si_sdr`: scale-invariant SDR (Le Roux et al., "SDR - half-baked or well done?",
  ICASSP 2019).
* :func:`improvement`: any of these per stem for the estimates minus the same for the mixture
  used as every stem's estimate (SDRi, SI-SDRi).
* :func:`sdr_settings`: a recipe's ``evaluate.sdr`` entry (``true``/``false`` or
  ``{enabled, backend}``), checked.

Arguments are estimate first, then reference; signals are ``(samples,)`` or
``(samples, channels)``, groups of sources ``(sources, samples, channels)``; results in dB.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from evaluators import bsseval

BACKENDS = ("fast", "torch", "museval")
AGGREGATIONS = ("median", "mean")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown SDR backend {backend!r}; expected one of {BACKENDS}")


def _framewise(references: np.ndarray, estimates: np.ndarray, window, hop, backend: str) -> tuple:
    """``(sdr, isr, sir, sar)`` per source and frame from the chosen backend; window/hop in samples."""
    _check_backend(backend)
    if backend == "fast":
        return bsseval.bss_eval(references, estimates, window, hop)
    if backend == "torch":
        from evaluators import bsseval_torch

        return bsseval_torch.bss_eval(references, estimates, window, hop)
    from museval import metrics  # museval imports musdb/stempeg, which need ffmpeg at import time

    return tuple(metrics.bss_eval(np.asarray(references, dtype=float), np.asarray(estimates, dtype=float),
                                  window=window, hop=hop, compute_permutation=False)[:4])


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
    return dict(zip(("sdr", "isr", "sir", "sar"), _framewise(references, estimates, win, step, backend)))


def _finite_aggregate(rows: np.ndarray, how: str) -> np.ndarray:
    """Per row of a 2-D array, the median or mean of its finite values (NaN if none)."""
    if how not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {how!r}; expected one of {AGGREGATIONS}")
    fn = np.median if how == "median" else np.mean
    out = np.full(rows.shape[0], np.nan)
    for i, row in enumerate(rows):
        finite = row[np.isfinite(row)]
        if finite.size:
            out[i] = fn(finite)
    return out


def aggregate_frames(framewise: np.ndarray, how: str = "median") -> np.ndarray:
    """Per-source figure of ``(sources, frames)``: median (SiSEC 2018) or mean over frames.

    As museval's ``TrackStore``: infinite frames are dropped with the NaN ones (its JSON maps
    ``inf`` to NaN) and a source with no finite frame is NaN; museval also rounds each frame to
    1e-5 dB, which we do not.
    """
    return _finite_aggregate(np.atleast_2d(np.asarray(framewise, dtype=float)), how)


def aggregate_tracks(per_track, how: str = "median") -> float:
    """Figure of a method over tracks (per-track figures; NaN and inf ignored): median (SiSEC) or mean."""
    return float(_finite_aggregate(np.asarray(per_track, dtype=float).reshape(1, -1), how)[0])


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
                backend: str = "fast", how: str = "median") -> dict[str, float]:
    """SiSEC SDR per stem: BSSEval v4 with 1 s windows and hops, median (or mean) over frames.

    Arrays are ``(samples, channels)``. Estimates must cover every reference; both are cut to
    the shortest stem. ``backend``: one of :data:`BACKENDS` (``"museval"`` is the reference).
    museval needs at least two sources and raises on an all-silent stem; both cases return NaN
    for every stem instead, so one odd song never stops a run. Perfect estimates (every stem
    equal to its reference) give ``inf``; infinite frames are otherwise ignored.
    """
    _check_backend(backend)
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
    sdr = _framewise(refs, ests, sample_rate, sample_rate, backend)[0]
    return dict(zip(names, (float(v) for v in aggregate_frames(sdr, how))))


def median_sdr(per_stem: dict[str, float]) -> float:
    """The median over stems of per-stem figures, non-finite ones ignored (NaN if none)."""
    return aggregate_tracks(list(per_stem.values()), "median")


METRICS = ("museval", "global", "si_sdr")


def improvement(estimates: dict[str, np.ndarray], references: dict[str, np.ndarray], mixture: np.ndarray,
                sample_rate: int, metric: str = "museval", backend: str = "fast") -> dict[str, float]:
    """Per stem, ``metric`` of the estimates minus ``metric`` of the mixture as every stem's estimate (dB).

    ``metric``: ``"museval"`` (:func:`museval_sdr`, SDRi), ``"global"`` (:func:`global_sdr`)
    or ``"si_sdr"`` (:func:`si_sdr`, SI-SDRi). Arrays are ``(samples, channels)``; the mixture
    is cut to each reference's length for the per-stem metrics.
    """
    if metric == "museval":
        ours = museval_sdr(estimates, references, sample_rate, backend)
        base = museval_sdr({k: mixture for k in references}, references, sample_rate, backend)
    elif metric in ("global", "si_sdr"):
        fn = global_sdr if metric == "global" else si_sdr
        missing = [k for k in references if k not in estimates]
        if missing:
            raise ValueError(f"no estimate for stem(s) {missing}")
        ours = {k: fn(estimates[k], ref) for k, ref in references.items()}
        base = {k: fn(mixture[: len(ref)], ref) for k, ref in references.items()}
    else:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    return {k: ours[k] - base[k] for k in sorted(references)}


def sdr_settings(value) -> tuple[bool, str]:
    """``(enabled, backend)`` from a recipe's ``evaluate.sdr``: a bool, or a mapping with
    ``enabled`` (default true) and ``backend`` (default ``"fast"``, one of :data:`BACKENDS`)."""
    if value is None or isinstance(value, bool):
        return bool(value), "fast"
    if not isinstance(value, Mapping):
        raise ValueError(f"evaluate.sdr: expected true/false or {{enabled, backend}}, got {value!r}")
    unknown = set(value) - {"enabled", "backend"}
    if unknown:
        raise ValueError(f"evaluate.sdr: unknown key(s) {sorted(unknown)}; expected enabled, backend")
    backend = str(value.get("backend", "fast"))
    _check_backend(backend)
    return bool(value.get("enabled", True)), backend
