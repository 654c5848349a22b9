"""The attention U-Net frequency masker of seed 000 (T050, ICASSP 2026 Cadenza CLIP entry).

* Input: the STFT (Hann window, ``n_fft``, hop ``n_fft // 4``) of each audio channel; the
  network sees the log-magnitude ``log(|X| + 1e-5)`` standardised per example (zero mean, unit
  variance over frequency and time), so its input takes negative values, as the seed insists.
* An 8-layer 2D convolutional U-Net: four 3x3 stride-2 convolutions down (LeakyReLU 0.2), a
  4-head self-attention over the bottleneck's (frequency x time) positions with a residual
  connection (Vaswani et al. 2017), and four 3x3 transposed stride-2 convolutions up, each
  joined to the encoder's features of its level by a skip connection (concatenation, then a
  1x1 convolution). The encoder blocks are ``baselines.models.arunet.conv_norm``-style
  conv + GroupNorm(1) (batch-size independent) with LeakyReLU.
* Output: a sigmoid mask in 0..1 per time-frequency bin, applied to the input's complex STFT
  (the mixture's phase is kept); the inverse STFT gives the enhanced waveform.

``forward(x)``: ``(batch, time) -> (batch, time)``; ``spectra(x)`` returns the masked and input
magnitudes ``(batch, freq, frames)`` for the loss and the plots. ``attention`` holds the last
forward's bottleneck attention weights ``(batch, positions, positions)`` (averaged over heads).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from baselines.models.model_config import ModelConfig

LOG_FLOOR = 1e-5


@dataclass
class MaskUNetConfig(ModelConfig):
    n_fft: int = 1024
    channels: list[int] = field(default_factory=lambda: [32, 64, 128, 256])  # per encoder level (4 down + 4 up = 8 conv layers)
    heads: int = 4
    slope: float = 0.2  # LeakyReLU negative slope
    samplerate: int = 44100

    @classmethod
    def full(cls) -> "MaskUNetConfig":
        return cls()

    @classmethod
    def demo(cls) -> "MaskUNetConfig":
        return cls(n_fft=1024, channels=[8, 16, 32, 32])

    @classmethod
    def from_dict(cls, values: dict) -> "MaskUNetConfig":
        config = super().from_dict(values)
        config.channels = [int(v) for v in config.channels]
        return config


def down(cin: int, cout: int, slope: float) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.GroupNorm(1, cout), nn.LeakyReLU(slope))


def up(cin: int, cout: int, slope: float) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.GroupNorm(1, cout), nn.LeakyReLU(slope))


class MaskUNet(nn.Module):
    def __init__(self, cfg: MaskUNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or MaskUNetConfig()
        if cfg.channels[-1] % cfg.heads:
            raise ValueError(f"the bottleneck width {cfg.channels[-1]} must be divisible by heads={cfg.heads}")
        self.hop = cfg.n_fft // 4
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        widths = [1, *cfg.channels]
        self.encoder = nn.ModuleList([down(widths[i], widths[i + 1], cfg.slope) for i in range(len(cfg.channels))])
        self.attention_layer = nn.MultiheadAttention(cfg.channels[-1], cfg.heads, batch_first=True)
        self.attention_norm = nn.LayerNorm(cfg.channels[-1])
        self.decoder = nn.ModuleList()
        self.merge = nn.ModuleList()
        for level in reversed(range(len(cfg.channels))):
            out = widths[level] if level else cfg.channels[0]
            self.decoder.append(up(cfg.channels[level] if level == len(cfg.channels) - 1 else widths[level + 1], out, cfg.slope))
            self.merge.append(nn.Conv2d(out + widths[level], out, 1))
        self.head = nn.Conv2d(cfg.channels[0], 1, 1)
        self.attention: torch.Tensor | None = None

    # ---- transforms

    def stft(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, self.cfg.n_fft, self.hop, window=self.window, return_complex=True)  # (b, freq, frames)

    def istft(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        return torch.istft(spec, self.cfg.n_fft, self.hop, window=self.window, length=length)

    @staticmethod
    def features(magnitude: torch.Tensor) -> torch.Tensor:
        """Standardised log-magnitude (negative values allowed); constant input gives zeros."""
        log = torch.log(magnitude + LOG_FLOOR)
        mean = log.mean(dim=(-2, -1), keepdim=True)
        std = log.std(dim=(-2, -1), keepdim=True)
        return (log - mean) / (std + 1e-3)

    # ---- network

    def mask(self, magnitude: torch.Tensor) -> torch.Tensor:
        """(b, freq, frames) magnitude -> (b, freq, frames) mask in 0..1."""
        freq, frames = magnitude.shape[-2:]
        multiple = 2 ** len(self.encoder)
        x = self.features(magnitude).unsqueeze(1)
        x = F.pad(x, (0, (-frames) % multiple, 0, (-freq) % multiple))
        skips = []
        for block in self.encoder:
            skips.append(x)
            x = block(x)
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (b, h*w, c)
        attended, weights = self.attention_layer(tokens, tokens, tokens, need_weights=True, average_attn_weights=True)
        self.attention = weights.detach()
        x = self.attention_norm(tokens + attended).transpose(1, 2).reshape(b, c, h, w)
        for block, merge in zip(self.decoder, self.merge):
            x = block(x)
            x = merge(torch.cat([x, skips.pop()], dim=1))
        return torch.sigmoid(self.head(x))[:, 0, :freq, :frames]

    def spectra(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(b, time) -> (complex STFT, mask, masked magnitude), each (b, freq, frames)."""
        spec = self.stft(x)
        mask = self.mask(spec.abs())
        return spec, mask, mask * spec.abs()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec, mask, _ = self.spectra(x)
        return self.istft(mask * spec, x.shape[-1])


