"""Bad input to compute_haaqi: clear errors, or upstream's documented behaviour."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from clarity.utils.audiogram import Audiogram

from evaluators.haaqi import BACKENDS, compute_haaqi, compute_haaqi_batch, compute_haaqi_stereo
from tests.haaqi_signals import audiogram, music

RATE = 24000


@pytest.fixture(scope="module")
def signal():
    return music(0.5, RATE)


def _haaqi(processed, reference, hearing=None, **kwargs):
    return compute_haaqi(processed, reference, RATE, RATE, hearing or audiogram("mild"),
                         seed=0, **kwargs)


@pytest.mark.parametrize("backend", ["fast", "pyclarity"])
def test_empty_reference_follows_upstream(backend, signal):
    assert _haaqi(np.array([]), np.array([]), backend=backend) == 1.0
    assert _haaqi(signal, np.array([]), backend=backend) == 0.0


def test_empty_processed_is_an_error(signal):
    with pytest.raises(ValueError, match="processed signal is empty"):
        _haaqi(np.array([]), signal)


@pytest.mark.parametrize("which", ["processed", "reference"])
def test_nan_or_inf_is_an_error(which, signal):
    bad = signal.copy()
    bad[10] = np.nan
    args = (bad, signal) if which == "processed" else (signal, bad)
    with pytest.raises(ValueError, match=f"{which} signal contains NaN"):
        _haaqi(*args)
    bad[10] = np.inf
    with pytest.raises(ValueError, match=f"{which} signal contains NaN or infinite"):
        _haaqi(*args)


def test_silent_reference_is_an_error(signal):
    with pytest.raises(ValueError, match="reference signal is silent"):
        _haaqi(signal, np.zeros_like(signal))


def test_two_dimensional_signal_is_an_error(signal):
    with pytest.raises(ValueError, match="must be 1-D"):
        _haaqi(np.stack([signal, signal], axis=1), signal)


def test_mismatched_lengths_are_truncated_as_upstream(signal):
    longer = np.concatenate([signal, music(0.2, RATE, seed=3)])
    fast = _haaqi(longer, signal)
    reference = _haaqi(longer, signal, backend="pyclarity")
    assert abs(fast - reference) <= 1e-6


def test_bad_sample_rate_equalisation_and_backend(signal):
    with pytest.raises(ValueError, match="sample rate"):
        compute_haaqi(signal, signal, 400, RATE, audiogram("mild"))
    with pytest.raises(ValueError, match="equalisation"):
        _haaqi(signal, signal, equalisation=0)
    with pytest.raises(ValueError, match="unknown HAAQI backend"):
        _haaqi(signal, signal, backend="gpu")
    assert BACKENDS == ("fast", "torch", "pyclarity")


def test_audiogram_checks(signal):
    with pytest.raises(ValueError, match="Audiogram"):
        _haaqi(signal, signal, hearing=[10, 20, 30, 40, 50, 60])
    nan_levels = Audiogram(levels=np.array([10, np.nan, 30, 40, 50, 60.0]),
                           frequencies=np.array([250, 500, 1000, 2000, 4000, 6000]))
    with pytest.raises(ValueError, match="audiogram levels"):
        _haaqi(signal, signal, hearing=nan_levels)


def test_other_audiogram_frequencies_are_interpolated_as_upstream(signal, caplog):
    hearing = Audiogram(levels=np.array([10.0, 20, 40, 60]),
                        frequencies=np.array([250, 1000, 3000, 8000]))
    with caplog.at_level(logging.WARNING):
        fast = _haaqi(signal, signal, hearing=hearing)
    assert "interpolated" in caplog.text
    assert abs(fast - _haaqi(signal, signal, hearing=hearing, backend="pyclarity")) <= 1e-6


def test_batched_entry_points_check_shapes(signal):
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        compute_haaqi_stereo(signal, signal, RATE, RATE, audiogram("mild"), audiogram("mild"))
    with pytest.raises(ValueError, match="batch sizes differ"):
        compute_haaqi_batch([signal], [signal, signal], RATE, RATE, [audiogram("mild")])


def test_melcor9_crosscov_refuses_a_filter_of_the_wrong_length():
    from evaluators.ear_model import _melcor9_crosscov, _modulation_filters

    b, n_fir, _ = _modulation_filters()
    cep = np.random.default_rng(0).standard_normal((5, 300))
    _melcor9_crosscov(b[4:8], 300, n_fir, cep, cep)  # the right length passes
    with pytest.raises(ValueError, match="taps"):
        _melcor9_crosscov(b[4:8, :-2], 300, n_fir, cep, cep)
