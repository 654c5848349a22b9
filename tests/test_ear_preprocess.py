"""The fast ear model's preprocessing against pyclarity's: input alignment, NAL-R."""

from __future__ import annotations

import numpy as np
import pytest
from clarity.evaluator.haspi import eb

from evaluators import _ear_kernels as kernels
from evaluators import ear_model


def _aligned_rows(reference, processed):
    delay, first, last = ear_model._input_align(reference, processed)
    rows = np.empty((2, last + 1 - first))
    rows[0] = reference[first:last + 1]
    ear_model._shifted(processed, first + delay, rows[1])
    return rows


@pytest.mark.parametrize("delay", [0, 90, -70, 3000])
def test_input_align_matches_pyclarity(delay):
    rng = np.random.default_rng(delay + 100)
    reference = np.concatenate([np.zeros(500), rng.standard_normal(6000), np.zeros(800)])
    reference[500:530] *= 1e-5  # near-zeros inside the pruned lead-in
    processed = 0.6 * np.roll(reference, delay) + 0.02 * rng.standard_normal(reference.size)
    expected = eb.input_align(reference, processed)
    rows = _aligned_rows(reference, processed)
    np.testing.assert_array_equal(rows[0], expected[0])
    np.testing.assert_array_equal(rows[1], expected[1])


@pytest.mark.parametrize("start", [-20, -5, 0, 7, 30, 45])
def test_shifted_fills_zeros_outside_the_signal(start):
    processed = np.arange(1.0, 41.0)
    out = np.full(12, np.nan)
    ear_model._shifted(processed, start, out)
    index = start + np.arange(12)
    inside = (index >= 0) & (index < 40)
    np.testing.assert_array_equal(out, np.where(inside, processed[np.clip(index, 0, 39)], 0.0))


@pytest.mark.parametrize("n", [1, 100, 140, 141, 5000])
def test_fir_ahead_is_numpy_convolve_from_the_delay_on(n):
    rng = np.random.default_rng(n)
    taps = rng.standard_normal(141)
    x = rng.standard_normal(n)
    x[n // 3: n // 2] = 0.0
    out = np.full(n, np.nan)
    kernels.fir_ahead(x, np.ascontiguousarray(taps[::-1]), out)
    expected = np.convolve(x, taps)[140:140 + n]
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-13 * np.abs(expected).max())
