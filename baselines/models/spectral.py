"""One centred short-time Fourier transform pair for the spectrogram models (open-unmix,
bilstm_mask, Msanii): ``torch.stft``/``torch.istft`` over any leading dimensions.

``stft``: real ``(..., samples)`` -> complex ``(..., n_fft // 2 + 1, 1 + samples // hop)``,
frames centred with zero padding (so a signal shorter than a frame works); ``istft`` is its
inverse to ``(..., length)``. The window (``n_fft`` samples, e.g. ``torch.hann_window``) is the
caller's, so a model can keep it as a buffer on its device.
"""

from __future__ import annotations

import torch


def stft(audio: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """Complex STFT of ``audio`` (..., samples), centred, zero padded."""
    lead = audio.shape[:-1]
    spec = torch.stft(audio.reshape(-1, audio.shape[-1]), n_fft, hop, window=window, center=True,
                      pad_mode="constant", return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor, length: int) -> torch.Tensor:
    """The inverse of :func:`stft`: complex (..., bins, frames) -> real (..., length)."""
    lead = spec.shape[:-2]
    audio = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft, hop, window=window, center=True, length=length)
    return audio.reshape(*lead, length)
