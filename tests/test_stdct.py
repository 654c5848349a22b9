"""The short-time DCT: orthonormal frames, perfect reconstruction, numpy and torch agree."""

import numpy as np
import pytest
import scipy.fft
import torch

from baselines.models.stdct import STDCT, dct_matrix, istdct, num_frames, sine_window, stdct


@pytest.mark.parametrize("frame_length", [8, 256, 1024])
@pytest.mark.parametrize("length", [1, 999, 4096])
def test_perfect_reconstruction_numpy(frame_length, length):
    x = np.random.default_rng(0).standard_normal((2, length))
    coefficients = stdct(x, frame_length)
    assert coefficients.shape == (2, num_frames(length, frame_length), frame_length)
    np.testing.assert_allclose(istdct(coefficients, length), x, atol=1e-10)


@pytest.mark.parametrize("frame_length", [16, 512])
def test_torch_matches_numpy_and_reconstructs(frame_length):
    x = np.random.default_rng(1).standard_normal((3, 2, 3000)).astype(np.float32)
    transform = STDCT(frame_length)
    coefficients = transform(torch.from_numpy(x))
    np.testing.assert_allclose(coefficients.numpy(), stdct(x, frame_length), atol=2e-5)
    np.testing.assert_allclose(transform.inverse(coefficients, 3000).numpy(), x, atol=2e-5)


def test_window_satisfies_princen_bradley():
    w = sine_window(64)
    np.testing.assert_allclose(w[:32] ** 2 + w[32:] ** 2, 1.0, atol=1e-12)


def test_dct_matrix_is_orthonormal_dct_ii():
    matrix = dct_matrix(32, torch.float64).numpy()
    np.testing.assert_allclose(matrix @ matrix.T, np.eye(32), atol=1e-12)
    frame = np.random.default_rng(2).standard_normal(32)
    np.testing.assert_allclose(matrix @ frame, scipy.fft.dct(frame, type=2, norm="ortho"), atol=1e-12)


def test_energy_preserved_per_frame_pair():
    # orthonormal DCT + power-complementary window: total coefficient energy equals signal energy
    x = np.random.default_rng(3).standard_normal(4096)
    coefficients = stdct(x, 128)
    np.testing.assert_allclose((coefficients**2).sum(), (x**2).sum(), rtol=1e-10)


def test_odd_frame_length_rejected():
    with pytest.raises(ValueError, match="even"):
        stdct(np.zeros(100), 15)
