import numpy as np
import pytest

from baselines.postfilter import wiener

RATE = 22050


def _tone(freq, seconds=1.0, channels=2, amp=0.1):
    t = np.arange(int(seconds * RATE)) / RATE
    mono = amp * np.sin(2 * np.pi * freq * t)
    return np.stack([mono] * channels, axis=1)


def _sdr(reference, estimate):
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


def test_stems_sum_to_the_mixture_and_keep_shape():
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal((5000, 2)) * s for s in (1.0, 0.5, 0.1))
    mixture = a + b + c
    out = wiener(mixture, {"a": a, "b": b + 0.3 * c, "c": c}, RATE)
    assert list(out) == ["a", "b", "c"]
    assert all(v.shape == mixture.shape and v.dtype == np.float32 for v in out.values())
    np.testing.assert_allclose(sum(out.values()), mixture, atol=1e-5)


def test_rough_estimates_of_disjoint_sources_are_cleaned_up():
    low, high = _tone(220), _tone(3000)
    mixture = low + high
    # crude estimates: each leaks a third of the other source
    rough = {"low": low + high / 3, "high": high + low / 3}
    out = wiener(mixture, rough, RATE)
    before = _sdr(low, rough["low"])
    assert _sdr(low, out["low"]) > before + 6 and _sdr(high, out["high"]) > before + 6


def test_one_stem_is_the_mixture_and_silent_stems_share_equally():
    mixture = _tone(440)
    np.testing.assert_array_equal(wiener(mixture, {"only": np.zeros_like(mixture)}, RATE)["only"],
                                  mixture.astype(np.float32))
    out = wiener(mixture, {"a": np.zeros_like(mixture), "b": np.zeros_like(mixture)}, RATE)
    np.testing.assert_allclose(out["a"], mixture / 2, atol=1e-5)
    np.testing.assert_allclose(out["b"], mixture / 2, atol=1e-5)


@pytest.mark.parametrize("length", [3, 100, 2047, 2049])
def test_short_and_odd_lengths(length):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((length, 2)), rng.standard_normal((length, 2))
    out = wiener(a + b, {"a": a, "b": b}, RATE)
    assert out["a"].shape == (length, 2)
    np.testing.assert_allclose(out["a"] + out["b"], a + b, atol=1e-5)
