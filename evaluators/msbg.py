"""MSBG hearing-loss simulation of one ear (pyclarity's Cambridge MSBG model).

Thin wrapper around ``clarity.evaluator.msbg.msbg.Ear(equiv_0db_spl=100, sample_rate=44100)``
as CAD2 task 1 evaluate uses it before Whisper: a 0 dBFS sine is taken as 100 dB SPL
(``equiv_0db_spl``), and the model only runs at 44.1 kHz, so any other rate is an error
(resample first; we do not resample silently).

Caching: ``Ear.set_audiogram`` only builds a ``Cochlea`` (gammatone filterbank parameters,
recruitment parameters and, for losses that need it, a spectral ``Smearer`` matrix) and
``Ear.process`` reads but never modifies that state, so one ``Ear`` per (audiogram,
equiv_0db_spl) is reused (:func:`get_ear`, an LRU cache). Results are identical to a fresh
``Ear`` (checked in tests).

Level: ``Ear.process`` measures the input's RMS and keeps the presentation level it implies
(input RMS in dBFS + 100 + 20 dB "ahr"), so the absolute level of the input matters.

Output length and delay (measured with pyclarity 0.9.0 on speech at 44.1 kHz):

* The output is delayed by about 1040-1065 samples (24 ms) when no spectral smearing
  applies, and by about 1235-1270 samples (28-29 ms) when it does (any audible loss),
  from the forward and backward outer/middle-ear FIRs (1015 taps each, linear phase),
  the 18 kHz low-pass FIR (133 taps) and the cochlear filterbank. The delayed tail is cut:
  the signal is *not* zero-padded to hold it.
* With smearing, the output is also *longer* than the input (the smearer pads to whole
  frames: +208 to +252 samples in our measurements); without, it has the input's length.

Pass ``trim=True`` to cut the output to the input length (the delay stays).

Speed: the spectral smearing step does one 256 x 256 complex matrix-vector product per
8 ms frame; a multi-threaded BLAS spends far longer synchronising threads over such tiny
products than computing them, so the simulation runs with BLAS limited to one thread
(``threadpoolctl``, a scikit-learn dependency; skipped if it is missing). Timings are in
benchmarks/README.md.
"""

from __future__ import annotations

import functools

import numpy as np

MSBG_RATE = 44100
AUDIOGRAM_FREQUENCIES = (250, 500, 1000, 2000, 3000, 4000, 6000, 8000)
DELAY_SAMPLES_NO_SMEARING = 1050  # approximate; see module docstring
DELAY_SAMPLES_SMEARING = 1255


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def make_audiogram(levels, frequencies=AUDIOGRAM_FREQUENCIES):
    """A ``clarity.utils.audiogram.Audiogram`` from dB HL levels at ``frequencies``."""
    from clarity.utils.audiogram import Audiogram

    levels = np.asarray(levels, dtype=float)
    frequencies = np.asarray(frequencies, dtype=float)
    if levels.shape != frequencies.shape:
        raise ValueError(f"audiogram has {levels.size} levels for {frequencies.size} frequencies")
    if not np.all(np.isfinite(levels)):
        raise ValueError("audiogram levels contain NaN/inf")
    return Audiogram(levels=levels, frequencies=frequencies)


def _key(audiogram) -> tuple:
    return (tuple(np.asarray(audiogram.levels, float).tolist()), tuple(np.asarray(audiogram.frequencies, float).tolist()))


@functools.lru_cache(maxsize=64)
def _ear(key: tuple, equiv_0db_spl: float):
    from clarity.evaluator.msbg.msbg import Ear

    levels, freqs = key
    ear = Ear(equiv_0db_spl=equiv_0db_spl, sample_rate=MSBG_RATE)
    # set_audiogram logs a warning above 80 dB HL; keep it, it is useful
    ear.set_audiogram(make_audiogram(levels, freqs))
    return ear


def get_ear(audiogram, equiv_0db_spl: float = 100.0):
    """A configured MSBG ``Ear`` for this audiogram, built once and reused."""
    return _ear(_key(audiogram), float(equiv_0db_spl))


def simulate_hearing_loss(
    signal: np.ndarray,
    sample_rate: int,
    audiogram,
    equiv_0db_spl: float = 100.0,
    trim: bool = False,
) -> np.ndarray:
    """What one ear with ``audiogram`` hears of the 1-D ``signal`` (MSBG), as float64.

    ``audiogram`` is a pyclarity ``Audiogram`` or a sequence of dB HL levels at
    :data:`AUDIOGRAM_FREQUENCIES`. The output is delayed and may be longer (module docstring).
    """
    if sample_rate != MSBG_RATE:
        raise ValueError(f"MSBG runs at {MSBG_RATE} Hz only; got a {sample_rate} Hz signal (resample it first)")
    x = np.asarray(signal, dtype=float)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"simulate one ear at a time: got an array of shape {x.shape}")
    if x.size == 0 or not np.any(x):
        raise ValueError("MSBG needs a non-silent signal (its level calibration divides by the RMS)")
    if not np.all(np.isfinite(x)):
        raise ValueError("signal contains NaN/inf")
    if not hasattr(audiogram, "levels"):
        audiogram = make_audiogram(audiogram)
    with _one_blas_thread():  # building an Ear also calls BLAS (lstsq in the smearing matrix)
        ear = get_ear(audiogram, equiv_0db_spl)
        y = ear.process(x)[0]
    return y[: x.size] if trim else y


def simulate_ears(
    signal: np.ndarray, sample_rate: int, audiogram_left, audiogram_right, equiv_0db_spl: float = 100.0, trim: bool = False
) -> np.ndarray:
    """Left and right channels of a (n, 2) signal through each ear's MSBG -> (m, 2)."""
    x = np.asarray(signal, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"expected a (n_samples, 2) stereo signal, got shape {x.shape}")
    left = simulate_hearing_loss(x[:, 0], sample_rate, audiogram_left, equiv_0db_spl, trim)
    right = simulate_hearing_loss(x[:, 1], sample_rate, audiogram_right, equiv_0db_spl, trim)
    n = min(left.size, right.size)
    return np.stack([left[:n], right[:n]], axis=1)
