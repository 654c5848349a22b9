"""The training loop of every per-instrument separation model.

Loss: L1 on the waveforms of both outputs (target and accompaniment), as Demucs; it keeps the
level of the estimate, which the remix stage needs. Adam with a cosine learning-rate decay.
Batches come from a sampler with ``batch(rng, batch_size) -> (mixture, references)``
(``baselines.training_data.SegmentSampler``).

Reproducible and resumable: the model is initialised from a seed derived from
(seed, member, instrument); the batch of step ``k`` is drawn from ``Generator([seed, k])``, and
the torch generator that dropout draws from is seeded from the same generator for that step
(inside ``torch.random.fork_rng``, so the caller's global RNG is left as it was); the
training state (model, Adam moments, step) is saved every ``checkpoint_every`` steps to
``train_state.safetensors``. A run resumed from a checkpoint therefore reproduces the
uninterrupted run. When training finishes the model is written in the Hugging Face layout
(config.json + model.safetensors, see ``baselines.models.hf_checkpoint``) in the same folder.
"""

from __future__ import annotations

import json
import logging
import math
import time
import zlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from harness.files import atomic_write

from baselines.models.hf_checkpoint import CONFIG_NAME, WEIGHTS_NAME, read_config, save_pretrained

logger = logging.getLogger(__name__)

STATE_NAME = "train_state.safetensors"


@dataclass
class TrainConfig:
    steps: int = 150
    batch_size: int = 4
    segment_seconds: float = 1.0
    lr: float = 2e-3
    final_lr_fraction: float = 0.1  # cosine decay from lr to lr * this at the last step
    grad_clip: float = 5.0
    checkpoint_every: int = 50
    holdout_fraction: float = 0.15  # training songs kept out of member training (for the ensemble's weights)
    max_cached_songs: int = 64
    optimizer: str = "adam"  # or "adamw" (decoupled weight decay, Loshchilov & Hutter 2019)
    weight_decay: float = 0.0  # AdamW only
    warmup_steps: int = 0  # linear warm-up from lr / warmup_steps to lr, then the cosine decay
    steps_per_epoch: int = 0  # > 0 with patience: early stop on the epoch's mean training loss
    patience: int = 0  # epochs without a new best (by 1e-4 relative) before stopping; 0: never

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = dict(values or {})
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)


def derived_seed(seed: int, *names: str) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32("/".join(names).encode())) % (2**31)


# --------------------------------------------------------------------------- checkpoints


def is_finished(directory: Path, steps: int) -> bool:
    directory = Path(directory)
    if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
        return False
    return int(read_config(directory).get("trained_steps", 0)) >= steps


def check_compatible(directory: Path, model: torch.nn.Module) -> None:
    """RuntimeError naming `directory` when its config.json holds a model of another
    configuration than `model.cfg` (nothing when the folder has no config.json yet)."""
    directory = Path(directory)
    if (directory / CONFIG_NAME).is_file():
        stored = read_config(directory)
        differs = {k: (stored.get(k), v) for k, v in model.cfg.to_dict().items() if stored.get(k) != v}
        if differs:
            raise RuntimeError(
                f"{directory} holds a model with another configuration {differs} (stored, wanted); "
                "delete that folder to retrain, or change the experiment folder"
            )


def save_train_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"step": str(step), "meta": json.dumps(meta, sort_keys=True)}))


def read_train_meta(path: Path) -> dict:
    """The `meta` dict saved with a training state."""
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        return json.loads(handle.metadata().get("meta", "{}"))


def load_train_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as handle:
        step = int(handle.metadata()["step"])
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optim_state = optimizer.state_dict()
    optim_state["state"] = state
    optimizer.load_state_dict(optim_state)
    return step


def resume_train_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, train_options: dict,
                       description: str = "") -> int:
    """The step to start from: 0 without a saved state at `path`, else the saved step after
    loading the model and optimiser from it; RuntimeError naming the file when it was saved with
    other training options than `train_options` (its meta's ``train``)."""
    path = Path(path)
    if not path.is_file():
        return 0
    stored = read_train_meta(path).get("train")
    if stored is not None and stored != train_options:
        raise RuntimeError(f"{path} was written with other training options {stored}; delete it to retrain")
    step = load_train_state(path, model, optimizer)
    logger.info("resuming %s from step %d", description, step)
    return step


