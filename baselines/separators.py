"""Per-instrument separators for CAD2 task 2: `convtasnet`, `waveunet`, `arunet`.

Each system holds one model per target instrument (target vs accompaniment, as the official
baseline). ``separate(mixture, sources)`` takes instrument names (``["Violin", "Cello"]``) and
returns ``{instrument: target estimate}``, each (n_samples, 2) float32 at 44.1 kHz, with
``add_residual`` times the accompaniment estimate added back (the official 0.1).

Options (the system's config section ``systems.<name>``; every one has a default):

``preset``            ``auto`` | ``official`` (``full``) | ``demo``. ``auto`` picks ``demo`` when
                      the harness runs on its demo data (``ctx.is_demo``), or, when it
                      does not say, when the training split holds less than an hour of audio.
``model``             overrides of the model's config fields (e.g. ``{X: 8}``).
``train``             overrides of ``TrainConfig`` (steps, batch_size, segment_seconds, lr, ...).
``model_sample_rate`` rate the models run at (null: 44100 for full size, 22050 for demo);
                      the mixture is resampled to it and the estimates back.
``instruments``       which instruments to train (null: all of the training split).
``train_if_missing``  ``prepare`` trains a missing model (true) or raises naming it (false).
``segment``/``overlap`` chunked inference, seconds (official: 6.0 / 0.1).
``add_residual``      0.1: this fraction of the estimated accompaniment is added to each target
                      (the official baseline's setting).
``mixture_consistency`` true (used when ``wiener`` is false): what the estimates leave of
                      the mixture (mixture minus their sum) is shared equally among the
                      requested stems, so the stems sum to the
                      mixture (Wisdom et al., ICASSP 2019). A remix with equal gains is then
                      the mixture itself, and separation errors reach the remix only in
                      proportion to how much the scene's gains differ.
``wiener``            true: the stems are re-cut from the mixture as soft masks, each stem's
                      share |S_i|^2 / sum_j |S_j|^2 of the mixture's STFT
                      (``baselines.postfilter``), as open-unmix and Demucs finish; they then
                      sum to the mixture and ``mixture_consistency`` has nothing left to do.
                      false reproduces the official baseline's plain waveform outputs.
``device``            ``auto`` (cuda when present) or a torch device.
``seed``              null: the run's seed (``ctx.seed``).
``threads``           torch CPU threads while training and separating (1: robust when several
                      processes share few cores, see ``baselines.inference.torch_threads``;
                      null: leave torch's setting).
``causal``            (convtasnet) causal model with cLN; default false.
``pretrained_dir``    (convtasnet) a folder with one HF-layout folder per instrument, named
                      ``<Instrument>`` or ``ConvTasNet_<Instrument>_<Causal|NonCausal>``
                      (the official checkpoints); used instead of training.

Checkpoints: ``ctx.checkpoint_dir/<member>/<preset>/<Instrument>/`` (member is
``convtasnet``, ``convtasnet_causal``, ``waveunet`` or ``arunet``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.inference import separate_chunked, torch_threads
from baselines.models.arunet import ARUNet, ARUNetConfig
from baselines.models.convtasnet import ConvTasNet, ConvTasNetConfig
from baselines.models.hf_checkpoint import WEIGHTS_NAME, load_pretrained
from baselines.models.waveunet import WaveUNet, WaveUNetConfig
from baselines.postfilter import wiener
from baselines.training import TrainConfig, check_compatible, derived_seed, init_model, is_finished, train_model
from baselines.training_data import SegmentSampler, training_songs
from evaluators.device import resolve_device
from evaluators.resample import resample
from harness.files import file_sha1
from harness.instruments import INSTRUMENTS as INSTRUMENTS_OF_CAD2
from harness.options import check_keys, plain, read_options
from harness.systems import INSTRUMENTS, RunContext, register

logger = logging.getLogger(__name__)

INPUT_RATE = 44100
DEMO_RATE = 22050
DEMO_MAX_SECONDS = 3600.0

COMMON_DEFAULTS: dict[str, Any] = {
    "preset": "auto",
    "model": {},
    "train": {},
    "model_sample_rate": None,
    "instruments": None,
    "train_if_missing": True,
    "segment": 6.0,
    "overlap": 0.1,
    "add_residual": 0.1,
    "mixture_consistency": True,
    "wiener": True,
    "device": "auto",
    "seed": None,
    "threads": 1,
}

# Training budgets of the demo preset (22.05 kHz models, batch 4, 0.75 s segments), per
# instrument on one CPU thread: ConvTasNet 48 x 0.21 s, Wave-U-Net 48 x 0.29 s, ARUNet 48 x 0.25 s
# (Intel Xeon). Chosen so that the headline command fits 15 minutes on a slow machine:
# benchmarks/README.md has the leaderboard at 120, 60 and 48 steps.
DEMO_TRAIN = {
    "convtasnet": {"steps": 48, "batch_size": 4, "segment_seconds": 0.75, "lr": 2e-3},
    "waveunet": {"steps": 48, "batch_size": 4, "segment_seconds": 0.75, "lr": 2e-3},
    "arunet": {"steps": 48, "batch_size": 4, "segment_seconds": 0.75, "lr": 3e-3},
}
FULL_TRAIN = {"steps": 100_000, "batch_size": 4, "segment_seconds": 3.0, "lr": 1e-3, "checkpoint_every": 1000}


def resolve_preset(option: str, ctx: RunContext) -> str:
    option = str(option or "auto").lower()
    if option in ("official", "full"):
        return "full"
    if option == "demo":
        return "demo"
    if option != "auto":
        raise ValueError(f"preset must be auto, official/full or demo, not {option!r}")
    if ctx.is_demo is not None:  # the harness says whether the data is its built-in demo
        return "demo" if ctx.is_demo else "full"
    try:
        dataset = ctx.dataset("train")
        seconds = sum(float(getattr(song.mixture, "duration", 0.0) or 0.0) for song in dataset.songs.values())
    except Exception:  # noqa: BLE001 (no training data: a user with pretrained models)
        return "full"
    return "demo" if seconds < DEMO_MAX_SECONDS else "full"


def file_digest(path: Path) -> str:
    """The first 12 hex digits of a file's SHA-1 (a weights file's short identity)."""
    return file_sha1(path)[:12]


class InstrumentSeparator:
    """One model per instrument; the subclasses say which model."""

    member = ""  # checkpoint folder name
    extra_defaults: dict[str, Any] = {}

    def __init__(self, section: Any = None):
        self.options = options = read_options(self.name, section, {**COMMON_DEFAULTS, **self.extra_defaults})
        self.model_overrides = plain(options["model"])
        # typos in the nested sections fail here, not mid-run
        check_keys(f"system {self.name!r} model", self.model_overrides, [f.name for f in fields(self.config_class)])
        check_keys(f"system {self.name!r} train", plain(options["train"]), [f.name for f in fields(TrainConfig)])
        self.sample_rate = INPUT_RATE
        self.models: dict[str, torch.nn.Module] = {}
        self.model_dirs: dict[str, Path] = {}
        self.preset: str | None = None
        self.device = resolve_device(options["device"])
        self.identity = self.name

    # ---- what the subclasses define

    model_class: Any = None  # an nn.Module taking a config; its config class has demo(), full(), from_dict()
    config_class: Any = None

    def build_model(self, preset: str, rate: int) -> torch.nn.Module:
        cfg = self.config_class.demo() if preset == "demo" else self.config_class.full()
        return self.model_class(cfg.with_overrides({"samplerate": rate, **self.model_overrides}, f"system {self.name!r} model"))

    @property
    def member_id(self) -> str:
        return self.member

    # ---- configuration

    def model_rate(self, preset: str) -> int:
        rate = self.options["model_sample_rate"]
        return int(rate) if rate else (DEMO_RATE if preset == "demo" else INPUT_RATE)

    def train_config(self, preset: str) -> TrainConfig:
        base = DEMO_TRAIN[self.member_family] if preset == "demo" else FULL_TRAIN
        return TrainConfig.from_dict({**base, **plain(self.options["train"])})

    @property
    def member_family(self) -> str:
        return self.member

    def checkpoint_dir(self, ctx: RunContext, instrument: str, preset: str) -> Path:
        return Path(ctx.checkpoint_dir) / self.member_id / preset / instrument

    def seed(self, ctx: RunContext) -> int:
        return int(self.options["seed"] if self.options["seed"] is not None else ctx.seed)

    def instruments(self, ctx: RunContext) -> list[str]:
        if self.options["instruments"]:
            return list(self.options["instruments"])
        try:
            return list(ctx.dataset("train").instruments)
        except Exception:  # noqa: BLE001 (no training split: use what the pretrained folder holds)
            available = [i for i in INSTRUMENTS_OF_CAD2 if self.has_pretrained(i)]
            if available:
                return available
            raise

    # ---- training

    def train(self, ctx: RunContext) -> None:
        """Train (or resume, or skip when finished) one model per instrument of the training split."""
        for instrument in self.training_units(ctx):
            self.train_unit(ctx, instrument)

    def training_units(self, ctx: RunContext) -> list[str]:
        """Independent pieces of training (one model per instrument) the runner may train in parallel."""
        return list(self.instruments(ctx))

    def train_unit(self, ctx: RunContext, instrument: str) -> None:
        self.train_instrument(ctx, instrument, resolve_preset(self.options["preset"], ctx))

    def train_instrument(self, ctx: RunContext, instrument: str, preset: str, stop_after: int | None = None) -> Path:
        cfg = self.train_config(preset)
        directory = self.checkpoint_dir(ctx, instrument, preset)
        if is_finished(directory, cfg.steps):
            return directory
        rate = self.model_rate(preset)
        dataset = ctx.dataset("train")
        songs = training_songs(dataset, instrument, cfg.holdout_fraction)
        seed = derived_seed(self.seed(ctx), self.member_id, instrument)
        model = init_model(lambda: self.build_model(preset, rate), seed)
        check_compatible(directory, model)
        sampler = self.training_sampler(dataset, songs, instrument, rate, cfg)
        with torch_threads(self.options["threads"]):
            train_model(
                model, sampler, cfg, directory, seed, device=resolve_device(self.options["device"]),
                description=f"{self.member_id} {instrument}",
                extra=self.training_metadata(instrument, preset, songs),
                stop_after=stop_after,
            )
        return directory

    def training_sampler(self, dataset, songs: list[str], instrument: str, rate: int, cfg: TrainConfig) -> SegmentSampler:
        """The (mixture, target) segments one instrument's model trains on: `instrument` against
        the rest of each song (a subclass may choose other sources or mix songs)."""
        return SegmentSampler(dataset, songs, instrument, rate, cfg.segment_seconds, cfg.max_cached_songs)

    def training_metadata(self, instrument: str, preset: str, songs: list[str]) -> dict:
        """What the checkpoint records about its training data (``train_model``'s ``extra``)."""
        return {"instrument": instrument, "member": self.member_id, "preset": preset, "songs": songs}

    # ---- inference

    def prepare(self, ctx: RunContext) -> None:
        self.preset = preset = resolve_preset(self.options["preset"], ctx)
        self.device = resolve_device(self.options["device"])
        cfg = self.train_config(preset)
        self.models, self.model_dirs = {}, {}
        for instrument in self.instruments(ctx):
            directory = self.pretrained_dir(instrument)
            if directory is None:
                directory = self.checkpoint_dir(ctx, instrument, preset)
                if not is_finished(directory, cfg.steps):
                    if not self.options["train_if_missing"]:
                        raise FileNotFoundError(
                            f"system {self.name!r}: no trained {instrument} model in {directory} "
                            f"(run --stage train, or set systems.{self.name}.train_if_missing=true)"
                        )
                    self.train_instrument(ctx, instrument, preset)
            self.models[instrument] = load_pretrained(directory, self.device)
            self.model_dirs[instrument] = directory
        digests = {k: file_digest(d / WEIGHTS_NAME) for k, d in sorted(self.model_dirs.items())}
        self.identity = f"{self.name}|{json.dumps(self.options, sort_keys=True, default=str)}|{preset}|{json.dumps(digests, sort_keys=True)}"

    def pretrained_dir(self, instrument: str) -> Path | None:
        return None

    def has_pretrained(self, instrument: str) -> bool:
        try:
            return self.pretrained_dir(instrument) is not None
        except FileNotFoundError:
            return False

    def separate_instrument(self, mixture: np.ndarray, instrument: str) -> tuple[np.ndarray, np.ndarray]:
        """(target, accompaniment) estimates, each (n, channels) at 44.1 kHz."""
        if instrument not in self.models:
            raise KeyError(f"system {self.name!r} has no model for {instrument!r} (models: {sorted(self.models)})")
        model = self.models[instrument]
        rate = int(getattr(model.cfg, "samplerate", self.sample_rate))
        signal = resample(np.asarray(mixture, dtype=np.float32), self.sample_rate, rate, "polyphase")
        scale = float(np.sqrt(np.mean(signal**2)) + 1e-5)
        tensor = torch.from_numpy(np.ascontiguousarray(signal.T / scale))
        with torch_threads(self.options["threads"]):
            estimate = separate_chunked(model, tensor, rate, self.options["segment"], self.options["overlap"], self.device)
        estimate = estimate.numpy() * scale  # (2, channels, t)
        out = []
        for stem in estimate:
            stem = resample(stem.T, rate, self.sample_rate, "polyphase")
            stem = stem[: len(mixture)]
            if len(stem) < len(mixture):
                stem = np.pad(stem, ((0, len(mixture) - len(stem)), (0, 0)))
            out.append(stem.astype(np.float32))
        return out[0], out[1]

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        if not self.models:
            raise RuntimeError(f"system {self.name!r}: call prepare(ctx) before separate")
        stems = {}
        for instrument in dict.fromkeys(sources):
            target, accompaniment = self.separate_instrument(mixture, instrument)
            stems[instrument] = target + self.options["add_residual"] * accompaniment
        if self.options["wiener"]:
            stems = wiener(mixture, stems, self.sample_rate)
        elif self.options["mixture_consistency"]:
            residual = (mixture - np.sum(list(stems.values()), axis=0)) / len(stems)
            stems = {k: v + residual for k, v in stems.items()}
        return {k: v.astype(np.float32) for k, v in stems.items()}


@register("convtasnet", kind="separator", produces=INSTRUMENTS, description="Per-instrument stereo ConvTasNet (official CAD2 baseline architecture)")
class ConvTasNetSeparator(InstrumentSeparator):
    """Per-instrument stereo ConvTasNet (official CAD2 task-2 baseline architecture)."""

    name = "convtasnet"
    member = "convtasnet"
    model_class, config_class = ConvTasNet, ConvTasNetConfig
    extra_defaults = {"causal": False, "pretrained_dir": None}

    @property
    def member_id(self) -> str:
        return "convtasnet_causal" if self.options["causal"] else "convtasnet"

    def build_model(self, preset: str, rate: int) -> ConvTasNet:
        causal = bool(self.options["causal"])
        cfg = ConvTasNetConfig.demo(causal) if preset == "demo" else ConvTasNetConfig.official(causal)
        cfg = cfg.with_overrides({"samplerate": rate, **self.model_overrides}, f"system {self.name!r} model")
        return ConvTasNet(cfg)

    def pretrained_dir(self, instrument: str) -> Path | None:
        root = self.options["pretrained_dir"]
        if not root:
            return None
        root = Path(root).expanduser()
        causality = "Causal" if self.options["causal"] else "NonCausal"
        for candidate in (root / f"ConvTasNet_{instrument}_{causality}", root / instrument):
            if (candidate / "config.json").is_file():
                return candidate
        raise FileNotFoundError(
            f"system 'convtasnet': pretrained_dir {root} has no {root / f'ConvTasNet_{instrument}_{causality}'} "
            f"or {root / instrument} folder with config.json and model.safetensors"
        )


@register("waveunet", kind="separator", produces=INSTRUMENTS, description="Per-instrument stereo Wave-U-Net (waveform U-Net)")
class WaveUNetSeparator(InstrumentSeparator):
    """Per-instrument stereo Wave-U-Net."""

    name = "waveunet"
    member = "waveunet"
    model_class, config_class = WaveUNet, WaveUNetConfig


@register("arunet", kind="separator", produces=INSTRUMENTS, description="Per-instrument Attentive MultiResUNet on the short-time DCT")
class ARUNetSeparator(InstrumentSeparator):
    """Per-instrument Attentive MultiResUNet on the short-time DCT."""

    name = "arunet"
    member = "arunet"
    model_class, config_class = ARUNet, ARUNetConfig
