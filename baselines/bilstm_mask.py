"""`bilstm_mask`, `bilstm_mask_onnx`, `bilstm_mask_int8`: seed 002's CNN-BiLSTM vocal mask
separator (``baselines.bilstm_mask_model``, whose docstring lists what the thesis claimed and
what we chose), in PyTorch, as ONNX fp32 in onnxruntime, and as ONNX dynamic int8
(``baselines.bilstm_mask_onnx``). The three share one trained checkpoint and one pipeline;
only the mask network's runtime differs, so their scores differ only by what export and
quantisation change.

``separate(mixture, sources)`` takes a stereo (n, 2) float32 mixture at 44.1 kHz and any of
``vocals`` and ``accompaniment``; it returns ``{source: (n, 2) float32}``. A mono, silent, empty
or non-finite mixture is an ``InputError`` (one line); ``separate_file(path)`` also checks the
file's rate. Inference: chunks of ``segment`` seconds cross-faded over ``overlap`` seconds
(``baselines.inference.separate_chunked``); per chunk the complex STFT, the max-abs-normalised
magnitude -> mask (then the optional median filter on the mask) -> vocals = iSTFT(mask x mixture
STFT) (the mixture's phase), accompaniment = mixture - vocals. Then, optionally:

``wiener_iterations`` k >= 1: k passes of the soft-mask re-cut ``baselines.postfilter.wiener``
                      (each stem's share ``|S_i|^2 / sum_j |S_j|^2`` of the mixture STFT, each
                      pass from the previous pass's stems), per channel; 0: off.
``compressor``        null, or ``{threshold, ratio, attack, release, makeup_gain}`` (dB, ratio,
                      ms, ms, dB): a dynamic-range compressor on the vocal stem
                      (``harness.compressor.FastCompressor``, pyclarity's compressor compiled).
``median_filter``     ``{freq: 1, time: 1}``: kernel (bins, frames) of a median filter on the
                      mask (1 x 1: off).

Training (``--stage train``, or ``prepare`` when no finished checkpoint exists): random
segments of the training split (``SegmentSampler`` in its per-instrument mode: target vocals,
accompaniment the rest; gains -6..+3 dB, left/right swaps), ``baselines.training.train_model``
with the thesis' Adam at a constant learning rate 1e-3 (``final_lr_fraction`` 1) and the
spectrogram MSE (``spectrogram_mse``). The thesis' batch 32 and 100 epochs are the full
preset's batch and a step count; the demo preset uses batch 8 and 1.5 s segments (the thesis
gives no segment length) to train in about two minutes on two CPU cores.
With ``tune.trials`` > 0, training first runs the Optuna study of
``baselines.bilstm_mask_tune`` and trains the final model with the best trial's parameters.

Options (``systems.<name>``; every one has a default): ``preset`` (auto | demo | full),
``model`` (``BiLSTMMaskConfig`` overrides), ``train`` (``TrainConfig`` overrides), ``tune``
(see ``baselines.bilstm_mask_tune.TUNE_DEFAULTS``), ``train_if_missing``, ``segment``/``overlap``
(s), ``median_filter``, ``wiener_iterations``, ``compressor``, ``device`` (torch variant:
auto = cuda when present), ``seed`` (null: the run's), ``threads`` (torch / onnxruntime CPU threads).

Checkpoint: ``ctx.checkpoint_dir/bilstm_mask/<preset>[-tuned]/`` (``config.json``,
``model.safetensors``, ``model.onnx``, ``model.int8.onnx``; ``tune/`` with the study).
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.bilstm_mask_model import SOURCES, BiLSTMMask, BiLSTMMaskConfig, spectrogram_mse
from baselines.inference import separate_chunked, torch_threads
from baselines.models.hf_checkpoint import WEIGHTS_NAME, load_pretrained, read_config
from baselines.postfilter import wiener
from baselines.separators import file_digest, resolve_preset
from baselines.training import TrainConfig, derived_seed, init_model, is_finished, train_model
from baselines.training_data import SegmentSampler, training_songs
from evaluators.device import resolve_device
from harness.audio import check_signal, read_audio
from harness.errors import HarnessError, InputError
from harness.options import check_keys, plain, read_options
from harness.systems import VOCALS, RunContext, register

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
MEMBER = "bilstm_mask"
COMPRESSOR_KEYS = ("threshold", "ratio", "attack", "release", "makeup_gain")

DEFAULTS: dict[str, Any] = {
    "preset": "auto",
    "model": {},
    "train": {},
    "tune": {},
    "train_if_missing": True,
    "segment": 10.0,
    "overlap": 1.0,
    "median_filter": {"freq": 1, "time": 1},
    "wiener_iterations": 0,
    "compressor": None,
    "device": "auto",
    "seed": None,
    "threads": 1,
}

# Thesis (Table 4.1): Adam, lr 1e-3, batch 32, MSE; a constant learning rate (no schedule is named).
DEMO_TRAIN = {"steps": 260, "batch_size": 8, "segment_seconds": 1.5, "lr": 1e-3, "final_lr_fraction": 1.0,
              "holdout_fraction": 0.0, "checkpoint_every": 50, "grad_clip": 5.0}
FULL_TRAIN = {"steps": 100_000, "batch_size": 32, "segment_seconds": 6.0, "lr": 1e-3, "final_lr_fraction": 1.0,
              "holdout_fraction": 0.0, "checkpoint_every": 1000, "steps_per_epoch": 1000, "patience": 10}


def check_mixture(mixture: np.ndarray, where: str) -> np.ndarray:
    """The mixture as float32 (n, 2), or InputError naming `where`: not stereo, empty, silent,
    NaN or infinite samples."""
    mixture = np.asarray(mixture)
    if mixture.ndim != 2 or mixture.shape[1] != 2:
        raise InputError(where, f"expected a stereo (n, 2) mixture, got shape {mixture.shape}")
    return check_signal(mixture, where, allow_silence=False).astype(np.float32)


def median_filter_mask(mask: torch.Tensor, freq: int, time: int) -> torch.Tensor:
    """Median filter of a (batch, channels, bins, frames) mask over (`freq` bins, `time` frames)."""
    if int(freq) <= 1 and int(time) <= 1:
        return mask
    from scipy.ndimage import median_filter

    return torch.from_numpy(median_filter(mask.cpu().numpy(), size=(1, 1, int(freq), int(time)), mode="nearest"))


class _Chunk(torch.nn.Module):
    """One chunk's separation for ``separate_chunked``: (1, 2, t) -> (1, 2 sources, 2, t)."""

    def __init__(self, model: BiLSTMMask, net, median: dict):
        super().__init__()
        self.model, self.net, self.median = model, net, median

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-1]
        x = torch.nn.functional.pad(x, (0, self.model.padded_length(length) - length))
        spec = self.model.spectrum(x)
        normalised, _ = self.model.normalise(spec.abs())
        mask = self.net(normalised).to(spec.device)
        mask = median_filter_mask(mask, self.median["freq"], self.median["time"]).to(spec.device)
        vocals = self.model.waveform(mask * spec, x.shape[-1])
        return torch.stack([vocals, x - vocals], dim=1)[..., :length]


