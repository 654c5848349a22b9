"""The waveform discriminators of MSG (and of the codec's optional adversarial training).

* :class:`PeriodDiscriminator` / :class:`MultiPeriodDiscriminator`: HiFi-GAN's (Kong et al.,
  NeurIPS 2020, section 2.2): the waveform folded into ``(samples / p, p)`` and judged by 2-D
  convolutions of kernel (5, 1), stride (3, 1), so each looks at every p-th sample; periods
  2, 3, 5, 7, 11 (MSG's five "multi-period waveform discriminators").
* :class:`SpectrogramDiscriminator` / :class:`MultiResolutionSTFTDiscriminator`: UnivNet's
  multi-resolution spectrogram discriminator (Jang et al., Interspeech 2021): |STFT| at one
  resolution judged by 2-D convolutions; three resolutions (MSG's three), by default those of
  the reconstruction loss, (n_fft, hop, window) (512, 50, 240), (1024, 120, 600),
  (2048, 240, 1200).
* :class:`MSGDiscriminator`: both, eight sub-discriminators in all.

Each sub-discriminator returns ``(logits, [feature maps])`` (the activations after each
hidden layer, for the feature-matching loss); a multi-discriminator returns the list of its
sub-discriminators' outputs. Input: audio ``(batch, 1, samples)``. Widths are
``channels`` (doubling per layer up to ``max_channels``): HiFi-GAN uses 32..1024, the demo
preset 8..32. The spectrogram discriminators' hidden convolutions stride (1, 2) over
(frequency, frames) as UnivNet's; the demo preset strides every convolution, the first too, by
(2, 2): a fifth of the work (0.06 s instead of 0.12 s for the forward and backward pass of one
resolution on 8 x 0.5 s at 16 kHz, one CPU thread).
"""

from __future__ import annotations

import torch
from torch import nn

from baselines.models.losses import MSG_RESOLUTIONS, padded_window
from baselines.models.spectral import stft

PERIODS = (2, 3, 5, 7, 11)
SLOPE = 0.1  # leaky ReLU slope (HiFi-GAN's LRELU_SLOPE)


def _widths(channels: int, max_channels: int, layers: int) -> list[int]:
    return [min(int(channels) * 2 ** i, int(max_channels)) for i in range(layers)]


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int = 32, max_channels: int = 1024, layers: int = 4):
        super().__init__()
        self.period = int(period)
        widths = _widths(channels, max_channels, layers)
        convs, c_in = [], 1
        for w in widths:
            convs.append(nn.Conv2d(c_in, w, (5, 1), (3, 1), padding=(2, 0)))
            c_in = w
        convs.append(nn.Conv2d(c_in, c_in, (5, 1), 1, padding=(2, 0)))
        self.convs = nn.ModuleList(convs)
        self.post = nn.Conv2d(c_in, 1, (3, 1), 1, padding=(1, 0))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = audio.shape
        extra = (-t) % self.period
        x = nn.functional.pad(audio, (0, extra), mode="reflect" if extra < t else "constant")
        x = x.reshape(b, c, -1, self.period)
        features = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), SLOPE)
            features.append(x)
        return self.post(x).flatten(1), features


class SpectrogramDiscriminator(nn.Module):
    def __init__(self, n_fft: int, hop: int, window: int, channels: int = 32, layers: int = 4, stride=(1, 2),
                 first_stride=(1, 1)):
        super().__init__()
        self.n_fft, self.hop = int(n_fft), int(hop)
        self.register_buffer("window", padded_window(self.n_fft, int(window)), persistent=False)
        convs = [nn.Conv2d(1, channels, (3, 9), tuple(first_stride), padding=(1, 4))]
        convs += [nn.Conv2d(channels, channels, (3, 9), tuple(stride), padding=(1, 4)) for _ in range(layers - 1)]
        convs.append(nn.Conv2d(channels, channels, (3, 3), padding=(1, 1)))
        self.convs = nn.ModuleList(convs)
        self.post = nn.Conv2d(channels, 1, (3, 3), padding=(1, 1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = stft(audio, self.n_fft, self.hop, self.window).abs()  # (b, 1, freq, frames)
        features = []
        for conv in self.convs:
            x = nn.functional.leaky_relu(conv(x), SLOPE)
            features.append(x)
        return self.post(x).flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods=PERIODS, channels: int = 32, max_channels: int = 1024):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels, max_channels) for p in periods)

    def forward(self, audio: torch.Tensor) -> list:
        return [d(audio) for d in self.discriminators]


class MultiResolutionSTFTDiscriminator(nn.Module):
    def __init__(self, resolutions=MSG_RESOLUTIONS, channels: int = 32, stride=(1, 2)):
        super().__init__()
        first = (1, 1) if tuple(stride) == (1, 2) else tuple(stride)
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(*r, channels=channels, stride=stride,
                                                                     first_stride=first) for r in resolutions)

    def forward(self, audio: torch.Tensor) -> list:
        return [d(audio) for d in self.discriminators]


class MSGDiscriminator(nn.Module):
    """MSG's eight: five period discriminators and three spectrogram discriminators."""

    def __init__(self, channels: int = 32, max_channels: int = 1024, periods=PERIODS, resolutions=MSG_RESOLUTIONS,
                 spectrogram_stride=(1, 2)):
        super().__init__()
        self.period = MultiPeriodDiscriminator(periods, channels, max_channels)
        self.spectrogram = MultiResolutionSTFTDiscriminator(resolutions, channels, spectrogram_stride)

    def forward(self, audio: torch.Tensor) -> list:
        return [*self.period(audio), *self.spectrogram(audio)]
