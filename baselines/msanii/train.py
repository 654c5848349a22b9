"""Msanii's model bundle (scalers, U-Net, its EMA copy, vocoder), its training loop and its checkpoints.

Training (seed 004, section 4.2.2 and appendix B): one step draws a batch of clean stem
segments, computes their scaled log-mels (the running scalers update in training mode),
draws t uniformly from 0..T-1 and noise, and minimises the epsilon MSE of the U-Net plus the
vocoder's spectral-convergence + log-magnitude loss on the same segments (the two networks
share no parameters, so one Adam over both equals two). Adam betas (0.5, 0.999), a linear
warm-up from ``warmup_start_factor * lr`` to lr over ``warmup_steps`` then constant, gradient
clipping, and an EMA copy of the U-Net (before ``ema_start`` it copies the weights; then every
``ema_every`` steps ema <- decay ema + (1 - decay) weights). The EMA U-Net is what samples.

The loop is the project's own (``baselines.training.train_model`` has no Adam betas, EMA or
second network) but shares its conventions and helpers: the batch of step k comes from
``numpy.random.Generator([seed, k])``, the state (bundle incl. scaler statistics and EMA,
Adam moments, step) is saved every ``checkpoint_every`` steps with
``baselines.training.save_train_state``, so a resumed run reproduces the uninterrupted one,
and the finished bundle is ``model.safetensors`` + ``config.json`` (``trained_steps``), which
``baselines.training.is_finished`` recognises. Only safetensors are read.

Data: ``baselines.training_data.StemSampler`` cuts segments of single instruments' clean stems (the sum of that
instrument's tracks in a song) from the training split with ``SegmentSampler``'s multi-target
mode (its gain and left/right augmentation), drops silent ones and scales each to unit RMS,
as ``MsaniiEnhancer.enhance`` scales its input.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from baselines.models.hf_checkpoint import CONFIG_NAME, WEIGHTS_NAME, read_config
from baselines.models.losses import spectral_convergence_log_magnitude
from baselines.models.model_config import ModelConfig
from baselines.msanii.diffusion import CosineSchedule
from baselines.msanii.transforms import HOP, N_FFT, MelTransform
from baselines.msanii.unet import MelVocoder, MsaniiUNet, UNetConfig
from baselines.training import STATE_NAME, resume_train_state, save_train_state
from harness.files import atomic_write

ARCHITECTURE = "Msanii"


@dataclass
class MsaniiTrainConfig(ModelConfig):
    steps: int = 110_000
    batch_size: int = 4
    segment_frames: int = 8192  # a multiple of 64: (frames - 1) * hop samples (8,387,584 at full size)
    lr: float = 2e-4
    warmup_steps: int = 500
    warmup_start_factor: float = 1 / 3
    beta1: float = 0.5
    beta2: float = 0.999
    ema_start: int = 2000
    ema_decay: float = 0.995
    ema_every: int = 10
    grad_clip: float = 1.0
    checkpoint_every: int = 1000
    max_cached_songs: int = 64

    @classmethod
    def demo(cls) -> "MsaniiTrainConfig":
        return cls(steps=400, batch_size=8, segment_frames=64, lr=1e-3, warmup_steps=50, ema_start=100,
                   ema_decay=0.99, ema_every=1, checkpoint_every=100)

    @property
    def segment_samples(self) -> int:
        return (int(self.segment_frames) - 1) * HOP

    def learning_rate(self, step: int) -> float:
        if step >= self.warmup_steps:
            return self.lr
        start = self.warmup_start_factor
        return self.lr * (start + (1 - start) * step / max(1, self.warmup_steps))


class MsaniiModel(torch.nn.Module):
    """The bundle: ``transform`` (mel + running scalers), ``unet``, ``ema`` (its EMA copy, no
    gradients), ``vocoder``. Everything that must survive a restart is in its state dict."""

    def __init__(self, cfg: UNetConfig, momentum: float = 1e-3, decay: float = 0.99):
        super().__init__()
        self.cfg = cfg
        self.transform = MelTransform(cfg.n_mels, momentum, decay)
        self.unet = MsaniiUNet(cfg)
        self.ema = copy.deepcopy(self.unet).requires_grad_(False)
        self.vocoder = MelVocoder(cfg.n_mels, N_FFT // 2 + 1, cfg.vocoder_width, cfg.mlp_factor)

    def trainable(self):
        return [*self.unet.parameters(), *self.vocoder.parameters()]

    @torch.no_grad()
    def update_ema(self, decay: float) -> None:
        for e, p in zip(self.ema.parameters(), self.unet.parameters()):
            e.mul_(decay).add_(p.detach(), alpha=1 - decay)
        for e, b in zip(self.ema.buffers(), self.unet.buffers()):
            e.copy_(b)

    def loss(self, audio: torch.Tensor, schedule: CosineSchedule, rng: np.random.Generator) -> tuple[torch.Tensor, dict]:
        """Diffusion epsilon-MSE + vocoder loss of a batch of audio (batch, channels, samples)."""
        magnitude = self.transform.magnitude(audio)
        x0 = self.transform.scale(self.transform.log_mel(magnitude))
        t = torch.from_numpy(rng.integers(0, schedule.T, size=len(x0)))
        noise = torch.from_numpy(rng.standard_normal(x0.shape).astype(np.float32))
        diffusion = torch.mean((self.unet(schedule.add_noise(x0, noise, t), t) - noise) ** 2)
        vocoder = spectral_convergence_log_magnitude(self.vocoder(x0.detach()), magnitude)
        return diffusion + vocoder, {"diffusion": diffusion.item(), "vocoder": vocoder.item()}


def train_msanii(model: MsaniiModel, sampler, cfg: MsaniiTrainConfig, directory: Path, seed: int,
                 description: str = "msanii", extra: dict | None = None, stop_after: int | None = None) -> MsaniiModel:
    """Train (or resume) `model` into `directory`; returns it in eval mode. `stop_after` ends the
    run after that step (to test resuming); the finished bundle is written after `cfg.steps`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)
    schedule = CosineSchedule()
    optimizer = torch.optim.Adam(model.trainable(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    state_path = directory / STATE_NAME
    step = resume_train_state(state_path, model, optimizer, cfg.to_dict(), description)
    meta = {"train": cfg.to_dict(), **(extra or {})}
    model.train()
    last = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(total=cfg.steps, initial=step, desc=description, disable=None, leave=False)
    started, first_step, running = time.perf_counter(), step, {}
    while step < last:
        rng = np.random.default_rng([int(seed), step])
        audio = sampler.batch(rng, cfg.batch_size)
        for group in optimizer.param_groups:
            group["lr"] = cfg.learning_rate(step)
        optimizer.zero_grad(set_to_none=True)
        loss, parts = model.loss(audio, schedule, rng)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.trainable(), cfg.grad_clip)
        optimizer.step()
        step += 1
        if step <= cfg.ema_start:
            model.update_ema(0.0)
        elif step % cfg.ema_every == 0:
            model.update_ema(cfg.ema_decay)
        running = {k: v if k not in running else 0.9 * running[k] + 0.1 * v for k, v in parts.items()}
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        if step % cfg.checkpoint_every == 0 or step == last:
            save_train_state(state_path, model, optimizer, step, meta)
    bar.close()
    if step >= cfg.steps and first_step < cfg.steps:
        timing = {"steps_this_run": step - first_step, "wall_seconds_this_run": round(time.perf_counter() - started, 2)}
        save_bundle(model, directory, {"trained_steps": step, "final_loss": running, "timing": timing, **meta})
    return model.eval()


def save_bundle(model: MsaniiModel, directory: Path, extra: dict) -> None:
    """model.safetensors (the whole bundle's state) and, last, config.json (model config + `extra`)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(Path(directory) / WEIGHTS_NAME, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    config = {**model.cfg.to_dict(), "architecture": ARCHITECTURE, **extra}
    text = json.dumps(config, indent=2, sort_keys=True)
    atomic_write(Path(directory) / CONFIG_NAME, lambda tmp: Path(tmp).write_text(text))


def load_bundle(directory: Path, device: str = "cpu") -> MsaniiModel:
    """The bundle that `save_bundle` wrote (strict load; a clear error naming the file)."""
    directory = Path(directory)
    config = read_config(directory)
    if config.get("architecture") != ARCHITECTURE:
        raise ValueError(f"{directory / CONFIG_NAME}: architecture {config.get('architecture')!r}, expected {ARCHITECTURE!r}")
    model = MsaniiModel(UNetConfig.from_dict(config))
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: missing")
    try:
        model.load_state_dict(load_file(str(weights)), strict=True)
    except RuntimeError as error:
        raise RuntimeError(f"{weights} does not match {directory / CONFIG_NAME}: {error}") from None
    return model.to(device).eval()


def train_config_fields() -> list[str]:
    return [f.name for f in fields(MsaniiTrainConfig)]
