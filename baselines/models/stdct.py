"""Short-time discrete cosine transform (STDCT): framed, windowed, orthonormal DCT-II.

Stergioulis and Petroglou (2025) feed their Attentive MultiResUNet with the STDCT of Sgouros et al. (IEEE Access
2022): frame the signal, window each frame, apply an orthonormal DCT-II per frame. The paper
gives no frame length, hop or window, so we choose a window that makes the inverse exact:

* analysis and synthesis window: the sine window ``sin(pi (n + 1/2) / N)`` (the square root
  of a symmetric-offset Hann window), hop ``N / 2``. Its square sums to exactly 1 at 50 %
  overlap (Princen-Bradley), so windowed overlap-add of the inverse DCT of the frames
  reconstructs the signal to float precision;
* the signal is padded with ``hop`` zeros in front and enough zeros at the end to fill the
  last frame, so every input sample is covered by two frames; the inverse crops the padding.

The numpy version uses ``scipy.fft.dct(norm="ortho")``; the torch version multiplies by the
orthonormal DCT-II matrix (exact, differentiable, fast enough for the frame sizes we use).
Layout: a signal ``(..., time)`` becomes coefficients ``(..., frames, frame_length)``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft
import torch


def sine_window(frame_length: int) -> np.ndarray:
    """The window whose square sums to one at 50 % overlap."""
    n = np.arange(frame_length)
    return np.sin(np.pi * (n + 0.5) / frame_length)


def _check(frame_length: int) -> int:
    if frame_length < 2 or frame_length % 2:
        raise ValueError(f"STDCT frame_length must be an even number >= 2, not {frame_length}")
    return frame_length // 2


def num_frames(length: int, frame_length: int) -> int:
    hop = _check(frame_length)
    return math.ceil((length + hop) / hop)


def stdct(signal: np.ndarray, frame_length: int = 1024) -> np.ndarray:
    """(..., time) -> (..., frames, frame_length) orthonormal DCT-II of sine-windowed frames."""
    hop = _check(frame_length)
    signal = np.asarray(signal)
    length = signal.shape[-1]
    frames = num_frames(length, frame_length)
    padded_length = (frames + 1) * hop
    pad = [(0, 0)] * (signal.ndim - 1) + [(hop, padded_length - length - hop)]
    padded = np.pad(signal, pad)
    index = np.arange(frames)[:, None] * hop + np.arange(frame_length)[None, :]
    framed = padded[..., index] * sine_window(frame_length)
    return scipy.fft.dct(framed, type=2, norm="ortho", axis=-1)


def istdct(coefficients: np.ndarray, length: int) -> np.ndarray:
    """Inverse of `stdct`: inverse DCT per frame, sine window, overlap-add, crop to `length`."""
    frame_length = coefficients.shape[-1]
    hop = _check(frame_length)
    frames = coefficients.shape[-2]
    framed = scipy.fft.idct(coefficients, type=2, norm="ortho", axis=-1) * sine_window(frame_length)
    out = np.zeros(coefficients.shape[:-2] + ((frames + 1) * hop,), dtype=framed.dtype)
    for i in range(frames):
        out[..., i * hop : i * hop + frame_length] += framed[..., i, :]
    return out[..., hop : hop + length]


def dct_matrix(frame_length: int, dtype=torch.float32) -> torch.Tensor:
    """Orthonormal DCT-II matrix D (rows = frequencies): coefficients = D @ frame."""
    n = torch.arange(frame_length, dtype=torch.float64)
    k = n[:, None]
    matrix = torch.cos(math.pi * k * (2 * n[None, :] + 1) / (2 * frame_length)) * math.sqrt(2.0 / frame_length)
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(dtype)


class STDCT(torch.nn.Module):
    """Differentiable STDCT and its exact inverse, identical to `stdct` / `istdct`."""

    def __init__(self, frame_length: int = 1024):
        super().__init__()
        self.frame_length = frame_length
        self.hop = _check(frame_length)
        self.register_buffer("matrix", dct_matrix(frame_length), persistent=False)
        self.register_buffer("window", torch.from_numpy(sine_window(frame_length)).float(), persistent=False)

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        """(..., time) -> (..., frames, frame_length)."""
        length = signal.shape[-1]
        frames = num_frames(length, self.frame_length)
        padded_length = (frames + 1) * self.hop
        padded = torch.nn.functional.pad(signal, (self.hop, padded_length - length - self.hop))
        framed = padded.unfold(-1, self.frame_length, self.hop) * self.window
        return framed @ self.matrix.T

    def inverse(self, coefficients: torch.Tensor, length: int) -> torch.Tensor:
        """(..., frames, frame_length) -> (..., length)."""
        lead = coefficients.shape[:-2]
        frames = coefficients.shape[-2]
        framed = (coefficients @ self.matrix) * self.window  # (..., frames, frame_length)
        framed = framed.reshape(-1, frames, self.frame_length).transpose(1, 2)  # (b, L, frames)
        out = torch.nn.functional.fold(
            framed, output_size=(1, (frames + 1) * self.hop), kernel_size=(1, self.frame_length), stride=(1, self.hop)
        )
        out = out.reshape(*lead, -1)
        return out[..., self.hop : self.hop + length]
