"""Attentive MultiResUNet on the short-time DCT (Sgouros, Bousis & Mitianoudis 2022), as in
as in Stergioulis and Petroglou (2025): one model per target instrument, target vs accompaniment, stereo.

* Input: the STDCT (``baselines.models.stdct``) of each audio channel, laid out as an image
  ``(audio_channels, frame_length coefficients, frames)``; the network sees the compressed
  magnitude ``log1p(|C| / rms(C))`` (the DCT is real, so there is no phase to model).
* U-Net of MultiRes blocks (Ibtihaz & Rahman 2020: three chained 3x3 convolutions with
  W/6, W/3, W/2 filters, W = alpha * U, concatenated, plus a 1x1 shortcut), max-pooling 2x2
  between levels, Res paths (chains of 3x3 convs with 1x1 residual shortcuts, shorter at
  deeper levels) on the skips, and an additive attention gate (Oktay et al. 2018) at the end
  of each Res path, gated by the decoder's upsampled features.
* Output: a sigmoid mask per audio channel on the mixture's DCT coefficients; the inverse
  STDCT gives the target waveform, and the accompaniment is the mixture minus the target.
  Normalisation is GroupNorm(1) (batch-size independent, same in training and inference).

``(batch, audio_channels, time) -> (batch, 2, audio_channels, time)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from baselines.models.model_config import ModelConfig
from baselines.models.stdct import STDCT


@dataclass
class ARUNetConfig(ModelConfig):
    audio_channels: int = 2
    frame_length: int = 1024  # STDCT frame (hop = frame_length / 2)
    filters: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512])  # U per level
    alpha: float = 1.67
    max_res_path: int = 4  # Res path length at level i is min(depth - i, max_res_path)
    samplerate: int = 44100

    @classmethod
    def full(cls) -> "ARUNetConfig":
        return cls()

    @classmethod
    def demo(cls, samplerate: int = 22050) -> "ARUNetConfig":
        return cls(frame_length=256, filters=[4, 8, 16, 32], max_res_path=1, samplerate=samplerate)

    @classmethod
    def from_dict(cls, values: dict) -> "ARUNetConfig":
        config = super().from_dict(values)
        config.filters = [int(v) for v in config.filters]
        return config


def conv_norm(cin: int, cout: int, kernel: int, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, padding=kernel // 2), nn.GroupNorm(1, cout)]
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class MultiResBlock(nn.Module):
    def __init__(self, cin: int, units: int, alpha: float):
        super().__init__()
        width = alpha * units
        c1, c2, c3 = max(1, int(width / 6)), max(1, int(width / 3)), max(1, int(width / 2))
        self.out_channels = c1 + c2 + c3
        self.conv1 = conv_norm(cin, c1, 3)
        self.conv2 = conv_norm(c1, c2, 3)
        self.conv3 = conv_norm(c2, c3, 3)
        self.shortcut = conv_norm(cin, self.out_channels, 1, act=False)
        self.norm = nn.GroupNorm(1, self.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv1(x)
        b = self.conv2(a)
        c = self.conv3(b)
        return F.relu(self.norm(torch.cat([a, b, c], dim=1) + self.shortcut(x)))


class ResPath(nn.Module):
    def __init__(self, channels: int, length: int):
        super().__init__()
        self.convs = nn.ModuleList([conv_norm(channels, channels, 3, act=False) for _ in range(length)])
        self.shortcuts = nn.ModuleList([conv_norm(channels, channels, 1, act=False) for _ in range(length)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, shortcut in zip(self.convs, self.shortcuts):
            x = F.relu(conv(x) + shortcut(x))
        return x


class AttentionGate(nn.Module):
    """alpha = sigmoid(psi(relu(Wx x + Wg g))); returns x * alpha."""

    def __init__(self, skip_channels: int, gate_channels: int, inner: int):
        super().__init__()
        self.wx = nn.Conv2d(skip_channels, inner, 1)
        self.wg = nn.Conv2d(gate_channels, inner, 1)
        self.psi = nn.Conv2d(inner, 1, 1)

    def forward(self, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        return skip * torch.sigmoid(self.psi(F.relu(self.wx(skip) + self.wg(gate))))


class ARUNet(nn.Module):
    def __init__(self, cfg: ARUNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ARUNetConfig()
        self.transform = STDCT(cfg.frame_length)
        self.depth = len(cfg.filters) - 1
        if cfg.frame_length % (2**self.depth):
            raise ValueError("ARUNet frame_length must be divisible by 2**(len(filters) - 1)")
        self.encoder = nn.ModuleList()
        self.res_paths = nn.ModuleList()
        skip_channels = []
        cin = cfg.audio_channels
        for level, units in enumerate(cfg.filters):
            block = MultiResBlock(cin, units, cfg.alpha)
            self.encoder.append(block)
            cin = block.out_channels
            if level < self.depth:
                self.res_paths.append(ResPath(cin, min(self.depth - level, cfg.max_res_path)))
                skip_channels.append(cin)
        self.upsample = nn.ModuleList()
        self.gates = nn.ModuleList()
        self.decoder = nn.ModuleList()
        for level in reversed(range(self.depth)):
            skip = skip_channels[level]
            self.upsample.append(nn.ConvTranspose2d(cin, skip, 2, stride=2))
            self.gates.append(AttentionGate(skip, skip, max(1, skip // 2)))
            block = MultiResBlock(2 * skip, cfg.filters[level], cfg.alpha)
            self.decoder.append(block)
            cin = block.out_channels
        self.mask = nn.Conv2d(cin, cfg.audio_channels, 1)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        length = mixture.shape[-1]
        coefficients = self.transform(mixture).transpose(-1, -2)  # (b, ch, freq, frames)
        frames = coefficients.shape[-1]
        scale = coefficients.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-8
        x = torch.log1p(coefficients.abs() / scale)
        x = F.pad(x, (0, (-frames) % (2**self.depth))).contiguous(memory_format=torch.channels_last)  # faster on CPU
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(x)
            if level < self.depth:
                skips.append(self.res_paths[level](x))
                x = F.max_pool2d(x, 2)
        for up, gate, block in zip(self.upsample, self.gates, self.decoder):
            x = up(x)
            skip = skips.pop()
            x = block(torch.cat([gate(skip, x), x], dim=1))
        mask = torch.sigmoid(self.mask(x))[..., :frames]
        target = self.transform.inverse((mask * coefficients).transpose(-1, -2), length)
        return torch.stack([target, mixture - target], dim=1)
