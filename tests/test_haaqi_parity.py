"""Parity of the fast (and torch) HAAQI with pyclarity's, given the same noise draws."""

from __future__ import annotations

import numpy as np
import pytest
from clarity.evaluator.haaqi import haaqi_v1 as reference_haaqi_v1

from evaluators.haaqi import (
    compute_haaqi,
    compute_haaqi_batch,
    compute_haaqi_stereo,
    haaqi_v1,
)
from tests.haaqi_signals import audiogram, distort, music, noise, with_silence

TOLERANCE = 1e-6

# (id, source, duration s, processed rate, reference rate, audiogram, equalisation, distortion)
CASES = [
    ("music-near-normal", "music", 1.0, 24000, 24000, "normal", 1, "near"),
    ("music-identical-mild", "music", 1.0, 24000, 24000, "mild", 1, "identical"),
    ("music-delay-moderate", "music", 1.0, 24000, 24000, "moderate", 1, "delay_gain"),
    ("music-lowpass-severe", "music", 1.0, 24000, 24000, "severe", 1, "lowpass"),
    ("music-clip-sloping", "music", 1.0, 24000, 24000, "sloping", 1, "clip"),
    ("music-noisy-mild", "music", 1.0, 24000, 24000, "mild", 1, "noisy"),
    ("music-tremolo-moderate", "music", 1.0, 24000, 24000, "moderate", 1, "tremolo"),
    ("music-unrelated-normal", "music", 1.0, 24000, 24000, "normal", 1, "unrelated"),
    ("music-eq2-moderate", "music", 1.0, 24000, 24000, "moderate", 2, "clip"),
    ("music-eq2-sloping", "music", 0.5, 24000, 24000, "sloping", 2, "near"),
    ("noise-near-mild", "noise", 1.0, 24000, 24000, "mild", 1, "near"),
    ("noise-lowpass-severe", "noise", 1.0, 24000, 24000, "severe", 1, "lowpass"),
    ("silence-music-mild", "silence", 1.5, 24000, 24000, "mild", 1, "delay_gain"),
    ("silence-noise-normal", "silence-noise", 1.5, 24000, 24000, "normal", 2, "noisy"),
    ("music-32k-moderate", "music", 1.0, 32000, 32000, "moderate", 1, "clip"),
    ("music-44k-mild", "music", 1.0, 44100, 44100, "mild", 1, "lowpass"),
    ("music-44k-ref24k-sloping", "music", 1.0, 44100, 24000, "sloping", 1, "near"),
    ("music-32k-ref44k-normal", "music", 0.8, 32000, 44100, "normal", 2, "tremolo"),
    ("noise-44k-severe", "noise", 0.5, 44100, 44100, "severe", 1, "clip"),
    ("music-short-moderate", "music", 0.5, 24000, 24000, "moderate", 1, "noisy"),
    ("music-5s-mild", "music", 5.0, 24000, 24000, "mild", 1, "delay_gain"),
    ("music-len-mismatch-mild", "music", 1.0, 24000, 24000, "mild", 1, "longer"),
]


def _signals(source, duration, processed_rate, reference_rate, kind):
    if source == "music":
        reference = music(duration, reference_rate)
    elif source == "noise":
        reference = noise(duration, reference_rate)
    elif source == "silence":
        reference = with_silence(music(duration, reference_rate), reference_rate, 0.4, 0.9)
    else:
        reference = with_silence(noise(duration, reference_rate), reference_rate, 0.3, 1.0)
    source_at_processed_rate = (reference if processed_rate == reference_rate
                                else music(duration, processed_rate))
    if kind == "longer":  # processed 0.3 s longer: upstream truncates to the shorter
        extra = music(0.3, processed_rate, seed=4)
        return np.concatenate([distort(reference, processed_rate, "near"), extra]), reference
    return distort(source_at_processed_rate, processed_rate, kind), reference


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_fast_matches_pyclarity(case):
    _, source, duration, processed_rate, reference_rate, hearing, equalisation, kind = case
    processed, reference = _signals(source, duration, processed_rate, reference_rate, kind)
    if hearing == "severe":  # +20 dB so that the severe loss still leaves audible bands
        processed, reference = 10 * processed, 10 * reference
    args = (processed, reference, processed_rate, reference_rate, audiogram(hearing),
            equalisation)
    expected = compute_haaqi(*args, seed=7, backend="pyclarity")
    got = compute_haaqi(*args, seed=7, backend="fast")
    assert abs(got - expected) <= TOLERANCE, (got, expected)


