"""HAAQI (Kates and Arehart's Hearing-Aid Audio Quality Index, version 1).

Backends, selected with ``backend=`` (what the harness option ``evaluate.haaqi.backend``
maps onto):

* ``fast`` (default): vectorised numpy/numba port of pyclarity's ear model and HAAQI
  (``evaluators.ear_model``); same steps and constants, scores equal to pyclarity's to
  rounding (<= 1e-6) given the same noise draws.
* ``torch``: the fast ear model with envelope alignment, env_smooth and bm_covary in
  torch, on CUDA when available, else on the CPU, in float64 (``evaluators.haaqi_torch``
  supplies the stages to the one ``haaqi_v1``).
* ``pyclarity``: the official implementation, the reference for parity.

``seed`` controls the ear model's added noise without touching numpy's global state:

* an int: a ``numpy.random.RandomState(seed)``, i.e. what pyclarity draws after
  ``np.random.seed(seed)``;
* a ``numpy.random.RandomState``: its stream is consumed, so scoring the left and then
  the right ear with one RandomState draws exactly what the official recipes draw after
  ``np.random.seed(...)``;
* a ``numpy.random.Generator`` (``fast``/``torch`` only): its stream is consumed;
* ``None``: ``pyclarity`` uses numpy's global state (upstream behaviour); ``fast`` and
  ``torch`` use a fresh, unseeded ``Generator`` (non-reproducible, like upstream unseeded).

Input handling (all backends), which follows upstream where upstream defines it:

* empty reference: 1.0 if the processed signal is empty too, else 0.0 (upstream);
  empty processed with a non-empty reference: ``ValueError``;
* NaN or infinite samples, non-1-D signals, an all-zero reference, sample rates that do
  not round to at least 1 kHz, ``equalisation`` other than 1 or 2, non-finite audiogram
  levels: ``ValueError`` naming the problem;
* different lengths: upstream truncates both signals to the shorter one (after
  resampling to 24 kHz) and aligns them; that is kept;
* an audiogram without all of 250, 500, 1000, 2000, 4000, 6000 Hz: upstream logs a
  warning and interpolates (log-frequency, flat beyond the ends); that is kept.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence

import numpy as np
from clarity.evaluator.haspi import eb
from clarity.utils.audiogram import Audiogram

BACKENDS = ("fast", "torch", "pyclarity")
HAAQI_AUDIOGRAM_FREQUENCIES = np.array([250, 500, 1000, 2000, 4000, 6000])
logger = logging.getLogger(__name__)


@contextlib.contextmanager
def seeded_global_rng(seed):
    """Run code that draws from numpy's global RNG (pyclarity's) on `seed`'s stream instead.

    `seed` is None (the global state is used as it is), an int (a fresh
    ``RandomState(seed)``) or a ``RandomState`` whose stream is consumed: after the block it
    holds what the block left, and numpy's global state is restored as it was before."""
    if seed is None:
        yield
        return
    saved = np.random.get_state()
    state = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(int(seed))
    np.random.set_state(state.get_state())
    try:
        yield
    finally:
        state.set_state(np.random.get_state())
        np.random.set_state(saved)


