"""`convtasnet_vocals` and `convtasnet_vocals_causal`: the official CAD2 task 1 baseline
separator, a stereo Conv-TasNet (Luo & Mesgarani 2019) splitting a song into vocals and
accompaniment (pyclarity 0.9.0 ``recipes/cad2/task1/ConvTasNet``; the network is
``baselines.models.convtasnet``, whose parameter names are the official ``ConvTasNetStereo``'s).

``separate(mixture, sources)`` takes a stereo ``(n, 2)`` float32 mixture at 44.1 kHz and any of
``vocals`` and ``accompaniment``; it returns ``{source: (n, 2) float32}``. A mono mixture, a
non-finite sample, another source name, or a task whose ``input_sample_rate`` is not 44100
(checked in ``prepare``) is a one-line ``HarnessError``. The model is run as the other trained
separators run (``baselines.separators.InstrumentSeparator.separate_instrument``): the
mixture resampled to the model's rate, divided by its RMS (the network with ReLU encoder, norm
layers and linear decoder is scale-equivariant up to the norms' epsilon, so this does not change
what the official models do), chunked with a cross-fade (``segment``/``overlap`` seconds, the
official 6.0 / 0.1), scaled back and resampled to 44.1 kHz. The causal model is causal in
every layer (cLN, left-padded dilated convolutions, no look-ahead beyond its encoder frame of
``L`` samples); the chunked inference adds the 0.1 s cross-fade of the official
``separate_sources``.

Sizes (``preset``): ``full`` (``official``) is the official config (``local/conf.yml``: N 256,
L 20, B 256, H 512, P 3, X 10, R 4, C 2, stereo, 44.1 kHz, gLN, or cLN when causal; 10.8M
parameters); ``demo`` is ``ConvTasNetConfig.demo`` (0.26M parameters, L 64 at 22.05 kHz) that
trains in about a minute on one CPU thread; ``auto`` picks ``demo`` on the built-in demo data.

Training (``--stage train``, or ``prepare`` when no finished checkpoint exists): random
segments of the songs of ``ctx.dataset("train")`` that have a vocals track, with targets (vocals, accompaniment = every other track),
each stem from its own random song and offset when ``random_mix`` (the official
``random_track_mix``; ``mix_background``), a random gain of -6..+3 dB and a left/right swap per
stem (``baselines.training_data.SegmentSampler``), then ``baselines.training.train_model``: L1
on both output waveforms (the official ``L1Loss``), Adam, gradient clipping at 5. Full preset:
lr 5e-4, 5 s segments, batch 8 (the official batch 4 with 2 accumulated), 137,600 steps (200
epochs of 86 MUSDB18 training tracks x 64 segments). Seeded (``seed``, else the run's),
resumable safetensors checkpoints, GPU when present (``device``), a progress bar.

Differences from the official recipe:

* ``mixture_consistency`` (default true): what the two estimates leave of the mixture
  (mixture - vocals - accompaniment) is shared equally between them, so they sum to the
  mixture (Wisdom et al., ICASSP 2019). The official enhance uses the raw network outputs. The
  raw outputs of the small demo models lose much of the signal: on the demo (6 items, the same
  trained non-causal model) the task score was 0.332 raw, 0.635 with consistency, 0.681 with
  ``wiener``, the unprocessed mixture 0.741 (README). With consistency, alpha 0 gives back the mixture and separation errors reach the remix
  only in proportion to alpha.
* a cosine learning-rate decay over a fixed number of steps instead of ReduceLROnPlateau
  (``half_lr``) and early stopping on a validation set; no gradient accumulation.
* inference on the RMS-normalised mixture (see above) instead of the -40 LUFS signal itself.

Options (``systems.<name>``; every one has a default; the rest as ``baselines.separators``):

``preset``            ``auto`` | ``demo`` | ``full`` (``official``).
``model``/``train``   overrides of ``ConvTasNetConfig`` / ``TrainConfig``.
``model_sample_rate`` null: 22050 for demo, 44100 for full.
``random_mix``        true: the vocals and the accompaniment of a training example come from
                      different songs and offsets.
``mixture_consistency`` true, see above (used when ``wiener`` is false).
``wiener``            false: true re-cuts both stems from the mixture as soft masks
                      (``baselines.postfilter.wiener``).
``add_residual``      0.0: this fraction of the accompaniment estimate added to the vocals.
``pretrained_dir``    null, or a local folder holding the official checkpoint in the Hugging Face
                      layout (``config.json`` + ``model.safetensors``): the folder itself, its
                      ``ConvTasNet_LyricsSeparation_<Causal|NonCausal>`` subfolder, or a hub cache
                      ``models--cadenzachallenge--ConvTasNet_LyricsSeparation_<...>/snapshots/<rev>``
                      (the revision ``refs/main`` names). Used instead of training; nothing is
                      downloaded. A model trained here is such a folder too
                      (``<exp>/<task>/checkpoints/convtasnet_vocals/demo/vocals``), so another task can
                      use it, e.g. as the CLIP STOI baseline's vocal estimator
                      (``systems.stoi.separator=convtasnet_vocals``; not run end to end here).
``segment``/``overlap``, ``train_if_missing``, ``device``, ``seed``, ``threads``: as
                      ``baselines.separators``.

Checkpoints: ``ctx.checkpoint_dir/<name>/<preset>/vocals/`` (config.json + model.safetensors,
``train_state.safetensors`` while training).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from baselines.models.convtasnet import ConvTasNet, ConvTasNetConfig
from baselines.postfilter import wiener
from baselines.separators import InstrumentSeparator
from baselines.training import TrainConfig
from baselines.training_data import SegmentSampler
from harness.errors import HarnessError
from harness.options import plain
from harness.systems import VOCALS, RunContext, register

TARGET = "vocals"
ACCOMPANIMENT = "accompaniment"
SOURCES = (TARGET, ACCOMPANIMENT)
OFFICIAL_REPO = "ConvTasNet_LyricsSeparation_{}"  # cadenzachallenge/<this> on the Hugging Face Hub

DEMO_TRAIN = {"steps": 250, "batch_size": 4, "segment_seconds": 1.0, "lr": 2e-3, "holdout_fraction": 0.0,
              "checkpoint_every": 50}
FULL_TRAIN = {"steps": 137_600, "batch_size": 8, "segment_seconds": 5.0, "lr": 5e-4, "grad_clip": 5.0,
              "holdout_fraction": 0.0, "checkpoint_every": 1000}


def hub_snapshot(root: Path, repo: str) -> Path | None:
    """The snapshot folder of ``cadenzachallenge/<repo>`` in a Hugging Face hub cache at `root`
    (the revision ``refs/main`` names, else the only snapshot); None when there is none."""
    cache = root / f"models--cadenzachallenge--{repo}"
    ref = cache / "refs" / "main"
    if ref.is_file():
        return cache / "snapshots" / ref.read_text().strip()
    snapshots = sorted(p for p in (cache / "snapshots").glob("*") if p.is_dir())
    return snapshots[0] if len(snapshots) == 1 else None


@register("convtasnet_vocals", kind="separator", produces=VOCALS,
          description="stereo ConvTasNet vocals/accompaniment (official CAD2 task 1 baseline, non-causal)")
class ConvTasNetVocals(InstrumentSeparator):
    """The official CAD2 task 1 baseline separator, non-causal (gLN)."""

    name = "convtasnet_vocals"
    member = "convtasnet_vocals"
    causal = False
    model_class, config_class = ConvTasNet, ConvTasNetConfig
    extra_defaults = {"pretrained_dir": None, "random_mix": True, "wiener": False, "add_residual": 0.0}

    def __init__(self, section: Any = None):
        super().__init__(section)
        if self.options["instruments"] not in (None, [TARGET]):
            raise HarnessError(f"system {self.name!r}: separates {TARGET} only; leave instruments unset, "
                               f"not {self.options['instruments']!r}")

    # ---- configuration

    def build_model(self, preset: str, rate: int) -> ConvTasNet:
        cfg = ConvTasNetConfig.demo(self.causal) if preset == "demo" else ConvTasNetConfig.official(self.causal)
        return ConvTasNet(cfg.with_overrides({"samplerate": rate, **self.model_overrides}, f"system {self.name!r} model"))

    def train_config(self, preset: str) -> TrainConfig:
        return TrainConfig.from_dict({**(DEMO_TRAIN if preset == "demo" else FULL_TRAIN), **plain(self.options["train"])})

    def instruments(self, ctx: RunContext) -> list[str]:
        return [TARGET]

    # ---- training

    def training_sampler(self, dataset, songs: list[str], instrument: str, rate: int, cfg: TrainConfig) -> SegmentSampler:
        """Vocals against the sum of the other stems, the songs' stems mixed at random when
        ``random_mix`` (as the official recipe's training set)."""
        return SegmentSampler(dataset, songs, list(SOURCES), rate, cfg.segment_seconds, cfg.max_cached_songs,
                              rest=ACCOMPANIMENT, mix_songs=bool(self.options["random_mix"]))

    def training_metadata(self, instrument: str, preset: str, songs: list[str]) -> dict:
        return {**super().training_metadata(instrument, preset, songs), "random_mix": bool(self.options["random_mix"])}

    # ---- inference

    def prepare(self, ctx: RunContext) -> None:
        rate = OmegaConf.select(ctx.cfg, "input_sample_rate") if OmegaConf.is_config(ctx.cfg) else None
        if rate is not None and int(rate) != self.sample_rate:
            raise HarnessError(f"system {self.name!r}: separates {self.sample_rate} Hz mixtures, but the task's "
                               f"input_sample_rate is {rate}")
        super().prepare(ctx)
        directory, model = self.model_dirs[TARGET], self.models[TARGET]
        cfg = model.cfg
        if bool(cfg.causal) != self.causal or cfg.C != 2 or cfg.audio_channels != 2:
            raise HarnessError(f"system {self.name!r}: {directory} holds a {'causal' if cfg.causal else 'non-causal'} "
                               f"model with C={cfg.C}, audio_channels={cfg.audio_channels}; expected a "
                               f"{'causal' if self.causal else 'non-causal'} stereo vocals/accompaniment model")

    def pretrained_dir(self, instrument: str) -> Path | None:
        root = self.options["pretrained_dir"]
        if not root:
            return None
        root = Path(root).expanduser()
        repo = OFFICIAL_REPO.format("Causal" if self.causal else "NonCausal")
        candidates = [root, root / repo, hub_snapshot(root, repo)]
        for candidate in candidates:
            if candidate is not None and (candidate / "config.json").is_file():
                return candidate
        raise HarnessError(f"system {self.name!r}: pretrained_dir {root} has no config.json + model.safetensors "
                           f"(looked in {root}, {root / repo} and the hub cache models--cadenzachallenge--{repo})")

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        if not self.models:
            raise RuntimeError(f"system {self.name!r}: call prepare(ctx) before separate")
        wanted = list(dict.fromkeys(sources))
        unknown = [s for s in wanted if s not in SOURCES]
        if unknown:
            raise HarnessError(f"system {self.name!r} separates {list(SOURCES)}, not {unknown}")
        mixture = np.asarray(mixture, dtype=np.float32)
        if mixture.ndim != 2 or mixture.shape[1] != 2:
            raise HarnessError(f"system {self.name!r}: the mixture must be stereo (n, 2), not {mixture.shape}")
        if not np.all(np.isfinite(mixture)):
            raise HarnessError(f"system {self.name!r}: the mixture has NaN or infinite samples")
        vocals, accompaniment = self.separate_instrument(mixture, TARGET)
        stems = {TARGET: vocals + float(self.options["add_residual"]) * accompaniment, ACCOMPANIMENT: accompaniment}
        if self.options["wiener"]:
            stems = wiener(mixture, stems, self.sample_rate)
        elif self.options["mixture_consistency"]:
            residual = (mixture - stems[TARGET] - stems[ACCOMPANIMENT]) / 2
            stems = {k: v + residual for k, v in stems.items()}
        return {k: stems[k].astype(np.float32) for k in wanted}


@register("convtasnet_vocals_causal", kind="separator", produces=VOCALS,
          description="stereo ConvTasNet vocals/accompaniment (official CAD2 task 1 baseline, causal)")
class ConvTasNetVocalsCausal(ConvTasNetVocals):
    """The official CAD2 task 1 baseline separator, causal (cLN, no look-ahead)."""

    name = "convtasnet_vocals_causal"
    member = "convtasnet_vocals_causal"
    causal = True
