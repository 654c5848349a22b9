"""One trainer for every per-instrument separation model, and chunked inference.

Training data: random segments of (mixture, target, accompaniment) cut from a dataset split
(the harness's ``ctx.dataset(split)``, see ``baselines.separators``). The target is the sum of
every track of the target instrument in a song (two voices of one instrument are one target,
as in the official baseline), the accompaniment the sum of the other tracks, and the mixture
their sum. Augmentation: a random gain per stem (-6..+3 dB) and a random left/right swap.
Each example is divided by its mixture's RMS (the separators do the same to the whole track at
inference and scale back), so quiet and loud songs weigh the same.

Loss: L1 on the waveforms of both outputs (target and accompaniment), as Demucs; it keeps the
level of the estimate, which the remix stage needs. Adam with a cosine learning-rate decay.

Reproducible and resumable: the model is initialised from a seed derived from
(seed, member, instrument); the batch of step ``k`` is drawn from ``Generator([seed, k])``; the
training state (model, Adam moments, step) is saved every ``checkpoint_every`` steps to
``train_state.safetensors``. A run resumed from a checkpoint therefore reproduces the
uninterrupted run. When training finishes the model is written in the Hugging Face layout
(config.json + model.safetensors, see ``baselines.hf_checkpoint``) in the same folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import time
import zlib
from collections import OrderedDict
from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from harness.files import atomic_write

from baselines.hf_checkpoint import CONFIG_NAME, WEIGHTS_NAME, read_config, save_pretrained

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


def resolve_device(option: str | None = "auto") -> str:
    if option in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(option)


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run a block with `count` torch CPU threads (None: leave the setting alone).

    On a 2-core machine shared with other processes (joblib workers, other jobs), two OpenMP
    threads per process spin and wait on each other: we measured the same training 10x slower
    than with one thread. One thread per process is the robust default."""
    if not count:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def derived_seed(seed: int, *names: str) -> int:
    return (int(seed) * 1_000_003 + zlib.crc32("/".join(names).encode())) % (2**31)


def resample(signal: np.ndarray, rate_in: int, rate_out: int, axis: int = 0) -> np.ndarray:
    """Polyphase resampling (exact ratio), float32."""
    if rate_in == rate_out:
        return np.asarray(signal, dtype=np.float32)
    ratio = Fraction(int(rate_out), int(rate_in))
    out = scipy.signal.resample_poly(signal, ratio.numerator, ratio.denominator, axis=axis)
    return out.astype(np.float32)


# --------------------------------------------------------------------------- data


def holdout_songs(song_names, fraction: float) -> set[str]:
    """A fixed subset of songs (by a hash of the name, not the order) kept out of training."""
    names = sorted(song_names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())
    if fraction <= 0 or len(names) < 3:
        return set()
    count = max(1, int(round(fraction * len(names))))
    return set(names[:count])


def song_instruments(song) -> list[str]:
    return sorted({track.instrument for track in song.sources.values()})


def training_songs(dataset, instrument: str, holdout_fraction: float) -> list[str]:
    """Songs of the split that contain `instrument`, minus the held-out songs (unless that
    would leave none)."""
    held = holdout_songs(dataset.songs, holdout_fraction)
    with_instrument = [name for name, song in sorted(dataset.songs.items()) if instrument in song_instruments(song)]
    kept = [name for name in with_instrument if name not in held]
    if not kept and with_instrument:
        logger.warning("every song with %s is held out; training on them anyway", instrument)
        return with_instrument
    return kept


def target_and_accompaniment(dataset, song, instrument: str) -> tuple[np.ndarray, np.ndarray]:
    """(n, channels) target = sum of the instrument's tracks, accompaniment = sum of the rest."""
    sources = dataset.load_song_sources(song)
    target = accompaniment = None
    for key, audio in sources.items():
        audio = np.asarray(audio, dtype=np.float32)
        if song.sources[key].instrument == instrument:
            target = audio if target is None else _add(target, audio)
        else:
            accompaniment = audio if accompaniment is None else _add(accompaniment, audio)
    if target is None:
        raise ValueError(f"song {song.name!r} has no {instrument} track")
    if accompaniment is None:
        accompaniment = np.zeros_like(target)
    length = min(len(target), len(accompaniment))
    return target[:length], accompaniment[:length]


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    length = min(len(a), len(b))
    return a[:length] + b[:length]


