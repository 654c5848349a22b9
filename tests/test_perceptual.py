"""The perceptual proxies (evaluators/perceptual.py) against librosa's descriptors, pyloudnorm
and direct formulas, with known answers on tones, noise and clicks."""

from __future__ import annotations

import librosa
import numpy as np
import pyloudnorm
import pytest

from evaluators import perceptual as p

RATE = 22050


def tone(freq: float, seconds: float = 1.0, amplitude: float = 0.1) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * freq * t)


def clicks(times, seconds: float = 2.0) -> np.ndarray:
    """Decaying noise bursts at `times` (s), fixed noise."""
    rng = np.random.default_rng(0)
    x = np.zeros(int(seconds * RATE))
    burst = rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    for t in times:
        start = int(t * RATE)
        x[start:start + 2000] += burst[: len(x) - start]
    return 0.1 * x


def test_rolloff_distance_is_librosa_rolloff_on_active_frames():
    rng = np.random.default_rng(1)
    ref = tone(440) + 0.01 * rng.standard_normal(RATE)
    ref[: RATE // 4] = 0.0  # leading silence: not an active frame
    est = np.stack([ref + 0.02 * rng.standard_normal(RATE), ref], axis=1)  # stereo: averaged to mono
    mono = est.mean(axis=1)
    kw = dict(sr=RATE, n_fft=2048, hop_length=512, roll_percent=0.98, pad_mode="constant")
    diff = np.abs(librosa.feature.spectral_rolloff(y=mono, **kw)[0] - librosa.feature.spectral_rolloff(y=ref, **kw)[0])
    active = p.active_frames(ref)
    assert 0 < active.sum() < len(active)
    assert p.rolloff_distance(est, ref, RATE) == pytest.approx(diff[active].mean(), rel=1e-12)
    assert p.rolloff_distance(ref, ref, RATE) == 0.0


def test_rolloff_and_centroid_of_tones():
    # one sinusoid: almost all energy in its bins, so roll-off and centroid sit at its frequency
    assert p.rolloff_distance(tone(2000), tone(1000), RATE) == pytest.approx(1000, abs=150)  # window leakage
    assert p.centroid_difference(tone(2000), tone(1000), RATE) == pytest.approx(1000, abs=60)
    assert p.centroid_difference(tone(500), tone(1000), RATE) == pytest.approx(-500, abs=60)


def test_centroid_and_flatness_match_librosa():
    rng = np.random.default_rng(2)
    ref = tone(300) + tone(1200, amplitude=0.05)
    est = ref + 0.03 * rng.standard_normal(len(ref))
    active = p.active_frames(ref)
    kw = dict(n_fft=2048, hop_length=512, pad_mode="constant")
    cen = librosa.feature.spectral_centroid(y=est, sr=RATE, **kw)[0] - librosa.feature.spectral_centroid(y=ref, sr=RATE, **kw)[0]
    flat = librosa.feature.spectral_flatness(y=est, **kw)[0] - librosa.feature.spectral_flatness(y=ref, **kw)[0]
    assert p.centroid_difference(est, ref, RATE) == pytest.approx(cen[active].mean(), rel=1e-12)
    assert p.flatness_difference(est, ref, RATE) == pytest.approx(flat[active].mean(), rel=1e-12)
    noise = 0.1 * rng.standard_normal(RATE)
    assert p.flatness_difference(noise, tone(440), RATE) > 0.3  # white noise is flat, a tone is not


def test_loudness_difference_is_pyloudnorm():
    rng = np.random.default_rng(3)
    ref = np.stack([tone(440), tone(660)], axis=1) + 0.01 * rng.standard_normal((RATE, 2))
    est = 2.0 * ref
    assert p.loudness_difference(est, ref, RATE) == pytest.approx(20 * np.log10(2.0), abs=1e-9)
    meter = pyloudnorm.Meter(RATE)
    quieter = 0.3 * ref + 0.001 * rng.standard_normal(ref.shape)
    expected = meter.integrated_loudness(quieter) - meter.integrated_loudness(ref)
    assert p.loudness_difference(quieter, ref, RATE) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(p.loudness_difference(np.zeros_like(ref), ref, RATE))  # silence is gated out
    assert np.isnan(p.loudness_difference(ref[:100], ref[:100], RATE))  # shorter than a 400 ms block


def test_frame_f1_direct_formula():
    ref = np.zeros(20, bool)
    ref[[3, 10]] = True
    assert p.frame_f1(ref, ref) == 1.0
    est = np.zeros(20, bool)
    est[[4, 15]] = True  # 4 is within one frame of 3; 15 matches nothing; 10 is missed
    assert p.frame_f1(est, ref, tolerance=1) == pytest.approx(2 * 0.5 * 0.5 / (0.5 + 0.5))
    assert p.frame_f1(est, ref, tolerance=0) == 0.0
    assert p.frame_f1(np.zeros(20, bool), ref) == 0.0
    assert np.isnan(p.frame_f1(est, np.zeros(20, bool)))
    with pytest.raises(ValueError):
        p.frame_f1(est[:5], ref)


def test_onset_f1_of_clicks():
    ref = clicks([0.3, 0.8, 1.3])
    assert p.onset_f1(ref, ref, RATE) == 1.0
    assert p.onset_f1(0.5 * ref, ref, RATE) == 1.0  # onset strength is a rise in dB: the level does not matter
    moved = clicks([0.5, 1.0, 1.5])  # 200 ms later: no onset within a frame of the reference's
    assert p.onset_f1(moved, ref, RATE) == 0.0
    smeared = clicks([0.3, 0.8]) + 0.0  # one of three onsets missing: precision 1, recall 2/3
    assert p.onset_f1(smeared, ref, RATE) == pytest.approx(0.8, abs=0.05)
    strength = librosa.onset.onset_strength(y=ref, sr=RATE, n_fft=2048, hop_length=512, pad_mode="constant")
    frames = p.onset_frames(strength, 0.3 * strength.max())
    assert p.frame_f1(frames, frames) == 1.0 and frames.sum() >= 3


def test_silent_references_and_argument_checks():
    silent = np.zeros(RATE)
    assert np.isnan(p.rolloff_distance(tone(440), silent, RATE))
    assert np.isnan(p.onset_f1(tone(440), silent, RATE))
    metrics = p.perceptual_metrics(tone(440), tone(440), RATE)
    assert set(metrics) == set(p.METRICS) and metrics["rolloff_distance_hz"] == 0.0
    assert p.rolloff_distance(tone(440, 1.0), tone(440, 1.2), RATE) == 0.0  # cut to the shorter
    with pytest.raises(ValueError):
        p.rolloff_distance(np.zeros((10, 2, 2)), np.zeros(10), RATE)
