"""The ``msg`` post-processor: Make it Sound Good (Schaffer et al., ISMIR 2022), a GAN-trained
waveform U-Net that learns to turn one separator's estimates into the clean stems (seed 001,
section 1.3).

``post_process(stem, rate, source=..., mixture=...)`` (in a chain after a separator,
``arunet+msg``) and ``enhance(signal, rate)``: the stem at 16 kHz (MSG's rate), each channel
alone, goes through the generator (``baselines.models.msg``), which adds a correction to it;
with ``use_mixture`` the mixture the separator saw is the generator's second input channel
(the seed's "the input can be the estimate or the mixture itself"; ``enhance``, which has no
mixture, then refuses). The correction is made at 16 kHz and added to the full-band input at
its own rate, so the band above 8 kHz is the input's, untouched (``baselines.postprocessing``
records the rate and channel policy).

Training (``--stage train``, or ``prepare`` when the checkpoint is missing): pairs of
(separator estimate, clean stem) from the task's training split. The separator is the chain's
input (``chain_input``: ``arunet`` in ``arunet+msg``; ``separator`` names another), built and
prepared through ``ctx.build_system`` (so its estimates come from the shared separation
cache); ``train_songs=holdout`` takes the fixed held-out share of the training songs
(``baselines.training_data.holdout_songs``, ``holdout_fraction`` 0.15: the songs that
``arunet``, ``convtasnet`` and ``waveunet`` keep out of their own training, so MSG learns
from estimates of songs the separator never saw, as it will meet at test time; ``umx4``
trains on every song), or all of them when the holdout is empty or ``train_songs=all``.
One generator for every stem of a task (MSG trains one per stem type). Losses (seed 001,
section 1.3; ``baselines.gan_training``): LSGAN with 5 multi-period and 3 multi-resolution
spectrogram discriminators, feature matching, and the multi-resolution STFT loss (FFT
512/1024/2048, hop 50/120/240, window 240/600/1200). Checkpoint
``ctx.checkpoint_dir/msg/<preset>/<separator>-<digest of its identity>/<estimate or
estimate_mixture>/``: a retrained separator gets a new MSG.

Options (``systems.msg.<key>``; the shared ones in ``baselines.postprocessing``):

``separator``         null (the chain's input) or a system name whose estimates MSG learns from.
``use_mixture``       false: the estimate alone (MSG); true: estimate and mixture.
``train_songs``       ``holdout`` | ``all``.
``holdout_fraction``  0.15, as the separators' ``train.holdout_fraction``.
``model``/``train``   overrides of ``MSGConfig`` / ``GANTrainConfig``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from baselines.gan_training import GANTrainConfig
from baselines.models.discriminators import MSGDiscriminator
from baselines.models.msg import MSGConfig, MSGGenerator
from baselines.postprocessing import RESAMPLER, WaveformPostProcessor
from baselines.training import TrainConfig
from baselines.training_data import holdout_songs, song_instruments, target_stems
from evaluators.resample import resample
from harness.errors import HarnessError
from harness.systems import RunContext, register

logger = logging.getLogger(__name__)

# Demo: 4 segments of 0.5 s at 16 kHz per step; 100 steps of reconstruction alone, then the GAN: 50 CPU-s on
# one thread after arunet (Intel Xeon, shared host). On the CAD2 task 2 demo its correction stays small (RMS
# 0.002-0.006 of the unit-RMS stem): arunet's valid stems change by at most 0.01 dB SI-SDR, 0.0004 HAAQI, with lr
# 5e-4 or 2e-3 (250 steps, GAN from step 100, with or without the mixture) or without the GAN (400 steps at
# 3e-3, with or without a waveform L1); on a learnable toy (tones in white noise) the same loop lowers the
# MR-STFT loss from 36 to 28 in 200 steps.
DEMO_TRAIN = {"steps": 250, "batch_size": 4, "segment_seconds": 0.5, "lr": 2e-3, "lr_discriminator": 2e-3,
              "adversarial_start": 100, "checkpoint_every": 50}
# Seed 001: 50 epochs = 120k steps; HiFi-GAN's Adam (lr 2e-4, betas 0.8/0.99).
FULL_TRAIN = {"steps": 120_000, "batch_size": 16, "segment_seconds": 1.0, "lr": 2e-4, "lr_discriminator": 2e-4,
              "checkpoint_every": 1000}
MIN_RMS = 1e-4  # a training segment whose estimate and stem are both quieter is skipped


class MSGBundle(torch.nn.Module):
    """The generator and MSG's eight discriminators (``baselines.gan_training``)."""

    def __init__(self, cfg: MSGConfig, discriminator_channels: int, max_channels: int, spectrogram_stride):
        super().__init__()
        self.generator = MSGGenerator(cfg)
        self.discriminator = MSGDiscriminator(discriminator_channels, max_channels, spectrogram_stride=spectrogram_stride)

    def reconstruct(self, batch):
        inputs, target = batch
        return self.generator(inputs), target, {}