@register("bilstm_mask", kind="separator", produces=(VOCALS,),
          description="seed 002's CNN-BiLSTM sigmoid magnitude mask for vocals (PyTorch), trained by --stage train")
class BiLSTMMaskSeparator:
    """Vocals and accompaniment from the CNN-BiLSTM mask network; see the module docstring."""

    name = "bilstm_mask"
    backend = "torch"  # torch | fp32 (ONNX) | int8 (ONNX)

    def __init__(self, section: Any = None):
        self.options = options = read_options(self.name, section, DEFAULTS)
        self.model_overrides = plain(options["model"])
        check_keys(f"system {self.name!r} model", self.model_overrides, [f.name for f in fields(BiLSTMMaskConfig)])
        check_keys(f"system {self.name!r} train", plain(options["train"]), [f.name for f in fields(TrainConfig)])
        from baselines.bilstm_mask_tune import TUNE_DEFAULTS

        self.tune_options = read_options(f"{self.name}.tune", options["tune"], TUNE_DEFAULTS)
        self.median = read_options(f"{self.name}.median_filter", options["median_filter"], {"freq": 1, "time": 1})
        if any(int(v) < 1 for v in self.median.values()):
            raise HarnessError(f"system {self.name!r}: median_filter sizes must be >= 1, not {self.median}")
        if int(options["wiener_iterations"]) < 0:
            raise HarnessError(f"system {self.name!r}: wiener_iterations must be >= 0, not {options['wiener_iterations']}")
        self.compressor = None
        if options["compressor"]:
            settings = plain(options["compressor"])
            check_keys(f"system {self.name!r} compressor", settings, COMPRESSOR_KEYS)
            from harness.compressor import FastCompressor

            self.compressor = FastCompressor(**{k: float(v) for k, v in settings.items()}, sample_rate=SAMPLE_RATE)
        if not float(options["segment"]) > 0 or not float(options["overlap"]) >= 0:
            raise HarnessError(f"system {self.name!r}: segment must be > 0 and overlap >= 0 seconds")
        self.sample_rate = SAMPLE_RATE
        self.model: BiLSTMMask | None = None
        self.net = None
        self.model_dir: Path | None = None
        self.identity = self.name

    # ---- configuration

    def train_config(self, preset: str, overrides: dict | None = None) -> TrainConfig:
        """The preset's training settings, then the ``train`` option, then `overrides` (tuned values)."""
        base = DEMO_TRAIN if preset == "demo" else FULL_TRAIN
        return TrainConfig.from_dict({**base, **plain(self.options["train"]), **(overrides or {})})

    def model_config(self, preset: str, overrides: dict | None = None) -> BiLSTMMaskConfig:
        """The preset's model, then the ``model`` option, then `overrides` (tuned values)."""
        cfg = BiLSTMMaskConfig.demo() if preset == "demo" else BiLSTMMaskConfig.full()
        return cfg.with_overrides({**self.model_overrides, **(overrides or {})}, f"system {self.name!r} model")

    def seed(self, ctx: RunContext) -> int:
        return int(self.options["seed"] if self.options["seed"] is not None else ctx.seed)

    def tuned(self) -> bool:
        return int(self.tune_options["trials"]) > 0

    def checkpoint_dir(self, ctx: RunContext, preset: str) -> Path:
        return Path(ctx.checkpoint_dir) / MEMBER / (f"{preset}-tuned" if self.tuned() else preset)

    # ---- training

    def train(self, ctx: RunContext) -> None:
        """Train (or resume, or skip when finished) the model on the training split; with
        ``tune.trials`` > 0 first run (or resume) the Optuna study."""
        self.train_final(ctx, resolve_preset(self.options["preset"], ctx))

    def trial_evaluator(self, model) -> "BiLSTMMaskSeparator":
        """A PyTorch separator (whatever this variant runs) around a tuning trial's trained `model`."""
        evaluator = BiLSTMMaskSeparator({"threads": self.options["threads"]})
        evaluator.model, evaluator.net = model.eval(), model.net
        return evaluator

    def train_final(self, ctx: RunContext, preset: str, stop_after: int | None = None) -> Path:
        model_over, train_over = {}, {}
        directory = self.checkpoint_dir(ctx, preset)
        if self.tuned():
            from baselines.bilstm_mask_tune import run_study, split_params

            best = run_study(self, ctx, preset, directory / "tune")
            model_over, train_over = split_params(best["params"])
        cfg = self.train_config(preset, train_over)
        if is_finished(directory, cfg.steps):
            return directory
        dataset = ctx.dataset("train")
        songs = training_songs(dataset, "vocals", cfg.holdout_fraction)
        self.train_one(dataset, songs, self.model_config(preset, model_over), cfg, directory,
                       derived_seed(self.seed(ctx), MEMBER, preset), f"{MEMBER} {preset}",
                       {"preset": preset, "tuned": self.tuned()}, stop_after)
        return directory

    def train_one(self, dataset, songs: list[str], model_cfg: BiLSTMMaskConfig, cfg: TrainConfig, directory: Path,
                  seed: int, description: str, extra: dict, stop_after: int | None = None) -> BiLSTMMask:
        """Train one model on `songs` of `dataset` into `directory` (resumable; see train_model)."""
        model = init_model(lambda: BiLSTMMask(model_cfg), seed)
        if (directory / "config.json").is_file():
            stored = read_config(directory)
            differs = {k: (stored.get(k), v) for k, v in model_cfg.to_dict().items() if stored.get(k) != v}
            if differs:
                raise HarnessError(f"{directory} holds a model with another configuration {differs} (stored, "
                                   "wanted); delete that folder to retrain, or change the experiment folder")
        sampler = SegmentSampler(dataset, songs, "vocals", model_cfg.samplerate, cfg.segment_seconds, cfg.max_cached_songs)
        if cfg.weight_decay and cfg.optimizer == "adam":
            cfg = TrainConfig.from_dict({**cfg.to_dict(), "optimizer": "adamw"})  # decay needs the decoupled form
        with torch_threads(self.options["threads"]):
            return train_model(model, sampler, cfg, directory, seed, device=resolve_device(self.options["device"]),
                               description=description, loss_fn=spectrogram_mse,
                               extra={"member": MEMBER, "songs": songs, **extra}, stop_after=stop_after)

    # ---- inference

    def prepare(self, ctx: RunContext) -> None:
        """Load the finished checkpoint (training it first when missing, unless
        ``train_if_missing`` is false: FileNotFoundError naming the folder), and for the ONNX
        variants make (or reuse) the ONNX files beside it."""
        preset = resolve_preset(self.options["preset"], ctx)
        directory = self.checkpoint_dir(ctx, preset)
        if not is_finished(directory, self.train_config(preset).steps):
            if not self.options["train_if_missing"]:
                raise FileNotFoundError(f"system {self.name!r}: no trained model in {directory} "
                                        f"(run --stage train, or set systems.{self.name}.train_if_missing=true)")
            self.train_final(ctx, preset)
        self.load(directory)
        kept = {k: v for k, v in self.options.items() if k not in ("train_if_missing", "threads")}  # output-neutral
        self.identity = (f"{self.name}|{json.dumps(kept, sort_keys=True, default=str)}|{preset}|"
                         f"{file_digest(directory / WEIGHTS_NAME)}")

    def load(self, directory: Path) -> None:
        """Use the model saved in `directory` (and, for the ONNX variants, its ONNX export)."""
        directory = Path(directory)
        device = resolve_device(self.options["device"]) if self.backend == "torch" else "cpu"
        model = load_pretrained(directory, device)
        if not isinstance(model, BiLSTMMask):
            raise HarnessError(f"{directory}: not a BiLSTMMask model")
        self.model, self.model_dir = model, directory
        if self.backend == "torch":
            self.net = model.net
        else:
            from baselines.bilstm_mask_onnx import OnnxMaskNet, ensure_exports

            paths = ensure_exports(model.net, directory, file_digest(directory / WEIGHTS_NAME))
            self.net = OnnxMaskNet(paths[self.backend], self.options["threads"])

    def estimate(self, mixture: np.ndarray) -> dict[str, np.ndarray]:
        """The mask's (vocals, accompaniment) of a checked (n, 2) mixture, before the Wiener
        passes and the compressor."""
        if self.model is None:
            raise RuntimeError(f"system {self.name!r}: call prepare(ctx) before separate")
        device = next(self.model.parameters()).device
        tensor = torch.from_numpy(np.ascontiguousarray(mixture.T))
        with torch_threads(self.options["threads"]):
            out = separate_chunked(_Chunk(self.model, self.net, self.median), tensor, SAMPLE_RATE,
                                   float(self.options["segment"]), float(self.options["overlap"]), str(device))
        return {name: stem.T.numpy().astype(np.float32) for name, stem in zip(SOURCES, out)}

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(sources))
        unknown = [s for s in wanted if s not in SOURCES]
        if unknown:
            raise KeyError(f"system {self.name!r} separates {list(SOURCES)}, not {unknown}")
        mixture = check_mixture(mixture, f"system {self.name!r} mixture")
        stems = self.estimate(mixture)
        for _ in range(int(self.options["wiener_iterations"])):
            stems = wiener(mixture, stems, SAMPLE_RATE)
        if self.compressor is not None:
            vocals = self.compressor(stems["vocals"].T.astype(np.float64).copy()).T
            stems = {"vocals": vocals.astype(np.float32), "accompaniment": stems["accompaniment"]}
        return {name: stems[name].astype(np.float32) for name in wanted}

    def separate_file(self, path: Path, sources: list[str] = SOURCES) -> dict[str, np.ndarray]:
        """``separate`` of an audio file: InputError naming the file for a rate other than
        44.1 kHz, a channel count other than 2, silence or an unreadable file."""
        return self.separate(read_audio(path, SAMPLE_RATE, channels=2, allow_silence=False), list(sources))


@register("bilstm_mask_onnx", kind="separator", produces=(VOCALS,),
          description="bilstm_mask's network exported to ONNX fp32 (opset 12), run in onnxruntime")
class BiLSTMMaskOnnxSeparator(BiLSTMMaskSeparator):
    """bilstm_mask with its mask network in onnxruntime (fp32)."""

    name = "bilstm_mask_onnx"
    backend = "fp32"


@register("bilstm_mask_int8", kind="separator", produces=(VOCALS,),
          description="bilstm_mask's ONNX network with dynamic int8 weights (quantize_dynamic QInt8)")
class BiLSTMMaskInt8Separator(BiLSTMMaskSeparator):
    """bilstm_mask with its mask network quantised to int8 (onnxruntime dynamic quantisation)."""

    name = "bilstm_mask_int8"
    backend = "int8"
