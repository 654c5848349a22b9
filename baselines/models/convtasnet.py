"""Stereo Conv-TasNet (Luo & Mesgarani 2019), as the CAD2 task-2 baseline uses it.

One model per target instrument separates a stereo mixture into two stereo sources,
[target, accompaniment]: ``(batch, 2, time) -> (batch, 2, 2, time)``.

Our own implementation, with the module tree (and so the parameter names) of the challenge's
``ConvTasNetStereo`` so that the official Hugging Face checkpoints
(``cadenzachallenge/ConvTasNet_<Instrument>_<Causal|NonCausal>``) load with ``strict=True``:

    encoder.conv1d_U                      Conv1d(audio_channels -> N, kernel L, stride L/2)
    separator.network.0                   channel-wise layer norm over N
    separator.network.1                   1x1 bottleneck N -> B
    separator.network.2.<r>.<x>.net       R repeats of X temporal blocks (dilation 2**x):
        .0 1x1 B -> H, .1 PReLU, .2 norm, .3.net depthwise (+ chomp if causal), PReLU, norm, 1x1 H -> B
    separator.network.3                   1x1 B -> C*N mask logits
    decoder.basis_signals                 Linear(N -> audio_channels * L), overlap-add at L/2
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from baselines.models.model_config import ModelConfig

EPS = 1e-8


@dataclass
class ConvTasNetConfig(ModelConfig):
    """Hyper-parameters, named as in the official config (and its config.json)."""

    N: int = 256  # encoder filters
    L: int = 20  # encoder filter length (samples); stride L/2
    B: int = 256  # bottleneck channels
    H: int = 512  # channels inside the temporal blocks
    P: int = 3  # depthwise kernel size
    X: int = 10  # blocks per repeat (dilations 1..2**(X-1))
    R: int = 4  # repeats
    C: int = 2  # sources: target, accompaniment
    audio_channels: int = 2
    samplerate: int = 44100
    norm_type: str = "gLN"  # gLN, cLN (causal), BN, id
    causal: bool = False
    mask_nonlinear: str = "relu"

    @classmethod
    def official(cls, causal: bool = False) -> "ConvTasNetConfig":
        """recipes/cad2/task2/ConvTasNet/local/conf.yml (cLN when causal)."""
        return cls(causal=causal, norm_type="cLN" if causal else "gLN")

    @classmethod
    def demo(cls, causal: bool = False, samplerate: int = 22050) -> "ConvTasNetConfig":
        """A ~0.2M-parameter model (L=64 at 22.05 kHz) that trains in seconds on a CPU (demo data)."""
        return cls(N=128, L=64, B=64, H=128, P=3, X=6, R=2, samplerate=samplerate, causal=causal,
                   norm_type="cLN" if causal else "gLN")


class GlobalLayerNorm(nn.Module):
    """gLN: normalise over channels and time of each example."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(1, 2), keepdim=True)
        return self.gamma * (x - mean) / torch.sqrt(var + EPS) + self.beta


