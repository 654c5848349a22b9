"""The CNN-BiLSTM magnitude-mask network of seed 002 (Tsavalias 2024, BSc thesis "Hybrid CNN-LSTM
Deep Learning Techniques for Vocal Separation in Music", University of Macedonia; summary in
shared/notes/seed002.md), as a single-target (vocals) separator.

What the thesis gives, and what we chose where it is vague or contradicts itself:

* STFT: n_fft 2048, hop 512 (Listings 4.2/4.4), librosa's defaults for the rest: Hann window of
  n_fft samples, centred frames (zero padding here, librosa's old default), 44.1 kHz; 1025 bins.
* Stereo: the listing's LSTM input (1025 x 2) implies two channels; we take stereo (C = 2) and
  keep the channels as the convolution's input planes.
* Normalisation: per-example max-abs (Listing 4.3, ``S / max|S|``). The thesis keeps no scale
  and normalises mixture and target separately (the mask target is then ill-defined). Here the
  scale is the mixture spectrogram's max magnitude, kept: the network sees ``|X| / s``, the loss
  compares ``mask |X| / s`` with ``|V| / s`` (one scale for both), and the estimate is
  ``mask X`` at the mixture's own level.
* "CNN" front end: claimed (§4.2.2) but never specified, and absent from Listing 4.5. Ours:
  ``conv_layers`` x [Conv2d k x k over (frequency, time), stride ``freq_stride`` along
  frequency, BatchNorm, ReLU] on ``log(|X| / s + log_floor)`` (the log is our choice: raw
  max-abs magnitudes crowd near zero, the thesis' own Fig. 4.1), then per frame a linear
  projection to ``bottleneck`` units (ReLU, dropout). BatchNorm and dropout are the ones §4.2.4
  claims and the listing lacks.
* BiLSTM: ``hidden_size`` 128 per direction, ``num_layers`` 2, as Listing 4.5 (the prose of
  §4.3.2 says one layer was best; the Optuna space has 1..3). Dropout 0.3 (Table 4.1) between
  LSTM layers and after the LSTM. The listing's ``x.reshape(B, T, -1)`` on a (B, C, F, T)
  tensor scrambles time and frequency; here the axes are permuted so each LSTM step is one frame.
* Mask: the listing's linear head has no output activation and its mask is never applied; ours
  ends in a sigmoid (a bounded magnitude mask, 0..1 per channel and bin) applied to the
  mixture's complex STFT, i.e. the mixture's phase (§4.2.3 and Fig. 4.3 say the mask is
  "applied to the input spectrogram"). The accompaniment is the mixture minus the vocals.

Shapes: ``net`` (:class:`MaskNet`, the part exported to ONNX) maps a normalised magnitude
``(batch, channels, bins, frames)`` to a mask of the same shape; ``spectrum`` maps a waveform
``(batch, channels, time)`` to its complex STFT ``(batch, channels, bins, frames)``;
``forward`` maps ``(batch, channels, time)`` to ``(batch, 2, channels, time)`` (vocals,
accompaniment), the layout of ``baselines.inference.separate_chunked``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.models import spectral
from baselines.models.model_config import ModelConfig

SOURCES = ("vocals", "accompaniment")


@dataclass
class BiLSTMMaskConfig(ModelConfig):
    n_fft: int = 2048
    hop: int = 512
    samplerate: int = 44100
    nb_channels: int = 2
    conv_channels: int = 16
    conv_layers: int = 2
    conv_kernel: int = 3
    freq_stride: int = 2  # per conv layer, along frequency (time keeps every frame)
    bottleneck: int = 256
    hidden_size: int = 128  # per direction (Listing 4.5)
    num_layers: int = 2  # Listing 4.5
    dropout: float = 0.3  # Table 4.1
    log_floor: float = 1e-4  # relative to the example's peak magnitude (-80 dB)

    @classmethod
    def full(cls) -> "BiLSTMMaskConfig":
        """The thesis' sizes where it gives them (hidden 128, two BiLSTM layers, dropout 0.3)."""
        return cls()

    @classmethod
    def demo(cls) -> "BiLSTMMaskConfig":
        """A small model that trains in about two minutes on two CPU cores (same STFT and rate)."""
        return cls(conv_channels=8, bottleneck=64, hidden_size=64, num_layers=2)

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def check(self) -> None:
        if self.hop <= 0 or self.n_fft < 2 * self.hop:
            raise ValueError(f"BiLSTMMask: hop {self.hop} must be within 1..n_fft/2 (n_fft {self.n_fft})")
        for name in ("conv_channels", "conv_layers", "conv_kernel", "freq_stride", "bottleneck", "hidden_size",
                     "num_layers", "nb_channels"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"BiLSTMMask: {name} must be >= 1, not {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"BiLSTMMask: dropout must be in [0, 1), not {self.dropout}")


class MaskNet(nn.Module):
    """Normalised magnitude ``(batch, channels, bins, frames)`` (values in [0, 1]) -> sigmoid
    mask of the same shape. Contains no STFT, so it exports to ONNX opset 12."""

    def __init__(self, cfg: BiLSTMMaskConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        planes, bins = cfg.nb_channels, cfg.bins
        pad = cfg.conv_kernel // 2
        for _ in range(cfg.conv_layers):
            layers += [nn.Conv2d(planes, cfg.conv_channels, cfg.conv_kernel, stride=(cfg.freq_stride, 1), padding=pad),
                       nn.BatchNorm2d(cfg.conv_channels), nn.ReLU()]
            planes = cfg.conv_channels
            bins = (bins + 2 * pad - cfg.conv_kernel) // cfg.freq_stride + 1
        self.conv = nn.Sequential(*layers)
        self.features = planes * bins
        self.project = nn.Linear(self.features, cfg.bottleneck)
        self.lstm = nn.LSTM(cfg.bottleneck, cfg.hidden_size, num_layers=cfg.num_layers, batch_first=True,
                            bidirectional=True, dropout=cfg.dropout if cfg.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * cfg.hidden_size, cfg.nb_channels * cfg.bins)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        b, c, f, t = magnitude.shape
        x = self.conv(torch.log(magnitude + self.cfg.log_floor))  # (b, planes, f', t)
        x = x.permute(0, 3, 1, 2).reshape(b, t, self.features)  # one LSTM step per frame
        x = self.dropout(F.relu(self.project(x)))
        x = self.dropout(self.lstm(x)[0])
        mask = torch.sigmoid(self.head(x)).reshape(b, t, c, f)
        return mask.permute(0, 2, 3, 1)


class BiLSTMMask(nn.Module):
    """Waveform in, (vocals, accompaniment) out; see the module docstring."""

    def __init__(self, cfg: BiLSTMMaskConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or BiLSTMMaskConfig()
        cfg.check()
        self.register_buffer("window", torch.hann_window(cfg.n_fft), persistent=False)
        self.net = MaskNet(cfg)

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, time) -> complex (batch, channels, bins, frames); centred Hann frames."""
        return spectral.stft(x, self.cfg.n_fft, self.cfg.hop, self.window)

    def waveform(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """complex (..., bins, frames) -> (..., length), the inverse of ``spectrum``."""
        return spectral.istft(spec, self.cfg.n_fft, self.cfg.hop, self.window, length)

    @staticmethod
    def normalise(magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-example max-abs normalisation: ``(magnitude / s, s)`` with ``s`` (batch, 1, 1, 1)
        the example's peak magnitude (1 for a silent example)."""
        scale = magnitude.amax(dim=(1, 2, 3), keepdim=True)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        return magnitude / scale, scale

    def mask(self, spec: torch.Tensor) -> torch.Tensor:
        """The vocal mask (batch, channels, bins, frames) of a complex mixture STFT."""
        normalised, _ = self.normalise(spec.abs())
        return self.net(normalised)

    def padded_length(self, length: int) -> int:
        """At least n_fft samples (shorter inputs are zero-padded on the right)."""
        return max(int(length), self.cfg.n_fft)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        x = F.pad(x, (0, self.padded_length(length) - length))
        spec = self.spectrum(x)
        vocals = self.waveform(self.mask(spec) * spec, x.shape[-1])
        return torch.stack([vocals, x - vocals], dim=1)[..., :length]


def spectrogram_mse(model: BiLSTMMask, mixture: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """The thesis' loss (MSE on spectrograms, §2.7.1): mean squared error between the masked
    mixture magnitude and the vocal magnitude, both divided by the mixture's peak magnitude.
    `mixture` (b, c, t); `references` (b, k, c, t) with the vocals first (the sampler's target)."""
    length = model.padded_length(mixture.shape[-1])
    mixture = F.pad(mixture, (0, length - mixture.shape[-1]))
    vocals = F.pad(references[:, 0], (0, length - references.shape[-1]))
    spec = model.spectrum(mixture)
    normalised, scale = model.normalise(spec.abs())
    with torch.no_grad():
        target = model.spectrum(vocals).abs() / scale
    return F.mse_loss(model.net(normalised) * normalised, target)
