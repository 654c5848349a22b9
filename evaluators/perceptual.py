"""Perceptual proxies of a stem estimate against its reference: how far the estimate's spectral
shape, transients and loudness are from the true stem's (seed 001, section 5, after MSG,
Schaffer et al. 2022, and its "future work": spectral centroid, flatness, loudness).

* :func:`rolloff_distance`: mean absolute difference (Hz) of the per-frame 98 % spectral
  roll-off frequencies, the frequency below which 98 % of a frame's magnitude lies (MSG's
  measure of missing or excess high frequencies);
* :func:`onset_f1`: F1 of the frames where the onset strength exceeds a threshold (MSG's
  "onset strength thresholded F1", transient preservation), estimate against reference, with a
  tolerance of ``tolerance`` frames;
* :func:`centroid_difference`: mean per-frame spectral centroid of the estimate minus the
  reference's (Hz; > 0: brighter);
* :func:`flatness_difference`: mean per-frame spectral flatness (0..1, 1 for white noise) of the
  estimate minus the reference's (> 0: noisier);
* :func:`loudness_difference`: integrated loudness (ITU-R BS.1770-4, pyloudnorm) of the
  estimate minus the reference's, in LU;
* :func:`perceptual_metrics`: all five as a dict.

The per-frame descriptors are librosa's (``librosa.feature.spectral_rolloff``,
``spectral_centroid``, ``spectral_flatness``, ``librosa.onset.onset_strength``: n_fft 2048, hop
512, centred frames with zero padding, periodic Hann window; librosa 0.11); this module defines
the distances between an estimate and its reference on them. Frames: the reference's *active*
frames, whose energy is within ``ACTIVE_DB`` (60 dB) of its loudest frame, so silence before
and after notes does not dilute the means; NaN where the reference has none.

Argument order: estimate first, then reference, then the sample rate (as ``evaluators.sdr``);
signals ``(samples,)`` or ``(samples, channels)`` (channels are averaged to mono first) of one
length (the longer is cut to the shorter).
"""

from __future__ import annotations

import numpy as np

N_FFT = 2048
HOP = 512
ACTIVE_DB = 60.0
ROLL_PERCENT = 0.98
ONSET_THRESHOLD = 0.3  # of the reference's largest onset strength
ONSET_TOLERANCE = 1  # frames (11.6 ms at 44.1 kHz)


