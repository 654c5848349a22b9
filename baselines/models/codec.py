"""A small neural audio codec: a convolutional encoder, residual vector quantisation and a
mirrored decoder, after EnCodec (Défossez et al. 2022, arXiv:2210.13438, section 3.1; seed
001, section 1.7: "Conv1d with 32 channels, kernel 7, then 4 blocks of a residual unit and a
strided conv of kernel 2 x stride, strides [8, 5, 4, 2] [here listed from the input], channels
doubling, a 2-layer LSTM, a final Conv1d of kernel 7 to 128 channels, ELU, mirrored decoder").

Mono: one audio channel in, one out (a stereo signal is coded channel by channel, the
channel policy the ``codec`` system records). Encoder: ``Conv1d(1, C, 7)``, then per stride
s_i a residual unit (ELU, ``Conv1d(c, c/2, 3)``, ELU, ``Conv1d(c/2, c, 1)``, + skip), ELU and
``Down(c, 2c, s_i)``; an optional LSTM over frames with a skip (``lstm_layers``); ELU and
``Conv1d(., dim, 7)``. Decoder: the mirror image with ``Up``. No weight normalisation (a
small model trained for minutes gains nothing from it), no causal padding.

``CodecConfig.full()`` is EnCodec 24 kHz at 24 kbps (75 frames/s, 32 codebooks of 1024,
dimension 128); ``demo()`` a model of about 0.2 M parameters at 16 kHz (strides 2, 4, 5:
400 frames/s, 8 codebooks of 256) that trains in a minute on a CPU core.

Token hooks: ``encode(audio, n_q) -> codes``, ``decode(codes) -> audio``; ``forward`` is the
training pass (reconstruction, codes, commitment loss). Shapes: audio ``(batch, 1,
samples)``, any length (padded to a multiple of the hop inside, cropped back); codes
``(batch, n_q, frames)`` with ``frames = ceil(samples / hop)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from baselines.models.model_config import ModelConfig
from baselines.models.rvq import ResidualVectorQuantizer
from baselines.models.waveconv import Down, Up, pad_to_multiple


@dataclass
class CodecConfig(ModelConfig):
    sample_rate: int = 24000
    channels: int = 32
    strides: list = field(default_factory=lambda: [2, 4, 5, 8])
    dim: int = 128
    n_q: int = 32
    codebook_size: int = 1024
    lstm_layers: int = 2
    ema_decay: float = 0.99
    quantizer_dropout: float = 0.5  # probability of a random number of codebooks in a training batch

    @classmethod
    def full(cls) -> "CodecConfig":
        return cls()

    @classmethod
    def demo(cls) -> "CodecConfig":
        return cls(sample_rate=16000, channels=16, strides=[2, 4, 5], dim=32, n_q=8, codebook_size=256, lstm_layers=0)

    def __post_init__(self):
        self.strides = [int(s) for s in self.strides]
        if not self.strides or min(self.strides) < 1:
            raise ValueError(f"strides must be a non-empty list of positive integers, not {self.strides}")

    @property
    def hop(self) -> int:
        return math.prod(self.strides)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop

    def bitrate(self, n_q: int | None = None) -> float:
        """Bits per second with the first `n_q` codebooks (all when None)."""
        return (self.n_q if n_q is None else n_q) * math.log2(self.codebook_size) * self.frame_rate


class ResidualUnit(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(nn.ELU(), nn.Conv1d(channels, max(1, channels // 2), 3, padding=1), nn.ELU(),
                                   nn.Conv1d(max(1, channels // 2), channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class FrameLSTM(nn.Module):
    """An LSTM over frames with a skip connection (EnCodec's SLSTM)."""

    def __init__(self, channels: int, layers: int):
        super().__init__()
        self.lstm = nn.LSTM(channels, channels, layers, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x.transpose(1, 2))
        return x + y.transpose(1, 2)


class Codec(nn.Module):
    def __init__(self, cfg: CodecConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        enc: list[nn.Module] = [nn.Conv1d(1, c, 7, padding=3)]
        for s in cfg.strides:
            enc += [ResidualUnit(c), nn.ELU(), Down(c, 2 * c, s)]
            c *= 2
        if cfg.lstm_layers:
            enc.append(FrameLSTM(c, cfg.lstm_layers))
        enc += [nn.ELU(), nn.Conv1d(c, cfg.dim, 7, padding=3)]
        self.encoder = nn.Sequential(*enc)
        self.quantizer = ResidualVectorQuantizer(cfg.dim, cfg.n_q, cfg.codebook_size, cfg.ema_decay, cfg.quantizer_dropout)
        dec: list[nn.Module] = [nn.Conv1d(cfg.dim, c, 7, padding=3)]
        if cfg.lstm_layers:
            dec.append(FrameLSTM(c, cfg.lstm_layers))
        for s in reversed(cfg.strides):
            dec += [nn.ELU(), Up(c, c // 2, s), ResidualUnit(c // 2)]
            c //= 2
        dec += [nn.ELU(), nn.Conv1d(c, 1, 7, padding=3)]
        self.decoder = nn.Sequential(*dec)

    def _check(self, audio: torch.Tensor) -> None:
        if audio.ndim != 3 or audio.shape[1] != 1:
            raise ValueError(f"the codec takes mono audio (batch, 1, samples), not {tuple(audio.shape)}")

    def forward(self, audio: torch.Tensor, n_q: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction (batch, 1, samples), codes (batch, n, frames), commitment loss)."""
        self._check(audio)
        x, length = pad_to_multiple(audio, self.cfg.hop)
        quantised, codes, commitment = self.quantizer(self.encoder(x), n_q)
        return self.decoder(quantised)[..., :length], codes, commitment

    @torch.no_grad()
    def encode(self, audio: torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Codes (batch, n_q, frames) of audio (batch, 1, samples), the first `n_q` codebooks."""
        self._check(audio)
        x, _ = pad_to_multiple(audio, self.cfg.hop)
        return self.quantizer.encode(self.encoder(x), n_q)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Audio (batch, 1, frames * hop) of codes (batch, n, frames), cropped to `length`."""
        audio = self.decoder(self.quantizer.decode(codes))
        return audio if length is None else audio[..., :length]