def _rng(seed):
    """The noise generator for the fast/torch backends (see the module docstring)."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (np.random.RandomState, np.random.Generator)):
        return seed
    return np.random.RandomState(int(seed))


def _check_signal(name: str, signal) -> np.ndarray:
    signal = np.asarray(signal, dtype=float)
    if signal.ndim != 1:
        raise ValueError(f"{name} signal must be 1-D (one ear), got shape {signal.shape}")
    if not np.all(np.isfinite(signal)):
        raise ValueError(f"{name} signal contains NaN or infinite values")
    return signal


def _check_rate(name: str, rate: float) -> float:
    if not np.isfinite(rate) or np.round(rate / 1000) < 1:
        raise ValueError(f"{name} sample rate must round to at least 1 kHz, got {rate!r}")
    return rate


def _check_audiogram(audiogram: Audiogram) -> Audiogram:
    if not isinstance(audiogram, Audiogram):
        raise ValueError(
            f"audiogram must be a clarity.utils.audiogram.Audiogram, got {type(audiogram)}")
    if not np.all(np.isfinite(audiogram.levels)):
        raise ValueError("audiogram levels contain NaN or infinite values")
    if not audiogram.has_frequencies(HAAQI_AUDIOGRAM_FREQUENCIES):
        logger.warning("Audiogram does not have all HAAQI frequency measurements. "
                       "Measurements will be interpolated")
    return audiogram.resample(HAAQI_AUDIOGRAM_FREQUENCIES)


def haaqi_v1(
    reference: np.ndarray,
    reference_freq: float,
    processed: np.ndarray,
    processed_freq: float,
    audiogram: Audiogram,
    equalisation: int,
    level1: float = 65.0,
    silence_threshold: float = 2.5,
    add_noise: float = 0.0,
    segment_covariance: int = 16,
    seed=None,
    stages=None,
) -> tuple[float, float, float, list[float]]:
    """pyclarity's ``haaqi_v1``: (combined, nonlinear, linear, raw).

    raw = [mel_cepstral_high, basilar_membrane_sync5, d_loud, d_norm]. Arguments as
    upstream plus `seed` (module docstring) and `stages`, the band stages' backend: None
    (or ``ear_model.Stages()``) for ``fast``, ``haaqi_torch.TorchStages(device)`` for
    ``torch``. `segment_covariance` must be 16 (the only value HAAQI uses; the fast
    bm_covary is built for it). Inputs are not validated here: use ``compute_haaqi`` for
    checked inputs.
    """
    from evaluators import ear_model

    if segment_covariance != 16:
        raise ValueError("the fast HAAQI supports segment_covariance=16 only")
    rng = _rng(seed)
    audiogram = audiogram.resample(HAAQI_AUDIOGRAM_FREQUENCIES)
    smooth, covariance, mean_square, reference_sl, processed_sl = ear_model.ear_features(
        reference, reference_freq, processed, processed_freq, audiogram.levels, equalisation,
        level1, rng, stages=stages, silence_threshold=silence_threshold)
    cepstral_high = ear_model.melcor9_high(smooth[0], smooth[1], silence_threshold,
                                           add_noise, rng)
    return _combine(cepstral_high, covariance, mean_square, reference_sl, processed_sl,
                    silence_threshold)


def _combine(cepstral_high, covariance, mean_square, reference_sl, processed_sl,
             silence_threshold):
    """haaqi_v1's final stage: spectral features, IHC-sync covariance and the model."""
    dloud_stats, dnorm_stats, _ = eb.spectrum_diff(reference_sl, processed_sl)
    from evaluators import ear_model

    sync5 = ear_model.ihc_sync5(covariance, mean_square, silence_threshold)
    d_loud = max(min(1.0 - dloud_stats[1] / 2.5, 1), 0)
    d_norm = max(min(1.0 - dnorm_stats[1] / 25, 1), 0)
    nonlinear = 0.754 * (cepstral_high**3) + 0.246 * sync5
    linear = 0.329 * d_loud + 0.671 * d_norm
    combined = 0.336 * nonlinear + 0.001 * linear + 0.501 * (nonlinear**2) + 0.161 * (linear**2)
    return combined, nonlinear, linear, [cepstral_high, sync5, d_loud, d_norm]


