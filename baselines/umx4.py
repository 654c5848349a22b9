"""`umx4`: our trained 4-stem separator (vocals, drums, bass, other), an Open-Unmix-style BiLSTM
spectrogram masker (``baselines.models.openunmix``: one joint network, a shared encoder and
BiLSTM with one decoder and mask per stem; the model's docstring says why).

``separate(mixture, sources)`` takes a stereo (n, 2) float32 mixture at 44.1 kHz (a mono
(n, 1) one is separated as two equal channels and returned mono) and any of ``vocals``,
``drums``, ``bass``, ``other`` and ``accompaniment``; it returns ``{source: (n, channels)
float32}`` for the requested ones. The four stems are always estimated together;
``accompaniment`` is the mixture minus the vocals estimate (with ``wiener`` that equals the
sum of the other three). So the system serves VDBO tasks (CAD1 task 1, ICASSP 2024) and
vocals/accompaniment tasks (CAD2 task 1) alike.

Inference: the mixture is resampled to the model's rate, divided by its RMS (training
examples have unit mixture RMS), separated in chunks (``baselines.inference.separate_chunked``,
``segment``/``overlap`` seconds: the BiLSTM sees ``segment`` seconds of context), scaled back
and resampled to 44.1 kHz. A demo model at 22.05 kHz estimates nothing above 11.025 kHz;
there the Wiener re-cut (whose masks then come from the estimates' resampling residue, or are
shared equally where every estimate is silent) decides the split.

Training (``train(ctx)``, or ``prepare`` when no finished checkpoint exists): random segments of
``ctx.dataset("train")`` (``baselines.training_data.SegmentSampler`` in its multi-target
mode: the mixture is the sum of the four stems; tracks of instruments outside VDBO count as
``other``; a random gain of -6..+3 dB and a left/right swap per stem, and with ``random_mix``
each stem from its own song and offset, as open-unmix's ``random_track_mix``), the input
scaling initialised from the magnitude statistics of ``stat_batches`` batches, then
``baselines.training.train_model`` (Adam, cosine decay, resumable) on open-unmix's loss, the
MSE of the magnitude spectrograms (``baselines.models.openunmix.magnitude_loss``).
Differences from open-unmix's ``train.py``: one joint model; a cosine learning-rate decay
instead of ReduceLROnPlateau; a fixed number of steps instead of epochs with early stopping.

Options (``systems.umx4``; every one has a default):

``preset``            ``auto`` | ``demo`` | ``full`` (``official``); ``auto`` as
                      ``baselines.separators.resolve_preset`` (demo data -> demo).
``model``             overrides of ``OpenUnmixConfig`` (``hidden_size``, ``n_fft``, ...).
``train``             overrides of ``baselines.training.TrainConfig``.
``model_sample_rate`` null: 22050 for demo, 44100 for full.
``random_mix``        true: stems of a training example from different songs.
``stat_batches``      batches drawn to initialise the input scaling (8).
``train_if_missing``  ``prepare`` trains a missing model (true) or raises naming it (false).
``segment``/``overlap`` chunked inference, seconds (10.0 / 1.0).
``wiener``            true: the four stems re-cut from the mixture as soft masks
                      (``baselines.postfilter.wiener``); they then sum to the mixture.
``mixture_consistency`` (without ``wiener``) true: what the four estimates leave of the
                      mixture is shared equally among them, so they sum to the mixture.
``device``            ``auto`` (cuda when present) or a torch device.
``seed``              null: the run's seed.
``threads``           torch CPU threads while training and separating (1).

Checkpoint: ``ctx.checkpoint_dir/umx4/<preset>/`` (``config.json`` + ``model.safetensors``,
``train_state.safetensors`` while training).
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.inference import separate_chunked, torch_threads
from baselines.models.hf_checkpoint import load_pretrained
from baselines.models.openunmix import VDBO_TARGETS, OpenUnmix, OpenUnmixConfig, magnitude_loss
from baselines.postfilter import wiener
from baselines.trained_system import TrainedModelSystem
from baselines.training import TrainConfig, check_compatible, derived_seed, init_model, is_finished, train_model
from baselines.training_data import SegmentSampler, holdout_songs
from evaluators.device import resolve_device
from evaluators.resample import resample
from harness.errors import HarnessError
from harness.options import check_keys, plain, read_options
from harness.systems import VDBO, VOCALS, RunContext, register

logger = logging.getLogger(__name__)

INPUT_RATE = 44100
DEMO_RATE = 22050
ACCOMPANIMENT = "accompaniment"

DEFAULTS: dict[str, Any] = {
    "preset": "auto",
    "model": {},
    "train": {},
    "model_sample_rate": None,
    "random_mix": True,
    "stat_batches": 8,
    "train_if_missing": True,
    "segment": 10.0,
    "overlap": 1.0,
    "wiener": True,
    "mixture_consistency": True,
    "device": "auto",
    "seed": None,
    "threads": 1,
}

# No songs held out: umx4 is not an ensemble member whose weights are fitted on unseen songs.
DEMO_TRAIN = {"steps": 200, "batch_size": 8, "segment_seconds": 2.0, "lr": 3e-3, "holdout_fraction": 0.0,
              "checkpoint_every": 100}
# open-unmix train.py: Adam lr 1e-3, weight decay 1e-5, batch 16, 6 s segments.
FULL_TRAIN = {"steps": 300_000, "batch_size": 16, "segment_seconds": 6.0, "lr": 1e-3, "optimizer": "adamw",
              "weight_decay": 1e-5, "holdout_fraction": 0.0, "checkpoint_every": 1000}


def input_statistics(model: OpenUnmix, sampler: SegmentSampler, rng: np.random.Generator, batches: int,
                     batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and standard deviation ``(bins,)`` of the mixture magnitudes of `batches`
    sampled batches (both channels pooled)."""
    total = total_sq = None
    count = 0
    with torch.no_grad():
        for _ in range(max(1, int(batches))):
            mixture, _ = sampler.batch(rng, batch_size)
            x = torch.nn.functional.pad(mixture, (0, model.padded_length(mixture.shape[-1]) - mixture.shape[-1]))
            mag = model.stft(x).abs().double()  # (b, c, bins, frames)
            mag = mag.permute(2, 0, 1, 3).reshape(mag.shape[2], -1)
            total = mag.sum(1) if total is None else total + mag.sum(1)
            total_sq = (mag**2).sum(1) if total_sq is None else total_sq + (mag**2).sum(1)
            count += mag.shape[1]
    mean = total / count
    std = torch.sqrt(torch.clamp(total_sq / count - mean**2, min=0.0))
    return mean.float(), std.float()


