"""What the trained waveform post-processors (``codec``, ``msg``) share: options, presets,
checkpoints, and how a stem goes through a mono network at the network's rate.

Signal path of ``process(signal, rate, network, extra)`` (the channel and rate policy, which
``processing()`` states and the checkpoints record):

1. ``signal`` (n, channels) at ``rate`` (44.1 kHz in the tasks) is divided by its RMS (an
   all-silent signal, RMS < 1e-8, is returned as it is), as the networks train on unit-RMS
   segments; ``extra`` signals of the same shape (MSG's mixture) are divided by the same RMS;
2. resampled to the network's rate (``cfg.sample_rate``: 16 kHz at demo size) with
   ``evaluators.resample.resample(..., "polyphase")``;
3. each audio channel is one mono example (channels in the batch dimension, the signal and
   its extras as the network's input channels), run in segments of ``segment`` seconds
   cross-faded over ``overlap`` seconds (``baselines.inference.separate_chunked``);
4. resampled back to ``rate``, cut or zero-padded to n samples, multiplied by the RMS.

A subclass defines ``name``, ``configs(preset) -> (model config, GANTrainConfig)``,
``bundle(model_cfg, train_cfg)`` (``baselines.gan_training``'s bundle),
``sampler(ctx, model_cfg, train_cfg)``, ``checkpoint_dir(ctx, preset)`` and ``metadata``;
``train(ctx)`` and ``prepare(ctx)`` here train, resume or load the generator
(``ctx.checkpoint_dir/<name>/...``, safetensors, resumable).

Options shared by both (``systems.<name>.<key>``): ``preset`` (``auto`` | ``demo`` | ``full``,
as the separators), ``model`` and ``train`` (overrides of the model config and of
``GANTrainConfig``), ``train_if_missing``, ``segment``/``overlap`` (seconds), ``device``,
``seed`` (null: the run's), ``threads`` (torch CPU threads, 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import torch

from baselines.gan_training import GANTrainConfig, train_config_fields, train_gan
from baselines.inference import separate_chunked, torch_threads
from baselines.models.hf_checkpoint import WEIGHTS_NAME, load_pretrained
from baselines.separators import file_digest, resolve_preset
from baselines.training import check_compatible, derived_seed, init_model, is_finished
from evaluators.device import resolve_device
from evaluators.resample import resample
from harness.errors import HarnessError
from harness.options import check_keys, plain, read_options
from harness.systems import RunContext

SILENCE_RMS = 1e-8
RESAMPLER = "polyphase"
CHANNEL_POLICY = "each channel alone (mono network)"

COMMON_DEFAULTS: dict[str, Any] = {
    "preset": "auto",
    "model": {},
    "train": {},
    "train_if_missing": True,
    "segment": 10.0,
    "overlap": 0.1,
    "device": "auto",
    "seed": None,
    "threads": 1,
}


class WaveformPostProcessor:
    """Base of the trained mono waveform post-processors (see the module docstring)."""

    name = ""
    model_fields: list[str] = []

    def __init__(self, section: Any, defaults: dict[str, Any]):
        self.options = o = read_options(self.name, section, {**COMMON_DEFAULTS, **defaults})
        check_keys(f"system {self.name!r} model", plain(o["model"]), self.model_fields)
        check_keys(f"system {self.name!r} train", plain(o["train"]), train_config_fields())
        if float(o["segment"]) <= 0 or not 0 <= float(o["overlap"]) < float(o["segment"]):
            raise ValueError(f"segment must be > 0 and 0 <= overlap < segment, not {o['segment']} / {o['overlap']}")
        self.model: torch.nn.Module | None = None
        self.model_dir: Path | None = None
        self.device = "cpu"

    # ---- what a subclass defines

    def configs(self, preset: str) -> tuple[Any, GANTrainConfig]:
        raise NotImplementedError

    def bundle(self, model_cfg, train_cfg: GANTrainConfig) -> torch.nn.Module:
        raise NotImplementedError

    def sampler(self, ctx: RunContext, model_cfg, train_cfg: GANTrainConfig):
        raise NotImplementedError

    def checkpoint_dir(self, ctx: RunContext, preset: str) -> Path:
        raise NotImplementedError

    def metadata(self, ctx: RunContext) -> dict:
        """What the checkpoint records about the training data (beside ``processing``)."""
        return {}

    # ---- training and loading

    def seed(self, ctx: RunContext) -> int:
        return int(self.options["seed"] if self.options["seed"] is not None else ctx.seed)

    def overrides(self, base_model, base_train: GANTrainConfig) -> tuple[Any, GANTrainConfig]:
        where = f"system {self.name!r}"
        return (base_model.with_overrides(plain(self.options["model"]), f"{where} model"),
                base_train.with_overrides(plain(self.options["train"]), f"{where} train"))

    def train(self, ctx: RunContext) -> Path:
        """Train (or resume, or skip when finished) the generator of the preset."""
        preset = resolve_preset(self.options["preset"], ctx)
        model_cfg, train_cfg = self.configs(preset)
        directory = self.checkpoint_dir(ctx, preset)
        if is_finished(directory, train_cfg.steps):
            return directory
        seed = derived_seed(self.seed(ctx), self.name, preset)
        bundle = init_model(lambda: self.bundle(model_cfg, train_cfg), seed)
        check_compatible(directory, bundle.generator)
        sampler = self.sampler(ctx, model_cfg, train_cfg)
        extra = {"preset": preset, "processing": self.processing(model_cfg.sample_rate), **self.metadata(ctx)}
        with torch_threads(self.options["threads"]):
            train_gan(bundle.to(resolve_device(self.options["device"])), sampler, train_cfg, directory, seed,
                      description=self.name, extra=extra)
        return directory

    def prepare(self, ctx: RunContext) -> None:
        """Load the finished generator of the preset, training it first when missing (unless
        ``train_if_missing`` is false: FileNotFoundError naming the folder)."""
        preset = resolve_preset(self.options["preset"], ctx)
        model_cfg, train_cfg = self.configs(preset)
        directory = self.checkpoint_dir(ctx, preset)
        check_compatible(directory, SimpleNamespace(cfg=model_cfg))
        if not is_finished(directory, train_cfg.steps):
            if not self.options["train_if_missing"]:
                raise FileNotFoundError(f"system {self.name!r}: no trained model in {directory} (run --stage train, "
                                        f"or set systems.{self.name}.train_if_missing=true)")
            self.train(ctx)
        self.use(load_pretrained(directory, resolve_device(self.options["device"])), directory)

    def use(self, model: torch.nn.Module, directory: Path | None = None) -> "WaveformPostProcessor":
        """Process with `model` (eval mode) from now on."""
        self.model = model.eval()
        self.model_dir = directory
        self.device = str(next(model.parameters()).device)
        weights = f"|{file_digest(directory / WEIGHTS_NAME)}" if directory is not None else ""
        self.identity = f"{self.name}|{json.dumps(self.options, sort_keys=True, default=str)}{weights}"
        return self

    # ---- inference

    @property
    def model_rate(self) -> int:
        if self.model is None:
            raise RuntimeError(f"system {self.name!r}: call prepare(ctx) (or use(model)) first")
        return int(self.model.cfg.sample_rate)

    @staticmethod
    def processing(model_rate: int) -> dict:
        """The channel and rate policy (recorded in the checkpoint's config.json)."""
        return {"model_sample_rate": int(model_rate), "channels": CHANNEL_POLICY, "resampler": RESAMPLER,
                "level": "divided by the input's RMS, multiplied back after"}

    def process(self, signal: np.ndarray, sample_rate: int, network: Callable[[torch.Tensor], torch.Tensor],
                extra: list[np.ndarray] = ()) -> np.ndarray:
        """``signal`` (n, channels) at ``sample_rate`` -> ``network`` output, the same shape,
        float32; ``network`` maps (channels, 1 + len(extra), t) to (channels, 1, t) at the
        model rate (see the module docstring)."""
        x = np.asarray(signal)
        if x.ndim != 2 or not np.all(np.isfinite(x)):
            raise HarnessError(f"system {self.name!r}: expected a finite (n_samples, channels) signal, got shape {x.shape}")
        for e in extra:
            if np.shape(e) != x.shape:
                raise HarnessError(f"system {self.name!r}: the mixture {np.shape(e)} and the stem {x.shape} differ in shape")
        n, channels = x.shape
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if n else 0.0
        if rms < SILENCE_RMS:
            return x.astype(np.float32)
        rate = self.model_rate
        inputs = [resample(np.asarray(s, dtype=np.float32) / np.float32(rms), sample_rate, rate, RESAMPLER) for s in (x, *extra)]
        stacked = np.stack([a.T for a in inputs], axis=1)  # (channels, inputs, t)
        tensor = torch.from_numpy(np.ascontiguousarray(stacked.reshape(channels * len(inputs), -1)))

        def fold(chunk: torch.Tensor) -> torch.Tensor:  # (1, channels * inputs, t) -> (1, channels, t)
            return network(chunk.reshape(channels, len(inputs), -1).to(self.device)).reshape(1, channels, -1)

        with torch_threads(self.options["threads"]), torch.no_grad():
            out = separate_chunked(fold, tensor, rate, float(self.options["segment"]), float(self.options["overlap"]))
        out = resample(out.numpy().T, rate, sample_rate, RESAMPLER)[:n]
        if len(out) < n:
            out = np.pad(out, ((0, n - len(out)), (0, 0)))
        return (out * rms).astype(np.float32)
