"""Wave-U-Net (Stoller, Ewert & Dixon 2018), stereo, target vs accompaniment.

Waveform in, waveform out. ``levels`` downsampling blocks (1-D conv + LeakyReLU, then
decimation by 2), a bottleneck conv, and as many upsampling blocks (linear interpolation by 2,
concatenation with the skip features of the same level, 1-D conv + LeakyReLU). The last layer
sees the input mixture too (as in the paper) and predicts the target; the accompaniment is the
mixture minus the target (the paper's "difference output"), so the two always sum to the
mixture. Unlike the paper we use "same" padding instead of valid convolutions with a context
crop, and pad the input to a multiple of ``2**levels`` (cropped again at the end).

``(batch, audio_channels, time) -> (batch, 2, audio_channels, time)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.models.model_config import ModelConfig


@dataclass
class WaveUNetConfig(ModelConfig):
    audio_channels: int = 2
    levels: int = 12  # downsampling steps (time resolution / 2**levels at the bottleneck)
    base_channels: int = 24  # channels of the first level; level i has base * (i + 1)
    down_kernel: int = 15
    up_kernel: int = 5
    samplerate: int = 44100

    @classmethod
    def full(cls) -> "WaveUNetConfig":
        """The paper's configuration (12 levels, 24 extra filters per level)."""
        return cls()

    @classmethod
    def demo(cls, samplerate: int = 22050) -> "WaveUNetConfig":
        return cls(levels=6, base_channels=12, down_kernel=15, up_kernel=5, samplerate=samplerate)


class DownBlock(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = F.leaky_relu(self.conv(x), 0.2)
        return skip[..., ::2], skip  # decimation keeps every other sample, as in the paper


class UpBlock(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int, kernel: int):
        super().__init__()
        self.conv = nn.Conv1d(cin + cskip, cout, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-1], mode="linear", align_corners=True)
        return F.leaky_relu(self.conv(torch.cat([x, skip], dim=1)), 0.2)


class WaveUNet(nn.Module):
    def __init__(self, cfg: WaveUNetConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or WaveUNetConfig()
        widths = [cfg.base_channels * (i + 1) for i in range(cfg.levels + 1)]
        self.down = nn.ModuleList()
        cin = cfg.audio_channels
        for i in range(cfg.levels):
            self.down.append(DownBlock(cin, widths[i], cfg.down_kernel))
            cin = widths[i]
        self.bottleneck = nn.Conv1d(cin, widths[-1], cfg.down_kernel, padding=cfg.down_kernel // 2)
        self.up = nn.ModuleList()
        cin = widths[-1]
        for i in reversed(range(cfg.levels)):
            self.up.append(UpBlock(cin, widths[i], widths[i], cfg.up_kernel))
            cin = widths[i]
        self.output = nn.Conv1d(cin + cfg.audio_channels, cfg.audio_channels, 1)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        length = mixture.shape[-1]
        multiple = 2**self.cfg.levels
        padded = F.pad(mixture, (0, (-length) % multiple))
        x, skips = padded, []
        for block in self.down:
            x, skip = block(x)
            skips.append(skip)
        x = F.leaky_relu(self.bottleneck(x), 0.2)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip)
        target = self.output(torch.cat([x, padded], dim=1))[..., :length]
        return torch.stack([target, mixture - target], dim=1)