def compute_haaqi(
    processed: np.ndarray,
    reference: np.ndarray,
    processed_sample_rate: float,
    reference_sample_rate: float,
    audiogram: Audiogram,
    equalisation: int = 1,
    level1: float = 65.0,
    seed=None,
    backend: str = "fast",
) -> float:
    """HAAQI of one ear (combined score). See the module docstring for `seed`, `backend`
    and the handling of bad input."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown HAAQI backend {backend!r}; choose one of {BACKENDS}")
    processed = _check_signal("processed", processed)
    reference = _check_signal("reference", reference)
    if len(reference) == 0:
        if len(processed) == 0:
            return 1.0
        logger.error("If `Reference` is empty, `Processed` must be empty as well")
        return 0.0
    if len(processed) == 0:
        raise ValueError("processed signal is empty but the reference is not")
    if not np.any(reference):
        raise ValueError("reference signal is silent (all zeros)")
    _check_rate("processed", processed_sample_rate)
    _check_rate("reference", reference_sample_rate)
    if equalisation not in (1, 2):
        raise ValueError(f"equalisation must be 1 (add NAL-R) or 2 (already applied), "
                         f"got {equalisation!r}")
    audiogram = _check_audiogram(audiogram)

    if backend == "pyclarity":
        if isinstance(seed, np.random.Generator):
            raise ValueError("the pyclarity backend needs an int or RandomState seed")
        from clarity.evaluator.haaqi import compute_haaqi as reference_haaqi

        with seeded_global_rng(seed):
            return float(reference_haaqi(
                processed_signal=processed, reference_signal=reference,
                processed_sample_rate=processed_sample_rate,
                reference_sample_rate=reference_sample_rate, audiogram=audiogram,
                equalisation=equalisation, level1=level1))
    stages = None
    if backend == "torch":
        from evaluators.haaqi_torch import TorchStages

        stages = TorchStages()
    return float(haaqi_v1(reference, reference_sample_rate, processed, processed_sample_rate,
                          audiogram, equalisation, level1, seed=seed, stages=stages)[0])


def compute_haaqi_stereo(
    processed: np.ndarray,
    reference: np.ndarray,
    processed_sample_rate: float,
    reference_sample_rate: float,
    audiogram_left: Audiogram,
    audiogram_right: Audiogram,
    equalisation: int = 1,
    level1: float | tuple[float, float] = 65.0,
    seed=None,
    backend: str = "fast",
) -> tuple[float, float]:
    """HAAQI of both ears of (n_samples, 2) signals: (left, right).

    The noise generator is shared and consumed left ear first, then right, as the
    official recipes do after one ``np.random.seed``. `level1` may be one value or a
    (left, right) pair.
    """
    processed = np.asarray(processed, dtype=float)
    reference = np.asarray(reference, dtype=float)
    for name, signal in (("processed", processed), ("reference", reference)):
        if signal.ndim != 2 or signal.shape[1] != 2:
            raise ValueError(f"{name} signal must have shape (n_samples, 2), got {signal.shape}")
    levels = (level1, level1) if np.ndim(level1) == 0 else tuple(level1)
    if len(levels) != 2:
        raise ValueError(f"level1 must be one value or a (left, right) pair, got {level1!r}")
    if seed is not None and not isinstance(seed, (np.random.RandomState, np.random.Generator)):
        seed = np.random.RandomState(int(seed))
    if seed is None and backend != "pyclarity":
        seed = np.random.default_rng()
    return tuple(
        compute_haaqi(processed[:, ear], reference[:, ear], processed_sample_rate,
                      reference_sample_rate, audiogram, equalisation, levels[ear], seed,
                      backend)
        for ear, audiogram in enumerate((audiogram_left, audiogram_right)))


def compute_haaqi_batch(
    processed: Sequence[np.ndarray],
    reference: Sequence[np.ndarray],
    processed_sample_rate: float,
    reference_sample_rate: float,
    audiograms: Sequence[Audiogram],
    equalisation: int = 1,
    level1s: float | Sequence[float] = 65.0,
    seeds=None,
    backend: str = "fast",
) -> np.ndarray:
    """HAAQI of many one-ear items: scores as a float array in item order.

    `level1s` is one value or one per item. `seeds` is None, one generator shared by all
    items in order (consumed like calling ``compute_haaqi`` item after item), or one seed
    per item. Coefficients cached by the fast backend are shared across items.
    """
    count = len(processed)
    if len(reference) != count or len(audiograms) != count:
        raise ValueError(f"batch sizes differ: {count} processed, {len(reference)} reference, "
                         f"{len(audiograms)} audiograms")
    level1s = [level1s] * count if np.ndim(level1s) == 0 else list(level1s)
    if isinstance(seeds, (np.random.RandomState, np.random.Generator)) or seeds is None:
        seeds = [seeds] * count
    else:
        seeds = list(seeds)
    if len(level1s) != count or len(seeds) != count:
        raise ValueError("level1s and seeds must be scalars or have one entry per item")
    return np.array([
        compute_haaqi(processed[i], reference[i], processed_sample_rate, reference_sample_rate,
                      audiograms[i], equalisation, level1s[i], seeds[i], backend)
        for i in range(count)])
