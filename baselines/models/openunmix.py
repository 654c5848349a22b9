"""An Open-Unmix-style BiLSTM spectrogram masker for the four MUSDB stems (VDBO).

After Stöter, Uhlich, Liutkus & Mitsufuji (2019), "Open-Unmix - A Reference Implementation for
Music Source Separation", JOSS 4(41) 1667 (reference code: sigsep/open-unmix-pytorch,
``openunmix/model.py`` class ``OpenUnmix``). Our own implementation; what it keeps:

* Input: the magnitude STFT (Hann window ``n_fft``, hop ``hop``, ``torch.stft``) of each
  channel, cropped to the bins below ``bandwidth`` Hz, shifted and scaled per bin by
  ``input_mean`` / ``input_scale`` (trainable, initialised from the training data's mean and
  standard deviation, as open-unmix's ``get_statistics``; ``set_input_statistics``).
* Encoder: ``fc1`` (channels x bins -> hidden, no bias) + BatchNorm + tanh, per frame.
* A 3-layer LSTM over time (bidirectional, hidden/2 per direction; dropout 0.4 between
  layers), its output concatenated with its input (the skip connection).
* Decoder: ``fc2`` (2 hidden -> hidden) + BatchNorm + ReLU, ``fc3`` (hidden -> channels x all
  bins) + BatchNorm, then the output scaling ``x * output_scale + output_mean`` per bin.
* Output: ``ReLU(decoder)`` is a mask; the estimate is mask x mixture magnitude. Waveforms
  come from the masked complex STFT of the mixture (the mixture's phase) by ``torch.istft``.

One joint network with four output masks (a shared encoder and BiLSTM, one decoder per
target, as in X-UMX, Sawata et al. 2021, without its bridging losses) rather than one network
per target: the encoder and the LSTM, most of the compute, run once for the four stems, so
training costs about a quarter of four separate models on a CPU, and the shared trunk sees
every target's gradient. Each target keeps its own ``fc2``/``fc3`` decoder and output scaling.

Shapes: ``forward(x)``: ``(batch, channels, time) -> (batch, targets, channels, time)`` (the
layout of ``baselines.inference.separate_chunked``); ``spectra(x)`` returns the mixture's
complex STFT ``(batch, channels, bins, frames)`` and the estimated magnitudes
``(batch, targets, channels, bins, frames)``; ``masks(magnitude)`` the ReLU masks of the
same shape. Signals shorter than ``n_fft`` or not a whole number of hops are zero-padded on
the right and the output cut back to the input's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from baselines.models import spectral
from baselines.models.model_config import ModelConfig

VDBO_TARGETS = ("vocals", "drums", "bass", "other")


@dataclass
class OpenUnmixConfig(ModelConfig):
    n_fft: int = 4096
    hop: int = 1024
    hidden_size: int = 512
    nb_layers: int = 3
    nb_channels: int = 2
    bandwidth: float = 16000.0  # Hz; the encoder sees the bins up to here (open-unmix's max_bin)
    dropout: float = 0.4  # between LSTM layers
    unidirectional: bool = False  # causal LSTM (hidden units all in one direction)
    targets: list[str] = field(default_factory=lambda: list(VDBO_TARGETS))
    samplerate: int = 44100

    @classmethod
    def full(cls) -> "OpenUnmixConfig":
        """The paper's size (open-unmix UMX/UMX-HQ: n_fft 4096, hop 1024, hidden 512, 3 layers, 16 kHz)."""
        return cls()

    @classmethod
    def demo(cls, samplerate: int = 22050) -> "OpenUnmixConfig":
        """A small model for the demo data at 22.05 kHz: the full size's time and frequency
        resolution (n_fft 2048, hop 512 at half the rate: 93 ms windows, 23 ms hops), every bin
        up to Nyquist, hidden 128."""
        return cls(n_fft=2048, hop=512, hidden_size=128, nb_layers=3, dropout=0.1, samplerate=samplerate)

    @classmethod
    def from_dict(cls, values: dict) -> "OpenUnmixConfig":
        config = super().from_dict(values)
        config.targets = [str(t) for t in config.targets]
        return config

    @property
    def nb_output_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def max_bin(self) -> int:
        """Bins up to `bandwidth` (open-unmix's ``bandwidth_to_max_bin``), at most all of them."""
        freqs = torch.linspace(0, self.samplerate / 2, self.nb_output_bins)
        return int(min(self.nb_output_bins, int((freqs <= self.bandwidth).sum().item())))


class TargetDecoder(nn.Module):
    """fc2 + BatchNorm + ReLU, fc3 + BatchNorm, per-bin output scaling, for one target."""

    def __init__(self, cfg: OpenUnmixConfig):
        super().__init__()
        out = cfg.nb_output_bins * cfg.nb_channels
        self.fc2 = nn.Linear(2 * cfg.hidden_size, cfg.hidden_size, bias=False)
        self.bn2 = nn.BatchNorm1d(cfg.hidden_size)
        self.fc3 = nn.Linear(cfg.hidden_size, out, bias=False)
        self.bn3 = nn.BatchNorm1d(out)
        self.output_scale = nn.Parameter(torch.ones(cfg.nb_output_bins))
        self.output_mean = nn.Parameter(torch.ones(cfg.nb_output_bins))

    def forward(self, x: torch.Tensor, channels: int) -> torch.Tensor:
        """(n, 2 hidden) -> (n, channels, bins) pre-ReLU mask."""
        x = F.relu(self.bn2(self.fc2(x)))
        x = self.bn3(self.fc3(x)).reshape(x.shape[0], channels, -1)
        return x * self.output_scale + self.output_mean


