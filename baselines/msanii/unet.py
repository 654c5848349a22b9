"""Msanii's epsilon U-Net and its mel -> |STFT| vocoder (Maina 2023, seed 004, sections 3.1-3.2).

Tokenisation: each time frame of one audio channel is a token whose features are the mel
bins, so the mel bins are the convolution channels and every convolution runs over time only
(the paper's "we process channels independently": audio channels are folded into the batch).
Shapes: input and output (batch, channels, n_mels, frames); inside (batch * channels, width,
frames).

Residual block (3.1.2): InstanceNorm -> conv k3 (time) -> + 1x1 projection of the timestep
embedding -> ConvNeXt MLP with GELU first (GELU, 1x1 d->4d, GELU, 1x1 4d->d) -> + input (1x1
projection where widths differ). Linear attention (3.1.3, Katharopoulos et al. 2020): after
the residual blocks of the levels that have it, and in the middle block. Down: conv k3 stride
2 pad 1; up: transposed conv k4 stride 2 pad 1 (3.1.4): only time is resampled.
Timestep embedding: sinusoidal (``time_dim``, log 10000 spacing) -> Linear -> GELU -> Linear.

``UNetConfig.full()`` is the paper's Table 2 (width 256, 7 levels of 2 blocks, attention in
the last two, 6 halvings); ``UNetConfig.demo()`` a small one that trains in minutes on a CPU
core. The frame count must be a multiple of 2^(levels - 1) (``transforms.padded_length``
pads to 2^6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from baselines.models.model_config import ModelConfig


@dataclass
class UNetConfig(ModelConfig):
    n_mels: int = 128
    width: int = 256
    time_dim: int = 128
    mlp_factor: int = 4
    heads: int = 8
    multipliers: list = field(default_factory=lambda: [1] * 7)
    attention: list = field(default_factory=lambda: [False] * 5 + [True] * 2)
    blocks: int = 2
    vocoder_width: int = 256

    @classmethod
    def full(cls) -> "UNetConfig":
        return cls()

    @classmethod
    def demo(cls) -> "UNetConfig":
        return cls(width=128, time_dim=64, mlp_factor=2, heads=4, multipliers=[1, 1, 1, 1],
                   attention=[False, False, False, True], blocks=1, vocoder_width=128)

    def __post_init__(self):
        self.multipliers = [int(m) for m in self.multipliers]
        self.attention = [bool(a) for a in self.attention]
        if len(self.multipliers) != len(self.attention) or not self.multipliers:
            raise ValueError(f"multipliers {self.multipliers} and attention {self.attention} need one entry per level")

    @property
    def frame_multiple(self) -> int:
        return 2 ** (len(self.multipliers) - 1)


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features (batch, dim) of integer timesteps (batch,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / max(half - 1, 1))
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class ResBlock(nn.Module):
    def __init__(self, d_in: int, d_out: int, time_dim: int | None, mlp_factor: int):
        super().__init__()
        self.norm = nn.InstanceNorm1d(d_in, affine=True)
        self.conv = nn.Conv1d(d_in, d_out, 3, padding=1)
        self.time = nn.Linear(time_dim, d_out) if time_dim else None
        self.mlp = nn.Sequential(nn.GELU(), nn.Conv1d(d_out, mlp_factor * d_out, 1), nn.GELU(),
                                 nn.Conv1d(mlp_factor * d_out, d_out, 1))
        self.skip = nn.Conv1d(d_in, d_out, 1) if d_in != d_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(self.norm(x))
        if self.time is not None:
            h = h + self.time(temb)[:, :, None]
        return self.mlp(h) + self.skip(x)


class LinearAttention(nn.Module):
    """Linear attention over time with a residual: softmax over features for queries, over time for keys."""

    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.InstanceNorm1d(d, affine=True)
        self.qkv = nn.Conv1d(d, 3 * d, 1, bias=False)
        self.out = nn.Conv1d(d, d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, t = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, d // self.heads, t).unbind(1)
        q = q.softmax(dim=2) / math.sqrt(d // self.heads)
        k = k.softmax(dim=3)
        context = torch.einsum("bhdt,bhet->bhde", k, v)
        out = torch.einsum("bhde,bhdt->bhet", context, q).reshape(b, d, t)
        return x + self.out(out)


class Level(nn.Module):
    def __init__(self, d_in: int, d: int, cfg: UNetConfig, attention: bool, blocks: int):
        super().__init__()
        self.blocks = nn.ModuleList(ResBlock(d_in if i == 0 else d, d, cfg.time_dim, cfg.mlp_factor) for i in range(blocks))
        self.attention = nn.ModuleList(LinearAttention(d, cfg.heads) if attention else nn.Identity() for _ in range(blocks))


class MsaniiUNet(nn.Module):
    """epsilon(x_t, t): (batch, channels, n_mels, frames), (batch,) int -> same shape as x_t."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.width * m for m in cfg.multipliers]
        for w in widths:
            if w % cfg.heads:
                raise ValueError(f"width {w} is not a multiple of heads {cfg.heads}")
        self.time_mlp = nn.Sequential(nn.Linear(cfg.time_dim, 4 * cfg.time_dim), nn.GELU(), nn.Linear(4 * cfg.time_dim, cfg.time_dim))
        self.inp = nn.Conv1d(cfg.n_mels, widths[0], 1)
        self.down_levels = nn.ModuleList(Level(w, w, cfg, a, cfg.blocks) for w, a in zip(widths, cfg.attention))
        self.downs = nn.ModuleList(nn.Conv1d(widths[i], widths[i + 1], 3, stride=2, padding=1) for i in range(len(widths) - 1))
        self.mid = Level(widths[-1], widths[-1], cfg, True, 2)
        self.up_levels = nn.ModuleList(Level(2 * w, w, cfg, a, cfg.blocks) for w, a in zip(widths, cfg.attention))
        self.ups = nn.ModuleList(nn.ConvTranspose1d(widths[i + 1], widths[i], 4, stride=2, padding=1) for i in range(len(widths) - 1))
        self.out = nn.Conv1d(widths[0], cfg.n_mels, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, c, f, frames = x.shape
        if frames % self.cfg.frame_multiple:
            raise ValueError(f"{frames} frames: the U-Net needs a multiple of {self.cfg.frame_multiple}")
        temb = self.time_mlp(timestep_features(t, self.cfg.time_dim)).repeat_interleave(c, dim=0)
        h = self.inp(x.reshape(b * c, f, frames))
        skips = []
        for i, level in enumerate(self.down_levels):
            for block, attention in zip(level.blocks, level.attention):
                h = attention(block(h, temb))
                skips.append(h)
            if i < len(self.downs):
                h = self.downs[i](h)
        for block, attention in zip(self.mid.blocks, self.mid.attention):
            h = attention(block(h, temb))
        for i in reversed(range(len(self.up_levels))):
            level = self.up_levels[i]
            for block, attention in zip(level.blocks, level.attention):
                h = attention(block(torch.cat([h, skips.pop()], dim=1), temb))
            if i > 0:
                h = self.ups[i - 1](h)
        return self.out(h).reshape(b, c, f, frames)


class MelVocoder(nn.Module):
    """Scaled log-mel (batch, channels, n_mels, frames) -> |STFT| (batch, channels, n_freq, frames):
    input projection, one residual block without timestep embedding, output projection, exp
    (section 3.2). Trained with spectral convergence + log-magnitude losses
    (``baselines.models.losses.spectral_convergence_log_magnitude``)."""

    def __init__(self, n_mels: int, n_freq: int, width: int, mlp_factor: int = 4):
        super().__init__()
        self.inp = nn.Conv1d(n_mels, width, 1)
        self.block = ResBlock(width, width, None, mlp_factor)
        self.out = nn.Conv1d(width, n_freq, 1)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        b, c, f, frames = mel.shape
        log_mag = self.out(self.block(self.inp(mel.reshape(b * c, f, frames))))
        return torch.exp(log_mag.clamp(max=20.0)).reshape(b, c, -1, frames)