@register("umx4", kind="separator", produces=(VDBO, VOCALS),
          description="Open-Unmix-style BiLSTM masker, one joint 4-stem (VDBO) network trained by --stage train")
class UMX4Separator(TrainedModelSystem):
    """The four MUSDB stems (and the accompaniment) from one Open-Unmix-style network."""

    name = "umx4"
    targets = VDBO_TARGETS

    def __init__(self, section: Any = None):
        self.options = options = read_options(self.name, section, DEFAULTS)
        self.model_overrides = plain(options["model"])
        check_keys(f"system {self.name!r} model", self.model_overrides, [f.name for f in fields(OpenUnmixConfig)])
        if "targets" in self.model_overrides:
            raise HarnessError(f"system {self.name!r} model: targets are fixed to {list(self.targets)}")
        check_keys(f"system {self.name!r} train", plain(options["train"]), [f.name for f in fields(TrainConfig)])
        if not float(options["segment"]) > 0 or not float(options["overlap"]) >= 0:
            raise HarnessError(f"system {self.name!r}: segment must be > 0 and overlap >= 0 seconds, "
                               f"not {options['segment']!r} and {options['overlap']!r}")
        self.sample_rate = INPUT_RATE
        self.model: OpenUnmix | None = None
        self.model_dir: Path | None = None
        self.preset: str | None = None
        self.device = resolve_device(options["device"])
        self.identity = self.name

    # ---- configuration

    def model_rate(self, preset: str) -> int:
        rate = self.options["model_sample_rate"]
        return int(rate) if rate else (DEMO_RATE if preset == "demo" else INPUT_RATE)

    def train_config(self, preset: str) -> TrainConfig:
        return TrainConfig.from_dict({**(DEMO_TRAIN if preset == "demo" else FULL_TRAIN), **plain(self.options["train"])})

    def build_model(self, preset: str, rate: int) -> OpenUnmix:
        cfg = OpenUnmixConfig.demo() if preset == "demo" else OpenUnmixConfig.full()
        overrides = {"samplerate": rate, "targets": list(self.targets), **self.model_overrides}
        return OpenUnmix(cfg.with_overrides(overrides, f"system {self.name!r} model"))

    # ---- training

    def train_model(self, ctx: RunContext, preset: str, stop_after: int | None = None) -> Path:
        cfg = self.train_config(preset)
        directory = self.checkpoint_dir(ctx, preset)
        if is_finished(directory, cfg.steps):
            return directory
        rate = self.model_rate(preset)
        dataset = ctx.dataset("train")
        held = holdout_songs(dataset.songs, cfg.holdout_fraction)
        songs = [name for name in sorted(dataset.songs) if name not in held]
        seed = derived_seed(self.seed(ctx), self.name, preset)
        model = init_model(lambda: self.build_model(preset, rate), seed)
        check_compatible(directory, model)
        sampler = SegmentSampler(dataset, songs, list(self.targets), rate, cfg.segment_seconds, cfg.max_cached_songs,
                                 rest="other", mix_songs=bool(self.options["random_mix"]))
        with torch_threads(self.options["threads"]):
            mean, std = input_statistics(model, sampler, np.random.default_rng([seed, 1 << 20]),
                                         int(self.options["stat_batches"]), cfg.batch_size)
            model.set_input_statistics(mean, std)
            train_model(
                model, sampler, cfg, directory, seed, device=resolve_device(self.options["device"]),
                description=f"{self.name} {preset}", loss_fn=magnitude_loss,
                extra={"member": self.name, "preset": preset, "songs": songs,
                       "random_mix": bool(self.options["random_mix"])},
                stop_after=stop_after,
            )
        return directory

    # ---- inference

    def load(self, directory: Path) -> None:
        """Use the model saved in `directory` (config.json + model.safetensors)."""
        model = load_pretrained(directory, self.device)
        if not isinstance(model, OpenUnmix) or list(model.cfg.targets) != list(self.targets):
            raise RuntimeError(f"{directory}: not a {list(self.targets)} Open-Unmix model")
        self.model, self.model_dir = model, Path(directory)

    def estimate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        """The network's four stems of a (n, 2) mixture at 44.1 kHz, before any post-filter."""
        model = self.model
        rate = int(model.cfg.samplerate)
        signal = resample(np.asarray(mixture, dtype=np.float32), self.sample_rate, rate, "polyphase")
        scale = float(np.sqrt(np.mean(signal.astype(np.float64) ** 2)) + 1e-5)
        tensor = torch.from_numpy(np.ascontiguousarray(signal.T / scale, dtype=np.float32))
        with torch_threads(self.options["threads"]):
            out = separate_chunked(model, tensor, rate, float(self.options["segment"]), float(self.options["overlap"]),
                                   self.device)
        out = out.numpy() * scale  # (targets, channels, t)
        stems = {}
        for name, stem in zip(model.cfg.targets, out):
            stem = resample(stem.T, rate, self.sample_rate, "polyphase")[: len(mixture)]
            if len(stem) < len(mixture):
                stem = np.pad(stem, ((0, len(mixture) - len(stem)), (0, 0)))
            stems[name] = stem.astype(np.float32)
        return stems

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        if self.model is None:
            raise RuntimeError(f"system {self.name!r}: call prepare(ctx) before separate")
        wanted = list(dict.fromkeys(sources))
        unknown = [s for s in wanted if s not in (*self.targets, ACCOMPANIMENT)]
        if unknown:
            raise KeyError(f"system {self.name!r} separates {[*self.targets, ACCOMPANIMENT]}, not {unknown}")
        mixture = np.asarray(mixture, dtype=np.float32)
        if mixture.ndim != 2 or mixture.shape[1] not in (1, 2):
            raise ValueError(f"system {self.name!r}: the mixture must be (n, 1) or (n, 2), not {mixture.shape}")
        mono = mixture.shape[1] == 1
        stereo = np.repeat(mixture, 2, axis=1) if mono else mixture
        stems = self.estimate(stereo)
        if self.options["wiener"]:
            stems = wiener(stereo, stems, self.sample_rate)
        elif self.options["mixture_consistency"]:
            residual = (stereo - np.sum(list(stems.values()), axis=0)) / len(stems)
            stems = {k: v + residual for k, v in stems.items()}
        stems[ACCOMPANIMENT] = stereo - stems["vocals"]
        out = {}
        for name in wanted:
            x = stems[name]
            out[name] = (x.mean(axis=1, keepdims=True) if mono else x).astype(np.float32)
        return out
