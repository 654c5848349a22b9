"""MSG's generator: a 1-D convolutional U-Net on the waveform that maps a separator's estimate
of a stem (and optionally the mixture) to a cleaner one.

Schaffer et al., "Music Separation Enhancement with Generative Modeling" (Make it Sound Good,
ISMIR 2022, arXiv:2208.12387), as seed 001 summarises it (section 1.3): a U-Net with 1-D
convolutions "similar to Demucs V2", no latent noise (deterministic), trained with LSGAN,
feature matching and a multi-resolution STFT loss. The Demucs v2 level (Défossez et al. 2019):
encoder ``Down(c_in, c, stride)`` (kernel 2 x stride), ReLU, ``Conv1d(c, 2c, 1)``, GLU; decoder
``Conv1d(c, 2c, 3)``, GLU, ``Up(c, c_out, stride)``, ReLU (none after the last), with the
encoder's output of the same level added before it (U-Net skips); channels grow by
``growth`` per level. Not reproduced: MSG's conditioning on multi-resolution spectrograms
and its size (about 30 M parameters); ``MSGConfig.full()`` is a Demucs-v2-sized U-Net
(channels 48, 5 levels), ``demo()`` a 0.1 M-parameter one.

Residual output: the network predicts a correction added to the estimate, and its last
convolution starts at zero, so an untrained generator returns the estimate unchanged.

Input ``(batch, in_channels, samples)``: channel 0 the estimate, channel 1 (``in_channels =
2``) the mixture; output ``(batch, 1, samples)``. Any length: padded to a multiple of
``stride ** depth`` inside and cropped back.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from baselines.models.model_config import ModelConfig
from baselines.models.waveconv import Down, Up, pad_to_multiple


@dataclass
class MSGConfig(ModelConfig):
    sample_rate: int = 16000
    in_channels: int = 1  # 1: the estimate; 2: the estimate and the mixture
    channels: int = 48
    depth: int = 5
    stride: int = 4
    growth: int = 2

    @classmethod
    def full(cls) -> "MSGConfig":
        return cls()

    @classmethod
    def demo(cls) -> "MSGConfig":
        return cls(channels=12, depth=4, stride=4, growth=2)

    @property
    def multiple(self) -> int:
        return int(self.stride) ** int(self.depth)


class MSGGenerator(nn.Module):
    def __init__(self, cfg: MSGConfig):
        super().__init__()
        if cfg.in_channels not in (1, 2):
            raise ValueError(f"in_channels must be 1 (estimate) or 2 (estimate, mixture), not {cfg.in_channels}")
        self.cfg = cfg
        self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
        c_in, c = cfg.in_channels, cfg.channels
        for level in range(cfg.depth):
            self.encoder.append(nn.Sequential(Down(c_in, c, cfg.stride), nn.ReLU(), nn.Conv1d(c, 2 * c, 1), nn.GLU(1)))
            last = level == 0
            out = 1 if last else c_in
            up: list[nn.Module] = [nn.Conv1d(c, 2 * c, 3, padding=1), nn.GLU(1), Up(c, out, cfg.stride)]
            if not last:
                up.append(nn.ReLU())
            self.decoder.insert(0, nn.Sequential(*up))
            c_in, c = c, c * cfg.growth
        final = self.decoder[-1][2].conv  # the outermost transposed convolution: the correction starts at zero
        nn.init.zeros_(final.weight)
        nn.init.zeros_(final.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in_channels, samples) -> (batch, 1, samples): estimate + correction."""
        if x.ndim != 3 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(f"expected (batch, {self.cfg.in_channels}, samples), not {tuple(x.shape)}")
        h, length = pad_to_multiple(x, self.cfg.multiple)
        skips = []
        for encode in self.encoder:
            h = encode(h)
            skips.append(h)
        for decode in self.decoder:
            h = decode(h + skips.pop())
        return x[:, :1] + h[..., :length]
