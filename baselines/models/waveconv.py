"""Strided 1-D convolutions with exact lengths, the resampling steps of the waveform models
(the codec's encoder/decoder, MSG's U-Net).

``Down(c_in, c_out, stride)``: kernel ``2 * stride``, padded so that a length L (a multiple of
the stride) becomes exactly ``L / stride``; ``Up(c_in, c_out, stride)``: the transposed
convolution of the same kernel, trimmed so that L becomes exactly ``L * stride``. As SEANet
(EnCodec) and Demucs down- and up-sample, without their valid-length bookkeeping: callers pad
their input to a multiple of the product of the strides.
"""

from __future__ import annotations

import torch
from torch import nn


class Down(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride = int(stride)
        self.conv = nn.Conv1d(c_in, c_out, 2 * self.stride, self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        return self.conv(nn.functional.pad(x, (s // 2, s - s // 2)))


class Up(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride = int(stride)
        self.conv = nn.ConvTranspose1d(c_in, c_out, 2 * self.stride, self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        y = self.conv(x)  # (L + 1) * s samples
        return y[..., s // 2: y.shape[-1] - (s - s // 2)]


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, int]:
    """`x` (..., samples) zero-padded at the end to a multiple of `multiple`; (padded, original length)."""
    length = x.shape[-1]
    extra = (-length) % int(multiple)
    return (nn.functional.pad(x, (0, extra)) if extra else x), length