class SegmentSampler:
    """Draws reproducible batches of (mixture, target, accompaniment) segments at the model's rate."""

    def __init__(self, dataset, songs: list[str], instrument: str, model_rate: int, segment_seconds: float, max_cached: int = 64):
        if not songs:
            raise ValueError(f"no training song contains {instrument}")
        self.dataset, self.songs, self.instrument = dataset, list(songs), instrument
        self.model_rate, self.segment = model_rate, int(round(segment_seconds * model_rate))
        self.max_cached = max_cached
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        durations = np.array([max(float(getattr(dataset.songs[n].mixture, "duration", 1.0) or 1.0), 1e-3) for n in self.songs])
        self.song_weights = durations / durations.sum()

    def stems(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        target, accompaniment = target_and_accompaniment(self.dataset, self.dataset.songs[name], self.instrument)
        rate = int(self.dataset.sample_rate)
        stems = (resample(target, rate, self.model_rate), resample(accompaniment, rate, self.model_rate))
        self._cache[name] = stems
        while len(self._cache) > self.max_cached:
            self._cache.popitem(last=False)
        return stems

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """mixture (b, ch, t) and references (b, 2, ch, t), each example scaled to unit mixture RMS."""
        mixes, refs = [], []
        for _ in range(batch_size):
            name = self.songs[rng.choice(len(self.songs), p=self.song_weights)]
            target, accompaniment = self.stems(name)
            length = len(target)
            start = int(rng.integers(0, max(1, length - self.segment + 1)))
            t = _crop(target, start, self.segment)
            a = _crop(accompaniment, start, self.segment)
            t = t * np.float32(10 ** (rng.uniform(-6, 3) / 20))
            a = a * np.float32(10 ** (rng.uniform(-6, 3) / 20))
            if rng.random() < 0.5:
                t, a = t[:, ::-1], a[:, ::-1]
            mix = t + a
            scale = np.float32(np.sqrt(np.mean(mix**2)) + 1e-5)
            mixes.append(mix.T / scale)
            refs.append(np.stack([t.T, a.T]) / scale)
        return torch.from_numpy(np.ascontiguousarray(np.stack(mixes))), torch.from_numpy(np.ascontiguousarray(np.stack(refs)))


def _crop(signal: np.ndarray, start: int, length: int) -> np.ndarray:
    out = signal[start : start + length]
    if len(out) < length:
        out = np.pad(out, ((0, length - len(out)), (0, 0)))
    return out.astype(np.float32)


# --------------------------------------------------------------------------- checkpoints


def is_finished(directory: Path, steps: int) -> bool:
    directory = Path(directory)
    if not (directory / CONFIG_NAME).is_file() or not (directory / WEIGHTS_NAME).is_file():
        return False
    return int(read_config(directory).get("trained_steps", 0)) >= steps


def save_train_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            value = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"step": str(step), "meta": json.dumps(meta, sort_keys=True)}))


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


# --------------------------------------------------------------------------- training


def learning_rate(cfg: TrainConfig, step: int) -> float:
    progress = min(1.0, step / max(1, cfg.steps - 1))
    low = cfg.lr * cfg.final_lr_fraction
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


def train_model(
    model: torch.nn.Module,
    sampler: SegmentSampler,
    cfg: TrainConfig,
    directory: Path,
    seed: int,
    device: str = "cpu",
    description: str = "",
    extra: dict | None = None,
    stop_after: int | None = None,
) -> torch.nn.Module:
    """Train (or resume) `model` into `directory`; returns it in eval mode on `device`.

    `stop_after` ends the run early after that step (to test resuming); the HF-layout model is
    written only when all `cfg.steps` are done."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.set_flush_denormal(True)  # decaying notes produce subnormal floats, many times slower on CPU
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    state_path = directory / STATE_NAME
    step = 0
    if state_path.is_file():
        step = load_train_state(state_path, model, optimizer)
        logger.info("resuming %s from step %d", description, step)
    meta = {"train": cfg.to_dict(), **(extra or {})}
    model.train()
    last = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    bar = tqdm(total=cfg.steps, initial=step, desc=description or "train", disable=None, leave=False)
    running = None
    started, started_cpu, first_step = time.perf_counter(), time.process_time(), step
    while step < last:
        rng = np.random.default_rng([int(seed), step])
        mixture, references = sampler.batch(rng, cfg.batch_size)
        mixture, references = mixture.to(device), references.to(device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(cfg, step)
        estimate = model(mixture)
        loss = (estimate - references).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        step += 1
        running = loss.item() if running is None else 0.9 * running + 0.1 * loss.item()
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        if step % cfg.checkpoint_every == 0 or step == last:
            save_train_state(state_path, model, optimizer, step, meta)
    bar.close()
    if step >= cfg.steps:
        timing = {
            "steps_this_run": step - first_step,
            "wall_seconds_this_run": round(time.perf_counter() - started, 2),
            "cpu_seconds_this_run": round(time.process_time() - started_cpu, 2),
        }
        save_pretrained(model, directory, extra={"trained_steps": step, "final_loss": running, "timing": timing, **meta})
    return model.eval()


def init_model(build, seed: int) -> torch.nn.Module:
    """Build a model with parameters drawn from `seed`, leaving the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


# --------------------------------------------------------------------------- inference


def separate_chunked(
    model: torch.nn.Module,
    mixture: torch.Tensor,
    sample_rate: int,
    segment: float = 6.0,
    overlap: float = 0.1,
    device: str = "cpu",
) -> torch.Tensor:
    """Apply `model` to a long (channels, time) mixture in segments of `segment` seconds that
    overlap by `overlap` seconds, cross-faded linearly (the weights of overlapping segments sum
    to one). Returns (sources, channels, time) on the CPU."""
    torch.set_flush_denormal(True)
    channels, length = mixture.shape
    size = max(1, int(round(segment * sample_rate)))
    fade = min(int(round(overlap * sample_rate)), size // 2)
    out = None
    total = torch.zeros(length)
    start = 0
    with torch.no_grad():
        while True:
            end = min(start + size, length)
            chunk = mixture[:, start:end].unsqueeze(0).to(device)
            estimate = model(chunk)[0].float().cpu()  # (sources, channels, t)
            if out is None:
                out = torch.zeros(estimate.shape[0], channels, length)
            weight = torch.ones(end - start)
            if start > 0 and fade:
                ramp = torch.arange(1, fade + 1, dtype=torch.float32) / (fade + 1)
                weight[:fade] = ramp[: end - start]
            last = end >= length
            if not last and fade:
                weight[-fade:] = torch.minimum(weight[-fade:], torch.flip(torch.arange(1, fade + 1, dtype=torch.float32) / (fade + 1), [0]))
            out[..., start:end] += estimate * weight
            total[start:end] += weight
            if last:
                break
            start = end - fade
    return out / total.clamp_min(1e-8)


def describe(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)