class OpenUnmix(nn.Module):
    """``(batch, channels, time) -> (batch, targets, channels, time)``; see the module docstring."""

    def __init__(self, cfg: OpenUnmixConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or OpenUnmixConfig()
        if cfg.hop <= 0 or cfg.n_fft < 2 * cfg.hop:
            raise ValueError(f"OpenUnmix: hop {cfg.hop} must be within 1..n_fft/2 (n_fft {cfg.n_fft})")
        if not cfg.targets:
            raise ValueError("OpenUnmix: at least one target")
        if not cfg.unidirectional and cfg.hidden_size % 2:
            raise ValueError(f"OpenUnmix: a bidirectional LSTM needs an even hidden_size, not {cfg.hidden_size}")
        self.nb_bins = cfg.max_bin
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.input_mean = nn.Parameter(torch.zeros(self.nb_bins))  # added (open-unmix stores -mean)
        self.input_scale = nn.Parameter(torch.ones(self.nb_bins))  # multiplied (1 / std)
        self.fc1 = nn.Linear(self.nb_bins * cfg.nb_channels, cfg.hidden_size, bias=False)
        self.bn1 = nn.BatchNorm1d(cfg.hidden_size)
        self.lstm = nn.LSTM(
            input_size=cfg.hidden_size,
            hidden_size=cfg.hidden_size if cfg.unidirectional else cfg.hidden_size // 2,
            num_layers=cfg.nb_layers,
            bidirectional=not cfg.unidirectional,
            batch_first=False,
            dropout=cfg.dropout if cfg.nb_layers > 1 else 0.0,
        )
        self.decoders = nn.ModuleList([TargetDecoder(cfg) for _ in cfg.targets])

    # ---- transforms

    def padded_length(self, length: int) -> int:
        """The length the STFT sees: at least n_fft, a whole number of hops."""
        length = max(int(length), self.cfg.n_fft)
        return -(-length // self.cfg.hop) * self.cfg.hop

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, time) -> complex (batch, channels, bins, frames); time already padded."""
        return spectral.stft(x, self.cfg.n_fft, self.cfg.hop, self.window)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """complex (..., bins, frames) -> (..., length)."""
        return spectral.istft(spec, self.cfg.n_fft, self.cfg.hop, self.window, length)

    def set_input_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Initialise the input scaling from per-bin magnitude statistics ``(bins,)`` (all bins or
        the first ``nb_bins``); a std below 1e-4 of the largest is raised to it (as open-unmix)."""
        mean = torch.as_tensor(mean, dtype=torch.float32).flatten()[: self.nb_bins]
        std = torch.as_tensor(std, dtype=torch.float32).flatten()[: self.nb_bins]
        if mean.numel() != self.nb_bins or std.numel() != self.nb_bins:
            raise ValueError(f"OpenUnmix: statistics need {self.nb_bins} bins, got {mean.numel()} and {std.numel()}")
        std = torch.maximum(std, 1e-4 * std.max().clamp_min(1e-12))
        with torch.no_grad():
            self.input_mean.copy_(-mean)
            self.input_scale.copy_(1.0 / std)

    # ---- network

    def masks(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(batch, channels, bins, frames) mixture magnitude -> (batch, targets, channels, bins, frames) masks >= 0."""
        b, c, bins, frames = magnitude.shape
        if c != self.cfg.nb_channels or bins != self.cfg.nb_output_bins:
            raise ValueError(f"OpenUnmix: expected {self.cfg.nb_channels} channels x {self.cfg.nb_output_bins} bins, got {c} x {bins}")
        x = magnitude.permute(3, 0, 1, 2)[..., : self.nb_bins]  # (frames, batch, channels, bins)
        x = (x + self.input_mean) * self.input_scale
        x = self.bn1(self.fc1(x.reshape(frames * b, c * self.nb_bins)))
        x = torch.tanh(x).reshape(frames, b, self.cfg.hidden_size)
        x = torch.cat([x, self.lstm(x)[0]], dim=-1).reshape(frames * b, 2 * self.cfg.hidden_size)
        out = torch.stack([decoder(x, c) for decoder in self.decoders])  # (targets, frames*batch, channels, bins)
        out = F.relu(out).reshape(len(self.decoders), frames, b, c, bins)
        return out.permute(2, 0, 3, 4, 1)

    def spectra(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, channels, time) -> (mixture STFT (b, c, bins, frames), estimated magnitudes (b, targets, c, bins, frames)).
        `time` is padded as ``padded_length`` says."""
        x = F.pad(x, (0, self.padded_length(x.shape[-1]) - x.shape[-1]))
        spec = self.stft(x)
        magnitude = spec.abs()
        return spec, self.masks(magnitude) * magnitude.unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        x = F.pad(x, (0, self.padded_length(length) - length))
        spec = self.stft(x)
        masks = self.masks(spec.abs())
        return self.istft(masks * spec.unsqueeze(1), x.shape[-1])[..., :length]


def magnitude_loss(model: OpenUnmix, mixture: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Open-unmix's training loss: the mean squared error between the estimated and the
    reference magnitude spectrograms, averaged over the targets. `mixture` (b, c, t),
    `references` (b, targets, c, t) in the model's target order."""
    _, estimate = model.spectra(mixture)
    length = model.padded_length(mixture.shape[-1])
    refs = F.pad(references, (0, length - references.shape[-1]))
    b, k, c, _ = refs.shape
    with torch.no_grad():
        target = model.stft(refs.reshape(b * k, c, length)).abs().reshape(estimate.shape)
    return F.mse_loss(estimate, target)
