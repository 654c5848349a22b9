"""The centre separator pulls a centre-panned voice out of a mix with side-panned accompaniment."""

import numpy as np

from baselines.centre import CentreSeparator


def _sdr(ref, est):
    return 10 * np.log10(np.sum(ref**2) / np.sum((ref - est) ** 2))


def test_centre_voice_is_recovered():
    rate, n = 44100, 44100
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    voice = 0.2 * np.sin(2 * np.pi * 220 * t * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))) * (1 + np.sin(2 * np.pi * 2 * t))
    guitar = 0.2 * np.sign(np.sin(2 * np.pi * 330 * t)) * np.exp(-3 * (t % 0.5))
    noise = 0.05 * rng.standard_normal(n)
    vocals = np.stack([voice, voice], axis=1)
    accompaniment = np.stack([0.9 * guitar + 0.1 * noise, 0.1 * guitar + 0.9 * noise], axis=1)
    mixture = (vocals + accompaniment).astype(np.float32)
    out = CentreSeparator().separate(mixture, ["vocals", "accompaniment"])
    assert out["vocals"].shape == mixture.shape
    np.testing.assert_allclose(out["vocals"] + out["accompaniment"], mixture, atol=1e-6)
    assert _sdr(vocals, out["vocals"]) > _sdr(vocals, mixture) + 6  # at least 6 dB better than no separation