class PairSampler:
    """Batches of (inputs (b, 1 or 2, t), target (b, 1, t)) segments of (estimate[, mixture],
    clean stem) triples at the model's rate: a triple drawn in proportion to its length, a
    random offset and audio channel, all three divided by the estimate segment's RMS."""

    def __init__(self, triples: list[tuple[np.ndarray, np.ndarray, np.ndarray]], segment: int, use_mixture: bool):
        if not triples:
            raise HarnessError("system 'msg': no (estimate, stem) pairs to train on")
        self.triples, self.segment, self.use_mixture = triples, int(segment), bool(use_mixture)
        lengths = np.array([len(t[0]) for t in triples], dtype=float)
        self.weights = lengths / lengths.sum()

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        inputs, targets = [], []
        while len(inputs) < batch_size:
            estimate, mixture, clean = self.triples[rng.choice(len(self.triples), p=self.weights)]
            start = int(rng.integers(0, max(1, len(estimate) - self.segment + 1)))
            channel = int(rng.integers(estimate.shape[1]))
            e, m, c = (_crop(x[:, channel], start, self.segment) for x in (estimate, mixture, clean))
            rms = float(np.sqrt(np.mean(e.astype(np.float64) ** 2)))
            if rms < MIN_RMS:
                continue
            inputs.append(np.stack([e, m] if self.use_mixture else [e]) / rms)
            targets.append(c[None] / rms)
        return (torch.from_numpy(np.stack(inputs).astype(np.float32)),
                torch.from_numpy(np.stack(targets).astype(np.float32)))


def _crop(x: np.ndarray, start: int, length: int) -> np.ndarray:
    out = x[start:start + length]
    return np.pad(out, (0, length - len(out))) if len(out) < length else out


@register("msg", kind="enhancer",
          description="Make it Sound Good: GAN waveform U-Net trained on a separator's estimates (chain it: arunet+msg)")
