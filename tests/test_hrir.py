"""The synthetic spherical-head HRIR (Brown & Duda 1998) of the demo data."""

import numpy as np
import pytest

from harness.demo.hrir import HEAD_RADIUS_M, SPEED_OF_SOUND_M_S, spherical_head_hrir

FS = 44100


def _onset(row: np.ndarray) -> float:
    """Group delay of the response, in samples, as the centroid of its energy."""
    energy = row**2
    return float(np.sum(np.arange(row.size) * energy) / np.sum(energy))


def test_front_source_reaches_both_ears_alike():
    hrir = spherical_head_hrir(0.0, FS)
    assert hrir.shape == (2, 256)
    np.testing.assert_allclose(hrir[0], hrir[1], atol=1e-12)


def test_mirrored_azimuths_swap_the_ears():
    np.testing.assert_allclose(spherical_head_hrir(40.0, FS), spherical_head_hrir(-40.0, FS)[::-1], atol=1e-12)


def test_side_source_gives_woodworth_itd_and_head_shadow():
    left, right = spherical_head_hrir(90.0, FS, n_taps=512)
    itd_s = (_onset(left) - _onset(right)) / FS
    woodworth = HEAD_RADIUS_M / SPEED_OF_SOUND_M_S * (1 + np.pi / 2)   # 0.655 ms
    assert itd_s == pytest.approx(woodworth, rel=0.15)
    high = np.fft.rfftfreq(2048, 1 / FS) > 6000
    gain_db = 20 * np.log10(np.abs(np.fft.rfft(right, 2048))[high].mean() / np.abs(np.fft.rfft(left, 2048))[high].mean())
    assert gain_db > 10.0          # near ear up to +6 dB, far ear shadowed towards -20 dB


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n_taps"):
        spherical_head_hrir(0.0, FS, n_taps=8)
    with pytest.raises(ValueError, match="sample_rate"):
        spherical_head_hrir(0.0, 0)