def test_haaqi_v1_tuple_matches_pyclarity():
    reference = music(1.0, 24000)
    processed = distort(reference, 24000, "clip")
    hearing = audiogram("moderate")
    np.random.seed(3)
    expected = reference_haaqi_v1(reference, 24000, processed, 24000, hearing, 1)
    got = haaqi_v1(reference, 24000, processed, 24000, hearing, 1, seed=3)
    for a, b in zip(got[:3], expected[:3]):
        assert abs(a - b) <= TOLERANCE
    np.testing.assert_allclose(got[3], expected[3], atol=TOLERANCE, rtol=0)


def test_stereo_consumes_one_stream_left_then_right():
    """Same as the official recipes: np.random.seed(s), left ear, then right ear."""
    rate = 24000
    reference = np.stack([music(0.6, rate, 1), music(0.6, rate, 2)], axis=1)
    processed = np.stack([distort(reference[:, 0], rate, "clip"),
                          distort(reference[:, 1], rate, "lowpass")], axis=1)
    left, right = audiogram("mild"), audiogram("sloping")
    stream = np.random.RandomState(11)
    expected = [compute_haaqi(processed[:, ear], reference[:, ear], rate, rate, hl, 1,
                              level1=level, seed=stream, backend="pyclarity")
                for ear, hl, level in ((0, left, 65.0), (1, right, 70.0))]
    got = compute_haaqi_stereo(processed, reference, rate, rate, left, right,
                               level1=(65.0, 70.0), seed=11)
    np.testing.assert_allclose(got, expected, atol=TOLERANCE, rtol=0)


def test_batch_equals_single_calls():
    rate = 24000
    references = [music(0.5, rate, s) for s in range(3)]
    processed = [distort(r, rate, k) for r, k in zip(references, ("near", "clip", "noisy"))]
    hearing = [audiogram(n) for n in ("normal", "mild", "severe")]
    got = compute_haaqi_batch(processed, references, rate, rate, hearing, seeds=[1, 2, 3])
    single = [compute_haaqi(p, r, rate, rate, h, seed=s)
              for p, r, h, s in zip(processed, references, hearing, (1, 2, 3))]
    np.testing.assert_array_equal(got, single)


def test_fast_leaves_global_rng_alone_and_generator_seeds_are_reproducible():
    rate = 24000
    reference = music(0.5, rate)
    processed = distort(reference, rate, "noisy")
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = compute_haaqi(processed, reference, rate, rate, audiogram("mild"),
                      seed=np.random.default_rng(5))
    b = compute_haaqi(processed, reference, rate, rate, audiogram("mild"),
                      seed=np.random.default_rng(5))
    assert a == b
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_torch_backend_matches_pyclarity():
    pytest.importorskip("torch")
    reference = music(1.0, 24000)
    processed = distort(reference, 24000, "clip")
    args = (processed, reference, 24000, 24000, audiogram("moderate"), 1)
    expected = compute_haaqi(*args, seed=9, backend="pyclarity")
    got = compute_haaqi(*args, seed=9, backend="torch")
    assert abs(got - expected) <= TOLERANCE


def test_group_delay_fallback_gives_the_same_score(monkeypatch):
    """If the candidate bands missed the largest group delay, the full search is used."""
    from evaluators import ear_model

    reference = music(0.5, 24000)
    processed = distort(reference, 24000, "clip")
    args = (processed, reference, 24000, 24000, audiogram("mild"), 1)
    expected = compute_haaqi(*args, seed=2)
    monkeypatch.setattr(ear_model, "_delay_candidates", lambda levels: (20,))
    assert compute_haaqi(*args, seed=2) == expected