class MSGEnhancer(WaveformPostProcessor):
    name = "msg"
    model_fields = [f.name for f in fields(MSGConfig)]

    def __init__(self, section: Any = None):
        super().__init__(section, {"separator": None, "use_mixture": False, "train_songs": "holdout",
                                   "holdout_fraction": TrainConfig.holdout_fraction})
        o = self.options
        if o["train_songs"] not in ("holdout", "all"):
            raise ValueError(f"train_songs must be holdout or all, not {o['train_songs']!r}")
        if not 0 <= float(o["holdout_fraction"]) < 1:
            raise ValueError(f"holdout_fraction must be in [0, 1), not {o['holdout_fraction']}")
        if "in_channels" in (o["model"] or {}):
            raise ValueError("set use_mixture, not model.in_channels")
        self.chain_input: str | None = None  # set by the chain: the system before this one
        self._upstream: tuple[str, str] | None = None  # (name, identity digest) once known
        self._upstream_system = None

    # ---- configuration

    def configs(self, preset: str) -> tuple[MSGConfig, GANTrainConfig]:
        model = MSGConfig.demo() if preset == "demo" else MSGConfig.full()
        model = model.with_overrides({"in_channels": 2 if self.options["use_mixture"] else 1}, "system 'msg'")
        train = GANTrainConfig(**(DEMO_TRAIN if preset == "demo" else FULL_TRAIN))
        return self.overrides(model, train)

    def bundle(self, model_cfg: MSGConfig, train_cfg: GANTrainConfig) -> MSGBundle:
        small = model_cfg.channels < 32
        return MSGBundle(model_cfg, 8 if small else 32, 32 if small else 1024, (2, 2) if small else (1, 2))

    def separator_name(self) -> str:
        name = self.options["separator"] or self.chain_input
        if not name:
            raise HarnessError("system 'msg' learns to fix one separator's estimates: chain it after one "
                               "(e.g. arunet+msg) or name it with systems.msg.separator=<system>")
        return str(name)

    def _separator(self, ctx: RunContext):
        """The upstream system, built and prepared once; sets its (name, identity digest)."""
        name = self.separator_name()
        if self._upstream is None or self._upstream[0] != name:
            system = ctx.build_system(name)
            system.prepare(ctx)
            parts = getattr(system, "parts", [system])
            identity = "+".join(str(getattr(p, "identity", None) or p.name) for p in parts)
            self._upstream = (name, hashlib.sha1(identity.encode()).hexdigest()[:12])
            self._upstream_system = system
        return self._upstream_system

    def checkpoint_dir(self, ctx: RunContext, preset: str) -> Path:
        self._separator(ctx)
        name, digest = self._upstream
        inputs = "estimate_mixture" if self.options["use_mixture"] else "estimate"
        return Path(ctx.checkpoint_dir) / self.name / preset / f"{name.replace('+', '_')}-{digest}" / inputs

    def training_songs(self, dataset) -> list[str]:
        """The held-out songs of the split (``train_songs=holdout``), else all of them."""
        if self.options["train_songs"] == "holdout":
            held = sorted(holdout_songs(dataset.songs, float(self.options["holdout_fraction"])))
            if held:
                return held
        return sorted(dataset.songs)

    def metadata(self, ctx: RunContext) -> dict:
        dataset = ctx.dataset("train")
        name, digest = self._upstream
        return {"separator": name, "separator_identity_sha1": digest, "songs": self.training_songs(dataset),
                "train_songs": self.options["train_songs"], "use_mixture": bool(self.options["use_mixture"])}

    def sampler(self, ctx: RunContext, model_cfg: MSGConfig, train_cfg: GANTrainConfig) -> PairSampler:
        """Separates the training songs (through the separation cache) and keeps (estimate,
        mixture, clean stem) of every stem at the model's rate."""
        separator = self._separator(ctx)
        dataset = ctx.dataset("train")
        rate, source_rate = int(model_cfg.sample_rate), int(dataset.sample_rate)
        triples = []
        songs = self.training_songs(dataset)
        if self.options["train_songs"] == "holdout" and len(songs) == len(dataset.songs):
            logger.warning("msg: the training split has no held-out songs; training on all %d", len(songs))
        for name in tqdm(songs, desc="msg: separating training songs", disable=None, leave=False):
            song = dataset.songs[name]
            mixture = dataset.load_track(song.mixture)
            stems = song_instruments(song)
            estimates = separator.separate(mixture, stems)
            down = lambda x: resample(np.asarray(x, dtype=np.float32), source_rate, rate, RESAMPLER)  # noqa: E731
            for stem, reference in zip(stems, target_stems(dataset, song, stems)):
                n = min(len(mixture), len(reference), len(estimates[stem]))
                triples.append((down(estimates[stem][:n]), down(mixture[:n]), down(reference[:n])))
        return PairSampler(triples, int(round(train_cfg.segment_seconds * rate)), bool(self.options["use_mixture"]))

    # ---- inference

    def post_process(self, stem: np.ndarray, sample_rate: int, *, source: str, mixture: np.ndarray) -> np.ndarray:
        """The stem (n, channels) with MSG's correction; the mixture is used with ``use_mixture``."""
        extra = [np.asarray(mixture)[: len(stem)]] if self.options["use_mixture"] else []
        return self._enhance(stem, sample_rate, extra)

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        if self.options["use_mixture"]:
            raise HarnessError("system 'msg' with use_mixture needs the mixture: chain it after a separator")
        return self._enhance(signal, sample_rate, [])

    def _enhance(self, signal: np.ndarray, sample_rate: int, extra: list[np.ndarray]) -> np.ndarray:
        x = np.asarray(signal, dtype=np.float32)
        low = self.process(x, sample_rate, self.model, extra)  # the generator's output at its rate, resampled back
        # the generator adds a correction below its Nyquist frequency: add that correction to the full-band input
        through = self.process(x, sample_rate, lambda inputs: inputs[:, :1], extra)
        return (x + (low - through)).astype(np.float32)