def _mono(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if x.ndim != 1:
        raise ValueError(f"expected (samples,) or (samples, channels), not shape {np.shape(x)}")
    return x


def _pair(estimate, reference) -> tuple[np.ndarray, np.ndarray]:
    est, ref = _mono(estimate), _mono(reference)
    n = min(len(est), len(ref))
    if n == 0:
        raise ValueError("empty signal")
    return est[:n], ref[:n]


def active_frames(reference: np.ndarray, n_fft: int = N_FFT, hop: int = HOP, within_db: float = ACTIVE_DB) -> np.ndarray:
    """(frames,) bool: the frames (librosa's centred framing) whose energy is within
    `within_db` dB of the loudest frame's (none when the signal is silent)."""
    import librosa

    energy = librosa.feature.rms(y=_mono(reference), frame_length=n_fft, hop_length=hop, center=True,
                                 pad_mode="constant")[0] ** 2
    top = energy.max() if energy.size else 0.0
    if top <= 0:
        return np.zeros(energy.shape, bool)
    return energy >= top * 10 ** (-within_db / 10)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float(np.mean(values[mask])) if mask.any() else float("nan")


def rolloff_distance(estimate: np.ndarray, reference: np.ndarray, sample_rate: int,
                     roll_percent: float = ROLL_PERCENT) -> float:
    """Mean |roll-off(estimate) - roll-off(reference)| over the reference's active frames, Hz."""
    import librosa

    est, ref = _pair(estimate, reference)
    kw = dict(sr=sample_rate, n_fft=N_FFT, hop_length=HOP, roll_percent=roll_percent, pad_mode="constant")
    diff = np.abs(librosa.feature.spectral_rolloff(y=est, **kw)[0] - librosa.feature.spectral_rolloff(y=ref, **kw)[0])
    return _masked_mean(diff, active_frames(ref))


def centroid_difference(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Mean over the reference's active frames of centroid(estimate) - centroid(reference), Hz."""
    import librosa

    est, ref = _pair(estimate, reference)
    kw = dict(sr=sample_rate, n_fft=N_FFT, hop_length=HOP, pad_mode="constant")
    diff = librosa.feature.spectral_centroid(y=est, **kw)[0] - librosa.feature.spectral_centroid(y=ref, **kw)[0]
    return _masked_mean(diff, active_frames(ref))


def flatness_difference(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Mean over the reference's active frames of flatness(estimate) - flatness(reference)
    (Wiener entropy of the power spectrum, 0..1). `sample_rate` is unused (kept for the one
    argument order)."""
    import librosa

    est, ref = _pair(estimate, reference)
    kw = dict(n_fft=N_FFT, hop_length=HOP, pad_mode="constant")
    diff = librosa.feature.spectral_flatness(y=est, **kw)[0] - librosa.feature.spectral_flatness(y=ref, **kw)[0]
    return _masked_mean(diff, active_frames(ref))


def onset_frames(strength: np.ndarray, threshold: float) -> np.ndarray:
    """(frames,) bool: onset strength >= threshold (an absolute value)."""
    return np.asarray(strength) >= threshold


def frame_f1(estimated: np.ndarray, reference: np.ndarray, tolerance: int = ONSET_TOLERANCE) -> float:
    """F1 of two boolean frame sequences with a tolerance of `tolerance` frames: precision =
    share of the estimated frames within `tolerance` of a reference frame, recall = share of
    the reference frames within `tolerance` of an estimated frame, F1 = 2PR / (P + R) (0 when
    both are 0). NaN when the reference has no frame set; 0 when only the estimate has none."""
    est, ref = np.asarray(estimated, bool), np.asarray(reference, bool)
    if est.shape != ref.shape:
        raise ValueError(f"frame sequences differ in length: {est.shape} vs {ref.shape}")
    if not ref.any():
        return float("nan")
    if not est.any():
        return 0.0
    width = 2 * int(tolerance) + 1
    near = lambda x: np.convolve(x.astype(float), np.ones(width), mode="same") > 0  # noqa: E731
    precision = float(np.mean(near(ref)[est]))
    recall = float(np.mean(near(est)[ref]))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def onset_f1(estimate: np.ndarray, reference: np.ndarray, sample_rate: int, threshold: float = ONSET_THRESHOLD,
             tolerance: int = ONSET_TOLERANCE) -> float:
    """F1 (0..1) of the estimate's onset frames against the reference's: frames whose onset
    strength (``librosa.onset.onset_strength``: mean over 128 mel bands of the rise in dB) is
    at least `threshold` times the reference's largest; :func:`frame_f1` with `tolerance`."""
    import librosa

    est, ref = _pair(estimate, reference)
    kw = dict(sr=sample_rate, n_fft=N_FFT, hop_length=HOP, pad_mode="constant")
    est_strength = librosa.onset.onset_strength(y=est, **kw)
    ref_strength = librosa.onset.onset_strength(y=ref, **kw)
    level = threshold * float(ref_strength.max()) if ref_strength.size else 0.0
    if level <= 0:
        return float("nan")
    return frame_f1(onset_frames(est_strength, level), onset_frames(ref_strength, level), tolerance)


def loudness_difference(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of the estimate minus the reference's (LU, BS.1770-4 via pyloudnorm,
    channels as given); NaN when either is below the meter's absolute gate (silence) or
    shorter than one 400 ms block."""
    import pyloudnorm

    est, ref = np.asarray(estimate, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    n = min(len(est), len(ref))
    if n < int(0.4 * sample_rate):
        return float("nan")
    meter = pyloudnorm.Meter(sample_rate)
    with np.errstate(divide="ignore"):
        a, b = meter.integrated_loudness(est[:n]), meter.integrated_loudness(ref[:n])
    return float(a - b) if np.isfinite(a) and np.isfinite(b) else float("nan")


METRICS = {
    "rolloff_distance_hz": rolloff_distance,
    "onset_f1": onset_f1,
    "centroid_diff_hz": centroid_difference,
    "flatness_diff": flatness_difference,
    "loudness_diff_lu": loudness_difference,
}


def perceptual_metrics(estimate: np.ndarray, reference: np.ndarray, sample_rate: int) -> dict[str, float]:
    """All of :data:`METRICS` for one estimate and its reference."""
    return {name: fn(estimate, reference, sample_rate) for name, fn in METRICS.items()}