class ChannelwiseLayerNorm(nn.Module):
    """cLN: normalise over channels at each time step (causal)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, channels, 1))
        self.beta = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=1, keepdim=True)
        var = x.var(dim=1, keepdim=True, unbiased=False)
        return self.gamma * (x - mean) / torch.sqrt(var + EPS) + self.beta


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "gLN":
        return GlobalLayerNorm(channels)
    if kind == "cLN":
        return ChannelwiseLayerNorm(channels)
    if kind == "BN":
        return nn.BatchNorm1d(channels)
    if kind == "id":
        return nn.Identity()
    raise ValueError(f"unknown norm_type {kind!r}; use gLN, cLN, BN or id")


class TrimRight(nn.Module):
    """Drops the right padding of a causal convolution (no parameters)."""

    def __init__(self, amount: int):
        super().__init__()
        self.amount = amount

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : x.shape[-1] - self.amount] if self.amount else x


class DepthwiseSeparableConv(nn.Module):
    def __init__(self, hidden: int, out: int, kernel: int, dilation: int, norm_type: str, causal: bool):
        super().__init__()
        padding = (kernel - 1) * dilation if causal else (kernel - 1) * dilation // 2
        layers: list[nn.Module] = [nn.Conv1d(hidden, hidden, kernel, padding=padding, dilation=dilation, groups=hidden, bias=False)]
        if causal:
            layers.append(TrimRight(padding))
        layers += [nn.PReLU(), make_norm(norm_type, hidden), nn.Conv1d(hidden, out, 1, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TemporalBlock(nn.Module):
    """1x1 conv, PReLU, norm, depthwise-separable dilated conv; residual."""

    def __init__(self, bottleneck: int, hidden: int, kernel: int, dilation: int, norm_type: str, causal: bool):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(bottleneck, hidden, 1, bias=False),
            nn.PReLU(),
            make_norm(norm_type, hidden),
            DepthwiseSeparableConv(hidden, bottleneck, kernel, dilation, norm_type, causal),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class MaskNetwork(nn.Module):
    """The temporal convolutional network estimating one mask per source."""

    def __init__(self, cfg: ConvTasNetConfig):
        super().__init__()
        self.sources, self.mask_nonlinear = cfg.C, cfg.mask_nonlinear
        repeats = [
            nn.Sequential(*[TemporalBlock(cfg.B, cfg.H, cfg.P, 2**x, cfg.norm_type, cfg.causal) for x in range(cfg.X)])
            for _ in range(cfg.R)
        ]
        self.network = nn.Sequential(
            ChannelwiseLayerNorm(cfg.N),
            nn.Conv1d(cfg.N, cfg.B, 1, bias=False),
            nn.Sequential(*repeats),
            nn.Conv1d(cfg.B, cfg.C * cfg.N, 1, bias=False),
        )

    def forward(self, encoded: torch.Tensor) -> torch.Tensor:
        batch, filters, frames = encoded.shape
        scores = self.network(encoded).view(batch, self.sources, filters, frames)
        if self.mask_nonlinear == "relu":
            return F.relu(scores)
        if self.mask_nonlinear == "softmax":
            return F.softmax(scores, dim=1)
        raise ValueError(f"unknown mask_nonlinear {self.mask_nonlinear!r}")


class Encoder(nn.Module):
    def __init__(self, cfg: ConvTasNetConfig):
        super().__init__()
        self.conv1d_U = nn.Conv1d(cfg.audio_channels, cfg.N, cfg.L, stride=cfg.L // 2, bias=False)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv1d_U(mixture))


class Decoder(nn.Module):
    def __init__(self, cfg: ConvTasNetConfig):
        super().__init__()
        self.L, self.audio_channels = cfg.L, cfg.audio_channels
        self.basis_signals = nn.Linear(cfg.N, cfg.audio_channels * cfg.L, bias=False)

    def forward(self, encoded: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        batch, sources, _, frames = masks.shape
        frames_out = self.basis_signals((encoded.unsqueeze(1) * masks).transpose(2, 3))  # (b, c, K, ac*L)
        frames_out = frames_out.view(batch * sources, frames, self.audio_channels, self.L)
        frames_out = frames_out.permute(0, 2, 3, 1).reshape(batch * sources * self.audio_channels, self.L, frames)
        hop = self.L // 2
        length = (frames - 1) * hop + self.L
        out = F.fold(frames_out, output_size=(1, length), kernel_size=(1, self.L), stride=(1, hop))
        return out.view(batch, sources, self.audio_channels, length)


class ConvTasNet(nn.Module):
    """(batch, audio_channels, time) -> (batch, C, audio_channels, time)."""

    def __init__(self, cfg: ConvTasNetConfig | None = None):
        super().__init__()
        self.cfg = cfg or ConvTasNetConfig()
        if self.cfg.L % 2:
            raise ValueError("ConvTasNet L must be even (stride L/2)")
        self.encoder = Encoder(self.cfg)
        self.separator = MaskNetwork(self.cfg)
        self.decoder = Decoder(self.cfg)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_normal_(p)

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        length = mixture.shape[-1]
        hop = self.cfg.L // 2
        # pad on the right so the last frame ends exactly at the end (a no-op when it already does)
        frames = max(1, -(-(length - self.cfg.L) // hop) + 1) if length > self.cfg.L else 1
        padded_length = (frames - 1) * hop + self.cfg.L
        mixture = F.pad(mixture, (0, padded_length - length))
        encoded = self.encoder(mixture)
        sources = self.decoder(encoded, self.separator(encoded))
        return sources[..., :length]
