"""The ``codec`` post-processor: a signal's round trip through a neural audio codec trained
here (seed 001, sections 1.5-1.7: a separator's estimate is coded into residual-vector-
quantised tokens and decoded; "keep the first k codebooks" as the seed varies them).

``enhance(signal, rate)``: the signal (n, channels) goes through the codec (encode, keep the
first ``codebooks`` codebooks, decode) at the codec's rate, each channel alone
(``baselines.postprocessing``: unit RMS, polyphase resampling, mono network, 10 s segments);
the output is band-limited to half the codec's rate (8 kHz at demo size). Chains after any
separator (``arunet+codec``: each stem in turn) or alone on a signal. Its ceiling is the
oracle: ``run_recipe.py ... --system arunet+codec`` also runs ``oracle+codec``, the round trip
of the true stems, the best any codec-based system built on this codec can do (the seed's
"codec ceiling", its Table 1 "Reconstructed" column).

Token hooks (the seed's section 6.1 diagnostics): ``tokens(signal, rate, n_q)`` -> codes
(channels, n_q, frames); ``from_tokens(codes, n, rate)`` -> the decoded signal (n, channels);
``baselines.models.rvq.token_accuracy`` and ``codebook_usage`` compare and count them
(``scripts/seed001_report.py`` draws the usage histograms).

Training (``--stage train``, or ``prepare`` when the checkpoint is missing): on the clean
stems of every instrument of the task's training split (``baselines.training_data.StemSampler``:
unit-RMS segments, silent ones dropped; each channel one example), with the multi-resolution
STFT loss (FFT 512/1024/2048, hop 50/120/240, window 240/600/1200), EnCodec's waveform L1 (weight
10) and the RVQ's commitment loss,
EMA codebooks with k-means initialisation and dead-code replacement, quantiser dropout;
``train.adversarial=true`` adds the multi-resolution spectrogram discriminators (LSGAN and
feature matching), as EnCodec trains with an adversarial loss (``baselines.gan_training``).
One codec for all stems of a task. Checkpoint ``ctx.checkpoint_dir/codec/<preset>/``.

Options (``systems.codec.<key>``; the shared ones in ``baselines.postprocessing``):

``codebooks``  null (all) or k: decode from the first k codebooks only (1..n_q).
``model``      overrides of ``CodecConfig`` (``sample_rate``, ``channels``, ``strides``, ``dim``,
               ``n_q``, ``codebook_size``, ``lstm_layers``, ...).
``train``      overrides of ``GANTrainConfig`` (``steps``, ``adversarial``, ...).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.gan_training import GANTrainConfig
from baselines.models.codec import Codec, CodecConfig
from baselines.models.discriminators import MultiResolutionSTFTDiscriminator
from baselines.postprocessing import RESAMPLER, SILENCE_RMS, WaveformPostProcessor
from baselines.training_data import StemSampler
from evaluators.resample import resample
from harness.systems import RunContext, register

# Demo: 4 stems x 2 channels of 0.5 s at 16 kHz per step, 250 steps: 76 CPU-s on one thread (Intel Xeon,
# shared host), round trip of the demo's valid stems SI-SDR 5.6 dB with 8 codebooks (4.5 with 4, 0.6 with 1);
# 150 steps at lr 3e-3 gave -0.8 dB. The waveform L1 (EnCodec's l_t) lifts SI-SDR from about -13 dB (the
# MR-STFT loss alone leaves the phase free) to positive values.
DEMO_TRAIN = {"steps": 250, "batch_size": 4, "segment_seconds": 0.5, "lr": 2e-3, "waveform_weight": 10.0,
              "adversarial": False, "checkpoint_every": 50}
# EnCodec (section 4.2): Adam lr 3e-4, betas (0.5, 0.9), 1 s segments, batch 64; adversarial from the start.
FULL_TRAIN = {"steps": 300_000, "batch_size": 32, "segment_seconds": 1.0, "lr": 3e-4, "lr_discriminator": 3e-4,
              "beta1": 0.5, "beta2": 0.9, "waveform_weight": 10.0, "adversarial": True, "checkpoint_every": 1000}


class CodecBundle(torch.nn.Module):
    """The codec and, with ``adversarial``, its spectrogram discriminators (``baselines.gan_training``)."""

    def __init__(self, cfg: CodecConfig, adversarial: bool, discriminator_channels: int):
        super().__init__()
        self.generator = Codec(cfg)
        self.discriminator = MultiResolutionSTFTDiscriminator(channels=discriminator_channels) if adversarial else None

    def reconstruct(self, batch: torch.Tensor):
        """Clean segments (batch, channels, t) -> (reconstruction, target) as mono (batch * channels, 1, t)."""
        audio = batch.reshape(-1, 1, batch.shape[-1])
        fake, _, commitment = self.generator(audio)
        return fake, audio, {"commitment": commitment}


@register("codec", kind="enhancer", ceiling="oracle",
          description="round trip through a neural audio codec trained here (RVQ tokens, first k codebooks)")
class CodecEnhancer(WaveformPostProcessor):
    name = "codec"
    model_fields = [f.name for f in fields(CodecConfig)]

    def __init__(self, section: Any = None):
        super().__init__(section, {"codebooks": None})
        k = self.options["codebooks"]
        if k is not None and int(k) < 1:
            raise ValueError(f"codebooks must be null (all) or >= 1, not {k}")

    def configs(self, preset: str) -> tuple[CodecConfig, GANTrainConfig]:
        model = CodecConfig.demo() if preset == "demo" else CodecConfig.full()
        train = GANTrainConfig(**(DEMO_TRAIN if preset == "demo" else FULL_TRAIN))
        model, train = self.overrides(model, train)
        k = self.options["codebooks"]
        if k is not None and int(k) > model.n_q:
            raise ValueError(f"system 'codec': codebooks={k}, but the codec has {model.n_q}")
        return model, train

    def bundle(self, model_cfg: CodecConfig, train_cfg: GANTrainConfig) -> CodecBundle:
        return CodecBundle(model_cfg, train_cfg.adversarial, 8 if model_cfg.channels < 32 else 32)

    def sampler(self, ctx: RunContext, model_cfg: CodecConfig, train_cfg: GANTrainConfig) -> StemSampler:
        rate = int(model_cfg.sample_rate)
        return StemSampler(ctx.dataset("train"), int(round(train_cfg.segment_seconds * rate)),
                           train_cfg.max_cached_songs, rate)

    def checkpoint_dir(self, ctx: RunContext, preset: str) -> Path:
        return Path(ctx.checkpoint_dir) / self.name / preset

    def metadata(self, ctx: RunContext) -> dict:
        dataset = ctx.dataset("train")
        return {"instruments": list(dataset.instruments), "songs": sorted(dataset.songs)}

    @property
    def codebooks(self) -> int | None:
        k = self.options["codebooks"]
        return None if k is None else int(k)

    def _round_trip(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.decode(self.model.encode(x, self.codebooks), x.shape[-1])

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n, channels) at `sample_rate` -> its codec round trip with the first ``codebooks``
        codebooks, the same shape, float32."""
        return self.process(signal, sample_rate, self._round_trip)

    # ---- token hooks

    def tokens(self, signal: np.ndarray, sample_rate: int, n_q: int | None = None) -> np.ndarray:
        """Codes (channels, n_q, frames) int64 of a (n, channels) signal scaled to unit RMS (as
        ``enhance`` scales it), the first `n_q` codebooks (default: ``codebooks``, else all).
        Frames: ceil(n at the codec's rate / hop), one whole-signal pass."""
        x = np.asarray(signal, dtype=np.float32)
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
        if rms < SILENCE_RMS:
            rms = 1.0
        audio = resample(x / np.float32(rms), sample_rate, self.model_rate, RESAMPLER)
        with torch.no_grad():
            codes = self.model.encode(torch.from_numpy(np.ascontiguousarray(audio.T))[:, None].to(self.device),
                                      n_q if n_q is not None else self.codebooks)
        return codes.cpu().numpy()

    def from_tokens(self, codes: np.ndarray, n: int, sample_rate: int) -> np.ndarray:
        """The unit-RMS-scale signal (n, channels) at `sample_rate` that codes (channels, k, frames) decode to."""
        with torch.no_grad():
            audio = self.model.decode(torch.as_tensor(codes, device=self.device)).cpu().numpy()[:, 0]
        out = resample(audio.T, self.model_rate, sample_rate, RESAMPLER)[:n]
        return np.pad(out, ((0, n - len(out)), (0, 0))) if len(out) < n else out.astype(np.float32)
