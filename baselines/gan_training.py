"""The training loop of the generative waveform models (the ``codec`` and ``msg`` post-processors):
a reconstruction loss, optionally with a GAN (least-squares adversarial loss and feature matching).

One step (HiFi-GAN's order, Kong et al. 2020): the generator reconstructs the batch; when the
adversarial part is on (``adversarial`` and ``step >= adversarial_start``) the discriminators
take one step on ``lsgan_discriminator_loss(D(real), D(fake.detach()))``; then the generator
takes one step on ``stft_weight * MR-STFT(fake, real) + waveform_weight * mean|fake - real|
+ commitment_weight * commitment`` (the codec's RVQ; none for MSG)
``+ adversarial_weight * lsgan_generator_loss(D(fake)) +
feature_weight * feature_matching_loss(D(real), D(fake))`` (losses: ``baselines.models.losses``).

The model is a *bundle* (an ``nn.Module``) with ``generator``, ``discriminator`` (None: no
GAN) and ``reconstruct(batch) -> (fake, real, {"commitment": tensor} or {})``; batches come
from ``sampler.batch(rng, batch_size)``. Adam with betas (``beta1``, ``beta2``) over both
networks as two parameter groups of one optimiser (a network's step leaves the other alone:
its gradients are None), constant learning rates, gradient clipping per network.

Reproducible and resumable as ``baselines.training.train_model``: the batch of step k comes
from ``numpy.random.Generator([seed, k])`` and torch's generator is seeded from it for the step
(RVQ initialisation, dead codes and dropout draw from it) inside ``torch.random.fork_rng``; the
state (bundle, Adam moments, step) is saved every ``checkpoint_every`` steps with
``baselines.training.save_train_state``. When all steps are done the generator alone is
written in the Hugging Face layout (``save_pretrained``: config.json with ``trained_steps``,
the training config and the caller's extras, and model.safetensors), which
``baselines.training.is_finished`` recognises.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from baselines.models.hf_checkpoint import save_pretrained
from baselines.models.losses import (MSG_RESOLUTIONS, feature_matching_loss, lsgan_discriminator_loss,
                                     lsgan_generator_loss, multi_resolution_stft_loss)
from baselines.models.model_config import ModelConfig
from baselines.training import STATE_NAME, resume_train_state, save_train_state


@dataclass
class GANTrainConfig(ModelConfig):
    steps: int = 100_000
    batch_size: int = 16
    segment_seconds: float = 1.0
    lr: float = 2e-4  # generator
    lr_discriminator: float = 2e-4
    beta1: float = 0.8  # HiFi-GAN's
    beta2: float = 0.99
    adversarial: bool = True
    adversarial_start: int = 0  # steps of reconstruction alone before the discriminators join
    stft_weight: float = 1.0
    waveform_weight: float = 0.0  # L1 of the waveforms (EnCodec's time-domain loss l_t)
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0  # HiFi-GAN's
    commitment_weight: float = 1.0  # the codec's RVQ commitment loss
    grad_clip: float = 10.0
    checkpoint_every: int = 1000
    max_cached_songs: int = 64


def train_config_fields() -> list[str]:
    return [f.name for f in fields(GANTrainConfig)]


def _clip(params, limit: float) -> None:
    params = [p for p in params if p.grad is not None]
    if limit and params:
        torch.nn.utils.clip_grad_norm_(params, limit)


def train_gan(bundle: torch.nn.Module, sampler, cfg: GANTrainConfig, directory: Path, seed: int,
              description: str = "gan", extra: dict | None = None, stop_after: int | None = None,
              resolutions=MSG_RESOLUTIONS) -> torch.nn.Module:
    """Train (or resume) `bundle` into `directory`; returns it in eval mode. `stop_after` ends
    the run after that step (to test resuming); the generator is written after `cfg.steps`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)
    generator, discriminator = bundle.generator, bundle.discriminator
    groups = [{"params": list(generator.parameters()), "lr": cfg.lr}]
    if discriminator is not None:
        groups.append({"params": list(discriminator.parameters()), "lr": cfg.lr_discriminator})
    optimizer = torch.optim.Adam(groups, betas=(cfg.beta1, cfg.beta2))
    state_path = directory / STATE_NAME
    step = resume_train_state(state_path, bundle, optimizer, cfg.to_dict(), description)
    meta = {"train": cfg.to_dict(), **(extra or {})}
    bundle.train()
    last = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(total=cfg.steps, initial=step, desc=description, disable=None, leave=False)
    started, started_cpu, first_step, running = time.perf_counter(), time.process_time(), step, {}
    while step < last:
        rng = np.random.default_rng([int(seed), step])
        batch = sampler.batch(rng, cfg.batch_size)
        adversarial = discriminator is not None and cfg.adversarial and step >= cfg.adversarial_start
        parts = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**62)))
            fake, real, terms = bundle.reconstruct(batch)
            if adversarial:
                optimizer.zero_grad(set_to_none=True)
                d_loss = lsgan_discriminator_loss(discriminator(real), discriminator(fake.detach()))
                d_loss.backward()
                _clip(discriminator.parameters(), cfg.grad_clip)
                optimizer.step()
                parts["disc"] = d_loss.item()
            optimizer.zero_grad(set_to_none=True)
            stft = multi_resolution_stft_loss(fake, real, resolutions)
            loss = cfg.stft_weight * stft
            parts["stft"] = stft.item()
            if cfg.waveform_weight:
                waveform = torch.mean(torch.abs(fake - real))
                loss = loss + cfg.waveform_weight * waveform
                parts["l1"] = waveform.item()
            if "commitment" in terms:
                loss = loss + cfg.commitment_weight * terms["commitment"]
                parts["commit"] = terms["commitment"].item()
            if adversarial:
                discriminator.requires_grad_(False)
                fake_out = discriminator(fake)
                with torch.no_grad():
                    real_out = discriminator(real)
                adv, fm = lsgan_generator_loss(fake_out), feature_matching_loss(real_out, fake_out)
                loss = loss + cfg.adversarial_weight * adv + cfg.feature_weight * fm
                parts.update(adv=adv.item(), fm=fm.item())
            loss.backward()
            if discriminator is not None:
                discriminator.requires_grad_(True)
            _clip(generator.parameters(), cfg.grad_clip)
            optimizer.step()
        step += 1
        running = {k: v if k not in running else 0.9 * running[k] + 0.1 * v for k, v in parts.items()}
        bar.update(1)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        if step % cfg.checkpoint_every == 0 or step == last:
            save_train_state(state_path, bundle, optimizer, step, meta)
    bar.close()
    if step >= cfg.steps and first_step < cfg.steps:
        timing = {"steps_this_run": step - first_step, "wall_seconds_this_run": round(time.perf_counter() - started, 2),
                  "cpu_seconds_this_run": round(time.process_time() - started_cpu, 2)}
        save_pretrained(generator, directory, extra={"trained_steps": step, "final_loss": running, "timing": timing, **meta})
    return bundle.eval()
