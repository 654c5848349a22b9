"""`unet_mask`: seed 000's attention U-Net frequency masker (T050, ICASSP 2026 Cadenza CLIP) as an
enhancer: signal in, the masked signal out, same length, rate and channels.

The network is ``baselines.models.mask_unet.MaskUNet`` (its docstring has the architecture): the
log-magnitude STFT of each channel, standardised per example so the input takes negative values,
goes through an 8-layer 2D convolutional U-Net (4 down, 4 up, skip connections, LeakyReLU) with
4-head self-attention at the bottleneck; its sigmoid mask multiplies the input's complex STFT
(the mixture's phase is kept) and the inverse STFT gives the output.

Training (``train(ctx)``, or ``prepare`` when no finished checkpoint exists), as the seed's
"discriminative masker": the unprocessed signal (music + vocals) in, the clean vocals as the
target, random segments of ``ctx.dataset("train")`` (``baselines.training_data.SegmentSampler``
with target ``vocals``: a random gain of -6..+3 dB on the vocals and on the rest, a left/right
swap, each example at unit mixture RMS); both channels of a stereo example are separate
examples. The CLIP1 demo (``ClipTask.dataset``) and CAD2 task 1 provide the clean vocals.
``baselines.training.train_model`` runs the loop: AdamW, a linear warm-up over the first
``warmup_epochs`` epochs and a cosine decay after it, an early stop when the epoch's mean loss
has not improved for ``patience`` epochs, checkpoints in safetensors every epoch (resumable:
the batch of step k is drawn from (seed, k)).

Loss (``baselines.models.mask_unet.mask_loss_terms``; the seed names the three terms but not
their weights, so these are ours, set by ``loss``): 1.0 x magnitude L1 weighted 2x (normalised
to mean 1) in the 300-4000 Hz speech band + 0.5 x log-magnitude L1 + 1.0 x spectral
convergence ||S - S_hat||_F / ||S||_F, on the masked mixture magnitude against the clean
vocals' magnitude.

Presets (``preset``: ``auto`` | ``demo`` | ``full``; ``auto`` as
``baselines.separators.resolve_preset``, demo data -> demo):

- ``full``: the seed's schedule, batch 2, 32 batches per epoch, 30 epochs (960 steps), 5-epoch
  warm-up, 3 s segments; ``MaskUNetConfig.full()`` (channels 32-64-128-256, n_fft 1024) at
  44.1 kHz. About 7 s a step on one CPU thread: a GPU job (``device: auto`` uses it).
- ``demo``: the same schedule (batch 2, 32 batches per epoch, 30 epochs, 5-epoch warm-up) on
  2 s segments of a small network (channels 8-16-32-32, n_fft 512) at 16 kHz: about 2 minutes
  on one CPU thread. The output holds nothing above 8 kHz (the model's Nyquist frequency);
  Whisper, which listens at 16 kHz, loses nothing by it.

Inference: the signal is resampled to the model's rate, each channel masked in ``segment``-
second chunks cross-faded over ``overlap`` seconds (``baselines.inference.separate_chunked``),
resampled back and cut to the input's length. Silence in gives silence out.

Options (``systems.unet_mask``; every one has a default): ``preset``; ``model`` (overrides of
``MaskUNetConfig``); ``train`` (overrides of ``TrainConfig``); ``loss`` (overrides of
``MaskLossWeights``); ``epochs``, ``batches_per_epoch``, ``warmup_epochs``, ``patience`` (null:
the preset's); ``model_sample_rate`` (null: 16000 demo, 44100 full); ``stems`` (the stems of a
separator it enhances in a chain ``<separator>+unet_mask``: ``[vocals]``; null: every stem);
``train_if_missing``; ``segment``/``overlap`` (10.0 / 0.5 s); ``device`` (``auto``: CUDA when
present); ``seed`` (null: the run's); ``threads`` (torch CPU threads, 1).

Checkpoint: ``ctx.checkpoint_dir/unet_mask/<preset>/`` (``config.json`` + ``model.safetensors``,
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
from baselines.models.mask_unet import MaskLossWeights, MaskUNet, MaskUNetConfig, mask_loss_terms
from baselines.trained_system import TrainedModelSystem
from baselines.training import TrainConfig, check_compatible, derived_seed, init_model, is_finished, train_model
from baselines.training_data import SegmentSampler, training_songs
from evaluators.device import resolve_device
from evaluators.resample import resample
from harness.audio import check_signal
from harness.errors import HarnessError, InputError
from harness.options import check_keys, plain, read_options
from harness.systems import RunContext, register

logger = logging.getLogger(__name__)

TARGET = "vocals"

DEFAULTS: dict[str, Any] = {
    "preset": "auto",
    "model": {},
    "train": {},
    "loss": {},
    "epochs": None,
    "batches_per_epoch": None,
    "warmup_epochs": None,
    "patience": None,
    "model_sample_rate": None,
    "stems": [TARGET],
    "train_if_missing": True,
    "segment": 10.0,
    "overlap": 0.5,
    "device": "auto",
    "seed": None,
    "threads": 1,
}

# The seed's schedule: batch 2, 32 batches per epoch, 30 epochs, 5 epochs of linear warm-up.
SCHEDULE = {"epochs": 30, "batches_per_epoch": 32, "warmup_epochs": 5, "patience": 5}
PRESETS = {
    "demo": {"rate": 16000, "model": {"n_fft": 512, "channels": [8, 16, 32, 32]},
             "train": {"batch_size": 2, "segment_seconds": 2.0, "lr": 2e-3, "optimizer": "adamw", "weight_decay": 1e-4,
                       "holdout_fraction": 0.0}},
    "full": {"rate": 44100, "model": {},
             "train": {"batch_size": 2, "segment_seconds": 3.0, "lr": 1e-3, "optimizer": "adamw", "weight_decay": 1e-4,
                       "holdout_fraction": 0.0}},
}


def mask_loss(model: MaskUNet, mixture: torch.Tensor, references: torch.Tensor, weights: MaskLossWeights) -> torch.Tensor:
    """The seed's loss on a SegmentSampler batch: mixture (b, ch, t) and references (b, 2, ch, t)
    (vocals, accompaniment); every channel is an example; the masked mixture magnitude is
    compared with the clean vocals' (``mask_loss_terms``'s ``total``)."""
    x = mixture.reshape(-1, mixture.shape[-1])
    target = model.stft(references[:, 0].reshape(-1, references.shape[-1])).abs()
    _, _, estimate = model.spectra(x)
    return mask_loss_terms(estimate, target, int(model.cfg.samplerate), weights)["total"]


@register("unet_mask", kind="enhancer",
          description="seed 000's attention U-Net frequency mask (unprocessed -> clean vocals), trained here")
class UNetMaskEnhancer(TrainedModelSystem):
    """Masks a signal towards its clean vocals with the trained attention U-Net."""

    name = "unet_mask"

    def __init__(self, section: Any = None):
        self.options = options = read_options(self.name, section, DEFAULTS)
        self.model_overrides = plain(options["model"])
        check_keys(f"system {self.name!r} model", self.model_overrides, [f.name for f in fields(MaskUNetConfig)])
        check_keys(f"system {self.name!r} train", plain(options["train"]), [f.name for f in fields(TrainConfig)])
        self.loss_weights = MaskLossWeights().with_overrides(plain(options["loss"]), f"system {self.name!r} loss")
        if not float(options["segment"]) > 0 or not float(options["overlap"]) >= 0:
            raise HarnessError(f"system {self.name!r}: segment must be > 0 and overlap >= 0 seconds, "
                               f"not {options['segment']!r} and {options['overlap']!r}")
        stems = options["stems"]
        self.enhances_stems = None if stems is None else tuple(str(s) for s in plain(stems))
        self.model: MaskUNet | None = None
        self.model_dir: Path | None = None
        self.device = resolve_device(options["device"])
        self.identity = self.name

    # ---- configuration

    def schedule(self) -> dict[str, int]:
        return {k: int(self.options[k] if self.options[k] is not None else v) for k, v in SCHEDULE.items()}

    def model_rate(self, preset: str) -> int:
        rate = self.options["model_sample_rate"]
        return int(rate) if rate else PRESETS[preset]["rate"]

    def train_config(self, preset: str) -> TrainConfig:
        s = self.schedule()
        epochs = {"steps": s["epochs"] * s["batches_per_epoch"], "warmup_steps": s["warmup_epochs"] * s["batches_per_epoch"],
                  "steps_per_epoch": s["batches_per_epoch"], "patience": s["patience"],
                  "checkpoint_every": s["batches_per_epoch"]}
        return TrainConfig.from_dict({**PRESETS[preset]["train"], **epochs, **plain(self.options["train"])})

    def build_model(self, preset: str) -> MaskUNet:
        cfg = MaskUNetConfig.demo() if preset == "demo" else MaskUNetConfig.full()
        overrides = {**PRESETS[preset]["model"], "samplerate": self.model_rate(preset), **self.model_overrides}
        return MaskUNet(cfg.with_overrides(overrides, f"system {self.name!r} model"))

    # ---- training

    def train_model(self, ctx: RunContext, preset: str, stop_after: int | None = None) -> Path:
        cfg = self.train_config(preset)
        directory = self.checkpoint_dir(ctx, preset)
        if is_finished(directory, cfg.steps):
            return directory
        dataset = ctx.dataset("train")
        songs = training_songs(dataset, TARGET, cfg.holdout_fraction)
        if not songs:
            raise HarnessError(f"system {self.name!r}: the training split {dataset.audio_root} has no song with clean {TARGET}")
        seed = derived_seed(self.seed(ctx), self.name, preset)
        model = init_model(lambda: self.build_model(preset), seed)
        check_compatible(directory, model)
        sampler = SegmentSampler(dataset, songs, TARGET, self.model_rate(preset), cfg.segment_seconds, cfg.max_cached_songs)
        with torch_threads(self.options["threads"]):
            train_model(
                model, sampler, cfg, directory, seed, device=resolve_device(self.options["device"]),
                description=f"{self.name} {preset}",
                loss_fn=lambda m, x, refs: mask_loss(m, x, refs, self.loss_weights),
                extra={"member": self.name, "preset": preset, "songs": songs, "loss": self.loss_weights.to_dict()},
                stop_after=stop_after,
            )
        return directory

    # ---- inference

    def load(self, directory: Path) -> None:
        """Use the model saved in `directory` (config.json + model.safetensors)."""
        model = load_pretrained(directory, self.device)
        if not isinstance(model, MaskUNet):
            raise RuntimeError(f"{directory}: not a MaskUNet model")
        self.model, self.model_dir = model, Path(directory)

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n,) or (n, channels) float signal at `sample_rate` Hz -> the masked signal, same
        shape, dtype and rate. InputError (one line) for an empty, non-finite or >2-D signal
        or a rate that is not positive."""
        if self.model is None:
            raise RuntimeError(f"system {self.name!r}: call prepare(ctx) before enhance")
        where = f"system {self.name!r} input"
        x = np.asarray(signal)
        if x.ndim not in (1, 2):
            raise InputError(where, f"expected (n,) or (n, channels) audio, not shape {x.shape}")
        if not int(sample_rate) > 0:
            raise InputError(where, f"sample rate must be positive, not {sample_rate!r}")
        check_signal(x, where)
        frames = x.reshape(len(x), -1).astype(np.float32)
        rate = int(self.model.cfg.samplerate)
        low = resample(frames, int(sample_rate), rate, "polyphase")
        n = len(low)
        low = np.pad(low, ((0, max(0, self.model.cfg.n_fft - n)), (0, 0)))  # the STFT needs a frame
        tensor = torch.from_numpy(np.ascontiguousarray(low.T))  # (channels, t)
        model = self.model

        def per_channel(chunk: torch.Tensor) -> torch.Tensor:  # (1, ch, t) -> (1, 1, ch, t)
            return model(chunk[0]).unsqueeze(0).unsqueeze(0)

        with torch_threads(self.options["threads"]):
            out = separate_chunked(per_channel, tensor, rate, float(self.options["segment"]), float(self.options["overlap"]),
                                   self.device)[0].numpy().T[:n]
        out = resample(out, rate, int(sample_rate), "polyphase")[: len(x)]
        out = np.pad(out, ((0, len(x) - len(out)), (0, 0)))
        return out.reshape(x.shape).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32)