# --------------------------------------------------------------------------- loss


@dataclass
class MaskLossWeights(ModelConfig):
    """The seed's three terms; weights chosen here (the seed does not state them)."""

    magnitude: float = 1.0  # frequency-weighted L1 of magnitudes
    log_magnitude: float = 0.5  # L1 of log magnitudes
    spectral_convergence: float = 1.0  # ||ref - est||_F / ||ref||_F
    speech_band: tuple[float, float] = (300.0, 4000.0)  # Hz weighted `speech_weight` in the magnitude term
    speech_weight: float = 2.0


def band_weights(n_bins: int, sample_rate: int, weights: MaskLossWeights) -> torch.Tensor:
    """(freq, 1) weights: `speech_weight` inside the speech band, 1 elsewhere, mean 1."""
    freqs = torch.linspace(0, sample_rate / 2, n_bins)
    lo, hi = weights.speech_band
    w = torch.where((freqs >= lo) & (freqs <= hi), torch.tensor(float(weights.speech_weight)), torch.tensor(1.0))
    return (w / w.mean()).unsqueeze(-1)


def mask_loss_terms(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int,
                    weights: MaskLossWeights | None = None) -> dict[str, torch.Tensor]:
    """The three terms on magnitudes (b, freq, frames) (linear, >= 0): `magnitude` (weighted
    L1), `log_magnitude` (L1 of log(|.| + 1e-5)), `spectral_convergence` (Frobenius norm of
    the difference over that of the reference, mean over the batch; 0 for identical spectra),
    and `total`, their weighted sum."""
    weights = weights or MaskLossWeights()
    w = band_weights(estimate.shape[-2], sample_rate, weights).to(estimate.device)
    magnitude = ((estimate - reference).abs() * w).mean()
    log_magnitude = (torch.log(estimate + LOG_FLOOR) - torch.log(reference + LOG_FLOOR)).abs().mean()
    diff = (reference - estimate).flatten(1).norm(dim=1)
    convergence = (diff / (reference.flatten(1).norm(dim=1) + 1e-8)).mean()
    total = weights.magnitude * magnitude + weights.log_magnitude * log_magnitude + weights.spectral_convergence * convergence
    return {"magnitude": magnitude, "log_magnitude": log_magnitude, "spectral_convergence": convergence, "total": total}