# --------------------------------------------------------------------------- training


def learning_rate(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps - 1))
    low = cfg.lr * cfg.final_lr_fraction
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


def train_model(
    model: torch.nn.Module,
    sampler,
    cfg: TrainConfig,
    directory: Path,
    seed: int,
    device: str = "cpu",
    description: str = "",
    extra: dict | None = None,
    stop_after: int | None = None,
    loss_fn=None,
) -> torch.nn.Module:
    """Train (or resume) `model` into `directory`; returns it in eval mode on `device`.

    `stop_after` ends the run early after that step (to test resuming); the HF-layout model is
    written only when all `cfg.steps` are done, or when the early stop (`cfg.patience`
    epochs of `cfg.steps_per_epoch` steps without a better mean loss) ends training.
    `loss_fn(model, mixture, references) -> scalar` replaces the default waveform L1."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)  # decaying notes produce subnormal floats, many times slower on CPU
    model = model.to(device)
    if cfg.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    elif cfg.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    else:
        raise ValueError(f"optimizer must be adam or adamw, not {cfg.optimizer!r}")
    loss_fn = loss_fn or (lambda m, x, refs: (m(x) - refs).abs().mean())
    state_path = directory / STATE_NAME
    rng_devices = [torch.device(device).index or 0] if torch.device(device).type == "cuda" else []
    step = 0
    early = {"best": float("inf"), "bad": 0, "sum": 0.0, "stopped": 0}  # early-stop state, saved with the checkpoint
    if state_path.is_file():
        step = load_train_state(state_path, model, optimizer)
        early.update(read_train_meta(state_path).get("early", {}))
        logger.info("resuming %s from step %d", description, step)
    meta = {"train": cfg.to_dict(), **(extra or {})}
    model.train()
    last = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(total=cfg.steps, initial=step, desc=description or "train", disable=None, leave=False)
    running = None
    started, started_cpu, first_step = time.perf_counter(), time.process_time(), step
    while step < last and not early["stopped"]:
        rng = np.random.default_rng([int(seed), step])
        mixture, references = sampler.batch(rng, cfg.batch_size)
        mixture, references = mixture.to(device), references.to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        optimizer.zero_grad(set_to_none=True)
        with torch.random.fork_rng(devices=rng_devices):  # dropout draws from (seed, step): a resumed run reproduces
            torch.manual_seed(int(rng.integers(2**62)))
            loss = loss_fn(model, mixture, references)
            loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        if cfg.patience and cfg.steps_per_epoch:
            early["sum"] += loss.item()
            if step % cfg.steps_per_epoch == 0:
                epoch_loss, early["sum"] = early["sum"] / cfg.steps_per_epoch, 0.0
                if epoch_loss < early["best"] * (1 - 1e-4):
                    early["best"], early["bad"] = epoch_loss, 0
                else:
                    early["bad"] += 1
                if early["bad"] >= cfg.patience:
                    early["stopped"] = step
                    logger.info("%s: early stop at step %d (epoch loss %.4g, best %.4g)", description, step, epoch_loss, early["best"])
        if step % cfg.checkpoint_every == 0 or step == last or early["stopped"]:
            save_train_state(state_path, model, optimizer, step, {**meta, "early": early})
    bar.close()
    if step >= cfg.steps or early["stopped"]:
        timing = {
            "steps_this_run": step - first_step,
            "wall_seconds_this_run": round(time.perf_counter() - started, 2),
            "cpu_seconds_this_run": round(time.process_time() - started_cpu, 2),
        }
        extra_fields = {"trained_steps": max(step, cfg.steps) if early["stopped"] else step, "stopped_at_step": step,
                        "final_loss": running, "timing": timing, **meta}
        save_pretrained(model, directory, extra=extra_fields)
    return model.eval()


def init_model(build, seed: int) -> torch.nn.Module:
    """Build a model with parameters drawn from `seed`, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()
