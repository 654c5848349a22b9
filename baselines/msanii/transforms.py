"""Msanii's audio <-> scaled log-mel transforms (Maina 2023, seed 004, sections 2.1, 4.2.1, appendix A).

Audio (batch, channels, samples) at 44.1 kHz -> STFT (Hann 2048, hop 1024, centred, zero
padded so any length works) -> |STFT| (batch, channels, 1025, frames) -> 128-band mel (Slaney
filters, ``librosa.filters.mel``) -> log(max(mel, 1e-5)) -> running standard scaler -> running
min-max scaler to [-1, 1] (clamped) -> the diffusion model's input (batch, channels, 128, frames).

The way back: undo both scalers, exp, and either the vocoder network (``MelVocoder``: mel ->
|STFT|) or the pseudo-inverse of the mel filters, then Griffin-Lim for the phase
(``griffin_lim``, the fast variant of Perraudin et al. 2013 with momentum 0.99, which the seed
cites).

Frame counts: ``padded_length(n)`` is the shortest length >= n whose centred STFT has a
multiple of 2^6 frames (the U-Net halves time six times at full size; the seed's 8,387,584
samples give 8192 frames).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from baselines.models import spectral

SAMPLE_RATE = 44100
N_FFT = 2048
HOP = 1024
N_MELS = 128
LOG_FLOOR = 1e-5
FRAME_MULTIPLE = 2**6


def padded_length(n_samples: int, multiple: int = FRAME_MULTIPLE, hop: int = HOP) -> int:
    """Shortest length >= `n_samples` whose centred STFT (1 + length // hop frames) has a
    multiple of `multiple` frames: (multiple * k - 1) * hop."""
    k = max(1, math.ceil((n_samples + hop) / (multiple * hop)))  # (multiple k - 1) hop >= n_samples
    return (multiple * k - 1) * hop


def stft(audio: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Complex STFT (..., n_fft // 2 + 1, 1 + n // hop) of real audio (..., n), Hann window,
    centred with zero padding (signals shorter than a frame are fine)."""
    return spectral.stft(audio, n_fft, hop, torch.hann_window(n_fft, dtype=audio.dtype, device=audio.device))


def istft(spec: torch.Tensor, length: int, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Inverse of `stft`: (..., freq, frames) -> (..., length)."""
    return spectral.istft(spec, n_fft, hop, torch.hann_window(n_fft, dtype=spec.real.dtype, device=spec.device), length)


def griffin_lim(magnitude: torch.Tensor, length: int, iterations: int, phase: torch.Tensor | None = None,
                momentum: float = 0.99, generator: torch.Generator | None = None) -> torch.Tensor:
    """Audio (..., length) whose STFT magnitude approaches `magnitude` (..., freq, frames).

    Fast Griffin-Lim (Perraudin, Balazs and Sondergaard 2013): project onto consistent
    spectrograms, extrapolate with `momentum`, impose the magnitude. `phase` (same shape,
    radians) is the starting phase; None draws it uniformly from `generator`. Zero
    iterations return the inverse STFT of the magnitude with the starting phase."""
    if phase is None:
        phase = 2 * math.pi * torch.rand(magnitude.shape, generator=generator, dtype=magnitude.dtype)
    angles = torch.polar(torch.ones_like(magnitude), phase.to(magnitude.dtype))
    previous = torch.zeros_like(angles)
    for _ in range(int(iterations)):
        rebuilt = stft(istft(magnitude * angles, length))
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous if momentum else rebuilt
        previous = rebuilt
        angles = accelerated / accelerated.abs().clamp_min(1e-16)
    return istft(magnitude * angles, length)


def mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) Slaney-normalised triangular filters (librosa's defaults)."""
    import librosa

    return torch.from_numpy(librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32))


class RunningScaler(nn.Module):
    """Appendix A's running scalers: ``kind="standard"`` (Algorithm 1: (x - mean) / sqrt(var + eps))
    or ``kind="minmax"`` (Algorithm 2: min..max -> [y_min, y_max], clamped). Statistics are
    scalars over the whole batch.

    Training mode: the batch's statistics scale the batch and update the running ones,
    ``m <- decay * m; running <- (1 - m) running + m batch`` (the first batch initialises
    them). Eval mode: the running statistics. The state (statistics, current momentum, whether
    initialised) is in buffers, so it is saved with the checkpoint."""

    def __init__(self, kind: str, momentum: float = 1e-3, decay: float = 0.99, eps: float = 1e-5,
                 y_min: float = -1.0, y_max: float = 1.0):
        super().__init__()
        if kind not in ("standard", "minmax"):
            raise ValueError(f"scaler kind must be standard or minmax, not {kind!r}")
        self.kind, self.decay, self.eps, self.y_min, self.y_max = kind, float(decay), float(eps), float(y_min), float(y_max)
        self.register_buffer("momentum", torch.tensor(float(momentum), dtype=torch.float64))
        self.register_buffer("stats", torch.zeros(2, dtype=torch.float64))  # (mean, var) or (min, max)
        self.register_buffer("initialised", torch.tensor(False))

    def _batch_stats(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().double()
        if self.kind == "standard":
            return torch.stack([x.mean(), x.var(unbiased=False)])
        return torch.stack([x.min(), x.max()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not bool(self.initialised):
            if not self.training:
                raise RuntimeError("running scaler used in eval mode before any training batch")
            self.stats.copy_(self._batch_stats(x))
            self.initialised.fill_(True)
        if self.training:
            batch = self._batch_stats(x)
            self.momentum.mul_(self.decay)
            self.stats.copy_((1 - self.momentum) * self.stats + self.momentum * batch)
        else:
            batch = self.stats
        a, b = (float(v) for v in batch)
        if self.kind == "standard":
            return (x - a) / math.sqrt(b + self.eps)
        y = (x - a) / max(b - a, 1e-12) * (self.y_max - self.y_min) + self.y_min
        return y.clamp(self.y_min, self.y_max)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Undo the scaling with the running statistics."""
        a, b = (float(v) for v in self.stats)
        if self.kind == "standard":
            return y * math.sqrt(b + self.eps) + a
        return (y - self.y_min) / (self.y_max - self.y_min) * (b - a) + a


class MelTransform(nn.Module):
    """Audio <-> scaled log-mel, with the two running scalers (their state in this module's buffers)."""

    def __init__(self, n_mels: int = N_MELS, momentum: float = 1e-3, decay: float = 0.99, sample_rate: int = SAMPLE_RATE):
        super().__init__()
        self.register_buffer("filters", mel_filters(sample_rate, N_FFT, n_mels), persistent=False)
        self.register_buffer("inverse_filters", torch.linalg.pinv(self.filters), persistent=False)
        self.standard = RunningScaler("standard", momentum, decay)
        self.minmax = RunningScaler("minmax", momentum, decay)

    def magnitude(self, audio: torch.Tensor) -> torch.Tensor:
        """|STFT| (batch, channels, 1025, frames) of audio (batch, channels, n)."""
        return stft(audio).abs()

    def log_mel(self, magnitude: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.einsum("mf,...ft->...mt", self.filters, magnitude).clamp_min(LOG_FLOOR))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """Scaled log-mel (batch, channels, n_mels, frames) in [-1, 1]."""
        return self.scale(self.log_mel(self.magnitude(audio)))

    def scale(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.minmax(self.standard(log_mel))

    def unscale(self, scaled: torch.Tensor) -> torch.Tensor:
        """Log-mel from the scaled one (running statistics)."""
        return self.standard.inverse(self.minmax.inverse(scaled))

    def pinv_magnitude(self, scaled: torch.Tensor) -> torch.Tensor:
        """|STFT| estimate from a scaled log-mel by the filters' pseudo-inverse (clamped at 0)."""
        mel = torch.exp(self.unscale(scaled))
        return torch.einsum("fm,...mt->...ft", self.inverse_filters, mel).clamp_min(0.0)
