"""The aligner's 8-row batched real FFT, its cross spectra, and the delays it finds."""

from __future__ import annotations

import numpy as np
import pytest
from clarity.evaluator.haspi import eb

from evaluators import _batch_fft as batch_fft
from evaluators import ear_model


def _rfft_rows(rows):
    """The real FFTs of (8, size) rows from the packed transform, unscrambled."""
    size = rows.shape[1]
    radices, sizes, offsets, tw_re, tw_im, permutation, w_re, w_im = batch_fft.plan(size)
    x = np.ascontiguousarray(rows.T)
    batch_fft.packed_fft(x, radices, sizes, offsets, tw_re, tw_im)
    z = x.reshape(size // 2, 2, batch_fft.ROWS)
    z = (z[:, 0] + 1j * z[:, 1])[permutation]  # (size / 2, 8), natural order
    k = np.arange(size // 2 + 1)
    zk, zm = z[k % (size // 2)], np.conj(z[(size // 2 - k) % (size // 2)])
    w = (w_re + 1j * w_im)[:, None]
    return (0.5 * (zk + zm) - 0.5j * w * (zk - zm)).T


@pytest.mark.parametrize("size", [16, 32, 64, 2048, 16384])
def test_packed_transform_is_numpy_rfft(size):
    rows = np.random.default_rng(size).standard_normal((batch_fft.ROWS, size))
    expected = np.fft.rfft(rows, axis=1)
    np.testing.assert_allclose(_rfft_rows(rows), expected, rtol=0,
                               atol=1e-14 * np.abs(expected).max())


@pytest.mark.parametrize("size", [16, 1024, 8192])
def test_cross_spectra_are_conj_r_times_o_per_lane(size):
    rng = np.random.default_rng(size + 1)
    reference, output = rng.standard_normal((2, batch_fft.ROWS, size))
    radices, sizes, offsets, tw_re, tw_im, permutation, w_re, w_im = batch_fft.plan(size)
    packed = []
    for rows in (reference, output):
        x = np.ascontiguousarray(rows.T)
        batch_fft.packed_fft(x, radices, sizes, offsets, tw_re, tw_im)
        packed.append(x)
    acc = np.full((size // 2 + 1, 2 * batch_fft.ROWS), 1.0)  # adds to what is there
    batch_fft.add_cross_spectra(*packed, permutation, w_re, w_im, acc)
    cross = np.empty(size // 2 + 1, complex)
    batch_fft.lane_sums(acc, cross)
    expected = (np.conj(np.fft.rfft(reference, axis=1)) * np.fft.rfft(output, axis=1)).sum(0)
    np.testing.assert_allclose(cross - batch_fft.ROWS * (1 + 1j), expected, rtol=0,
                               atol=1e-13 * np.abs(expected).max())


def test_plan_needs_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        batch_fft.plan(20480)


@pytest.mark.parametrize("start, step, count, limit", [
    (0, 40, 8, 40), (-50, 40, 8, 64), (300, 40, 8, 64), (-10, 17, 3, 64), (120, 100, 8, 64),
])
def test_fill_lays_rows_out_time_major_with_zeros_outside(start, step, count, limit):
    signal = np.arange(1.0, 401.0)
    x = np.full((64, batch_fft.ROWS), np.nan)
    batch_fft.fill(signal, start, step, count, limit, x)
    t, b = np.meshgrid(np.arange(64), np.arange(batch_fft.ROWS), indexing="ij")
    at = start + b * step + t
    inside = (b < count) & (t < limit) & (at >= 0) & (at < signal.size)
    np.testing.assert_array_equal(x, np.where(inside, signal[np.clip(at, 0, 399)], 0.0))


def _upstream_delay(reference, output):
    """The delay eb.envelope_align applies, read back from its shifted output."""
    aligned = eb.envelope_align(reference, output)
    lags = min(2400, len(output))
    for delay in range(-lags, lags + 1):
        if delay > 0:
            candidate = np.concatenate((output[delay:], np.zeros(delay)))
        else:
            candidate = np.concatenate((np.zeros(-delay), output[: len(output) + delay]))
        if np.array_equal(candidate, aligned):
            return delay
    raise AssertionError("no shift reproduces envelope_align's output")


@pytest.mark.parametrize("npts, shift", [(700, 13), (3000, -40), (20000, 250), (130000, -1900)])
def test_aligner_delay_matches_envelope_align(npts, shift):
    rng = np.random.default_rng(npts)
    smooth = np.convolve(rng.standard_normal(npts + 4000), np.hanning(61), "same")
    reference = np.abs(smooth[2000:2000 + npts])
    output = 0.8 * np.abs(smooth[2000 - shift:2000 - shift + npts])
    output += 0.05 * rng.standard_normal(npts)
    lags = min(int(np.rint(0.001 * 100 * ear_model.FS)), npts)
    delay = ear_model._Aligner(npts, lags).delay(reference, output)
    assert delay == _upstream_delay(reference, output)
