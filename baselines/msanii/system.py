"""The ``msanii`` post-processor: Msanii's SDEdit / RePaint passes over a signal (seed 004).

``enhance(signal, rate)``: the signal (n, channels) is scaled to unit RMS (and back after),
zero-padded so its STFT has a multiple of 2^6 frames, turned into the scaled log-mel, noised
to t = ``strength`` and denoised by DDIM with the EMA U-Net (SDEdit, section 5.2), or, with
``mask``, inpainted in the masked time spans by RePaint (section 5.4); the mel goes back to a
|STFT| (the vocoder network, or the mel filters' pseudo-inverse), Griffin-Lim finds a phase,
and the result is cropped to the input length. With a mask the output is the input outside
the spans (joined with hop-long linear fades) and the generated audio inside them.

Chains after any separator (``arunet+msanii``: each stem in turn) or alone on a signal.
Training: on the clean single-instrument stems of the task's training split
(``baselines.msanii.train``), by ``--stage train`` or by ``prepare`` when the checkpoint is
missing; checkpoints ``ctx.checkpoint_dir/msanii/<preset>/`` (safetensors, resumable).

Options (``systems.msanii.<key>``):

``strength``          t in 0..999 where the denoising starts (the seed's figures: 0, 100, 500, 900).
                      t = 0 keeps the mel (a vocoder + Griffin-Lim round trip).
``steps``             DDIM steps over the full T = 1000 (200, the seed's); a pass from t runs
                      t // (1000 // steps) + 1 of them.
``eta``               DDIM eta (0: deterministic given the seed).
``seed``              null: the run's seed. The noise of a signal is drawn from (seed, a hash of
                      the signal), so it does not depend on the order of the work.
``griffin_lim_iters`` Griffin-Lim iterations (0: the starting phase as is; the seed used 200 from a
                      random phase). 200 cost 5.6 s per 4 s stereo stem on one CPU core.
``phase``             ``input`` (Griffin-Lim starts from the input's STFT phase, which a
                      post-processor has) or ``random`` (the seed's generation setting).
``vocoder``           ``pinv`` (the mel filters' pseudo-inverse) or ``network`` (the trained mel -> |STFT|
                      network, the seed's).

Defaults measured on one demo valid stem (Sax, 4 s) with the 400-step demo checkpoint, SI-SDR
of the output at t = 0 (the round trip alone) against the input: pinv with the input phase
13.6 dB; pinv + 32 Griffin-Lim iterations from the input phase -3.8 dB, from a random phase
-27.5 dB; the network vocoder with the input phase -7.3 dB (its loss was still 1.75 after 400
steps; the seed trains it 40k), + 32 iterations -22.7 dB. Hence pinv, input phase, no
Griffin-Lim by default; the seed's setting is ``vocoder=network griffin_lim_iters=200
phase=random``.
``mask``              null, or a list of [start, end] spans in seconds to regenerate (gap filling).
``jump_length``/``jump_n_sample`` RePaint's resampling (jump_n_sample 1: none).
``preset``            ``auto`` | ``demo`` | ``full`` (as the separators: demo on the harness's demo data).
``model``/``train``   overrides of ``UNetConfig`` / ``MsaniiTrainConfig`` fields.
``train_if_missing``  ``prepare`` trains a missing checkpoint (true) or raises naming it.
``device``, ``threads`` as the separators'.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from baselines.inference import torch_threads
from baselines.msanii.diffusion import CosineSchedule, T_TRAIN, generators, per_sample_noise, repaint, sdedit
from baselines.models.hf_checkpoint import read_config
from baselines.msanii.train import (MsaniiModel, MsaniiTrainConfig, load_bundle,
                                    train_config_fields, train_msanii)
from baselines.msanii.transforms import FRAME_MULTIPLE, HOP, SAMPLE_RATE, griffin_lim, padded_length, stft
from baselines.msanii.unet import UNetConfig
from baselines.separators import resolve_preset
from baselines.training import derived_seed, init_model, is_finished
from baselines.training_data import StemSampler
from evaluators.device import resolve_device
from evaluators.resample import resample
from harness.errors import HarnessError
from harness.options import check_keys, plain, read_options
from harness.systems import RunContext, register

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "strength": 100,
    "steps": 200,
    "eta": 0.0,
    "seed": None,
    "griffin_lim_iters": 0,
    "phase": "input",
    "vocoder": "pinv",
    "mask": None,
    "jump_length": 10,
    "jump_n_sample": 1,
    "preset": "auto",
    "model": {},
    "train": {},
    "train_if_missing": True,
    "device": "auto",
    "threads": 1,
}
SILENCE_RMS = 1e-8
MEMO_SIZE = 16  # outputs kept per process


def _check_options(o: dict) -> None:
    if not 0 <= int(o["strength"]) < T_TRAIN:
        raise ValueError(f"strength must be a timestep in 0..{T_TRAIN - 1}, not {o['strength']}")
    if not 1 <= int(o["steps"]) <= T_TRAIN:
        raise ValueError(f"steps must be in 1..{T_TRAIN}, not {o['steps']}")
    if float(o["eta"]) < 0 or int(o["griffin_lim_iters"]) < 0:
        raise ValueError("eta and griffin_lim_iters must be >= 0")
    if o["phase"] not in ("input", "random"):
        raise ValueError(f"phase must be input or random, not {o['phase']!r}")
    if o["vocoder"] not in ("network", "pinv"):
        raise ValueError(f"vocoder must be network or pinv, not {o['vocoder']!r}")
    for span in o["mask"] or []:
        if len(span) != 2 or not float(span[0]) < float(span[1]):
            raise ValueError(f"mask spans must be [start, end] seconds with start < end, not {span}")


@register("msanii", kind="enhancer", description="Msanii mel diffusion post-processor (SDEdit at t = strength, RePaint with mask)")
class MsaniiEnhancer:
    name = "msanii"

    def __init__(self, section: Any = None):
        self.options = o = read_options(self.name, section, DEFAULTS)
        check_keys("system 'msanii' model", plain(o["model"]), list(UNetConfig().to_dict()))
        check_keys("system 'msanii' train", plain(o["train"]), train_config_fields())
        _check_options(o)
        self.model: MsaniiModel | None = None
        self.schedule = CosineSchedule()
        self.seed = 0
        self._memo: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()  # (signal seed, rate) -> output

    # ---- configuration and training

    def configs(self, preset: str) -> tuple[UNetConfig, MsaniiTrainConfig]:
        unet = UNetConfig.demo() if preset == "demo" else UNetConfig.full()
        train = MsaniiTrainConfig.demo() if preset == "demo" else MsaniiTrainConfig()
        return (unet.with_overrides(plain(self.options["model"]), "system 'msanii' model"),
                train.with_overrides(plain(self.options["train"]), "system 'msanii' train"))

    def checkpoint_dir(self, ctx: RunContext, preset: str) -> Path:
        return Path(ctx.checkpoint_dir) / "msanii" / preset

    def train(self, ctx: RunContext) -> Path:
        """Train (or resume, or skip when finished) the bundle on the training split's clean stems."""
        preset = resolve_preset(self.options["preset"], ctx)
        unet_cfg, train_cfg = self.configs(preset)
        directory = self.checkpoint_dir(ctx, preset)
        if is_finished(directory, train_cfg.steps):
            self._check_compatible(directory, unet_cfg)
            return directory
        seed = derived_seed(self._seed(ctx), "msanii", preset)
        model = init_model(lambda: MsaniiModel(unet_cfg), seed)
        sampler = StemSampler(ctx.dataset("train"), train_cfg.segment_samples, train_cfg.max_cached_songs)
        with torch_threads(self.options["threads"]):
            train_msanii(model, sampler, train_cfg, directory, seed, extra={"preset": preset,
                         "instruments": sampler.instruments})
        return directory

    def _check_compatible(self, directory: Path, cfg: UNetConfig) -> None:
        stored = read_config(directory)
        differs = {k: (stored.get(k), v) for k, v in cfg.to_dict().items() if stored.get(k) != v}
        if differs:
            raise HarnessError(f"{directory} holds an msanii model with another configuration {differs} "
                               "(stored, wanted); delete that folder to retrain")

    def _seed(self, ctx: RunContext) -> int:
        return int(self.options["seed"] if self.options["seed"] is not None else ctx.seed)

    def prepare(self, ctx: RunContext) -> None:
        preset = resolve_preset(self.options["preset"], ctx)
        _, train_cfg = self.configs(preset)
        directory = self.checkpoint_dir(ctx, preset)
        if not is_finished(directory, train_cfg.steps):
            if not self.options["train_if_missing"]:
                raise FileNotFoundError(f"system 'msanii': no trained model in {directory} (run --stage train, "
                                        "or set systems.msanii.train_if_missing=true)")
        directory = self.train(ctx)
        self.use(load_bundle(directory, resolve_device(self.options["device"])), self._seed(ctx))

    def use(self, model: MsaniiModel, seed: int = 0) -> "MsaniiEnhancer":
        """Enhance with `model` (a bundle in eval mode) from now on; `seed` as the option's."""
        self.model = model.eval()
        self._memo.clear()
        self.seed = int(self.options["seed"] if self.options["seed"] is not None else seed)
        return self

    # ---- inference

    @staticmethod
    def digest(signal: np.ndarray) -> str:
        """SHA-1 of a signal's shape, dtype and samples."""
        x = np.ascontiguousarray(signal)
        return hashlib.sha1(f"{x.shape}{x.dtype}".encode() + x.tobytes()).hexdigest()

    def signal_seed(self, signal: np.ndarray) -> int:
        """The noise seed of one signal: (seed, its content), never its place in the run."""
        return derived_seed(self.seed, self.digest(signal)[:16])

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        """(n, channels) at `sample_rate` -> the same shape and dtype float32."""
        if self.model is None:
            raise RuntimeError("system 'msanii': call prepare(ctx) (or use(model)) before enhance")
        x = np.asarray(signal)
        if x.ndim != 2 or not np.all(np.isfinite(x)):
            raise HarnessError(f"system 'msanii': expected a finite (n_samples, channels) signal, got shape {x.shape}")
        n = len(x)
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if n else 0.0
        if rms < SILENCE_RMS:
            return x.astype(np.float32)  # silence (or nothing) stays as it is
        key = (self.digest(x), int(sample_rate))
        if key in self._memo:  # listeners of one scene share its stems: the same input gives the same output
            return self._memo[key].copy()
        audio = resample(x.astype(np.float32) / rms, sample_rate, SAMPLE_RATE, "polyphase")
        with torch_threads(self.options["threads"]):
            out = self._process(audio, self.signal_seed(x))
        out = resample(out, SAMPLE_RATE, sample_rate, "polyphase")[:n]
        out = np.pad(out, ((0, n - len(out)), (0, 0))) if len(out) < n else out
        out = (out * rms).astype(np.float32)
        self._memo[key] = out
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return out.copy()

    def _analyse(self, audio: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Unit-RMS (n, ch) audio -> (its complex STFT (1, ch, freq, frames) after zero padding to a
        multiple of 2^6 frames, its scaled log-mel (1, ch, mels, frames), the padded length)."""
        model = self.model
        n = len(audio)
        length = padded_length(n, max(FRAME_MULTIPLE, model.cfg.frame_multiple))
        device = next(model.parameters()).device
        wave = torch.from_numpy(np.ascontiguousarray(np.pad(audio, ((0, length - n), (0, 0))).T))[None].to(device)
        spec = stft(wave)
        return spec, model.transform.scale(model.transform.log_mel(spec.abs())), length

    def _diffuse(self, x0: torch.Tensor, seed: int) -> torch.Tensor:
        """SDEdit (no mask) or RePaint (mask) of a scaled log-mel with the EMA U-Net."""
        o, model = self.options, self.model
        if not o["mask"]:
            return sdedit(model.ema, self.schedule, x0, int(o["strength"]), int(o["steps"]), float(o["eta"]), [seed])
        known = (1 - self.frame_mask(x0.shape[-1])).to(x0)[None, None, None]
        return repaint(model.ema, self.schedule, x0, known, int(o["strength"]), int(o["steps"]), float(o["eta"]),
                       [seed], int(o["jump_length"]), int(o["jump_n_sample"]))

    @torch.no_grad()
    def _process(self, audio: np.ndarray, seed: int) -> np.ndarray:
        """Unit-RMS (n, ch) audio at 44.1 kHz -> processed audio (n, ch)."""
        o, model = self.options, self.model
        n = len(audio)
        spec, x0, length = self._analyse(audio)
        mel = self._diffuse(x0, seed)
        magnitude = model.vocoder(mel) if o["vocoder"] == "network" else model.transform.pinv_magnitude(mel)
        phase = spec.angle() if o["phase"] == "input" else None
        out = griffin_lim(magnitude.cpu(), length, int(o["griffin_lim_iters"]), None if phase is None else phase.cpu(),
                          generator=generators([seed + 1])[0])
        out = out[0].numpy().T[:n]
        if o["mask"]:
            keep = self.sample_mask(n)[:, None]
            out = keep * audio + (1 - keep) * out
        return out.astype(np.float32)

    @torch.no_grad()
    def spectrograms(self, signal: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
        """The scaled log-mels (channels, mels, frames) of one pass, for figures: ``input``,
        ``noised`` (x_t at t = strength, the pass's own first noise draw) and ``denoised``."""
        x = np.asarray(signal, dtype=np.float32)
        rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
        if rms < SILENCE_RMS:
            raise HarnessError("system 'msanii': cannot draw the spectrograms of a silent signal")
        seed = self.signal_seed(x)
        _, x0, _ = self._analyse(resample(x / rms, sample_rate, SAMPLE_RATE, "polyphase"))
        noise = per_sample_noise(x0.shape, generators([seed])).to(x0)
        noised = self.schedule.add_noise(x0, noise, int(self.options["strength"]))
        return {"input": x0[0].numpy(), "noised": noised[0].numpy(), "denoised": self._diffuse(x0, seed)[0].numpy()}

    def frame_mask(self, frames: int) -> torch.Tensor:
        """(frames,) 1 where a frame (centred at k * hop) touches a mask span (one frame of margin)."""
        centres = np.arange(frames) * HOP / SAMPLE_RATE
        margin = HOP / SAMPLE_RATE
        inside = np.zeros(frames, bool)
        for start, end in self.options["mask"]:
            inside |= (centres >= float(start) - margin) & (centres <= float(end) + margin)
        return torch.from_numpy(inside.astype(np.float32))

    def sample_mask(self, n: int) -> np.ndarray:
        """(n,) weight of the input: 0 inside the mask spans, 1 outside, hop-long linear fades at their edges."""
        t = np.arange(n) / SAMPLE_RATE
        fade = HOP / SAMPLE_RATE
        keep = np.ones(n)
        for start, end in self.options["mask"]:
            ramp = np.clip(np.maximum(float(start) - t, t - float(end)) / fade, 0.0, 1.0)
            keep = np.minimum(keep, ramp)
        return keep
