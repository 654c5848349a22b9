"""The CLIP2 baseline as predictors: ``clip2_mono`` (stage 1) and ``clip2_better_ear`` (stage 2).

pyclarity's ``recipes/clip2/baseline`` (``train.py``, ``train_job.sh``, ``test.py``) with the
Whisper encoder frozen and replaced by tiny.en in CTranslate2 (``evaluators.whisper_encoder``):

* stage 1 (``clip2_mono``): the head (``baselines.clip2_model``) trained with MSE on the
  embedding of the mono downmix of each training signal; predicts on the downmix;
* stage 2 (``clip2_better_ear``): starts from stage 1's best weights and trains with the
  better-ear loss on the left and right embeddings (lr 1e-5 = ``train_job.sh``'s
  ``lr_stage2``); predicts max(left, right).

One deviation from upstream, on by default: ``standardise: true`` standardises each pooled
embedding dimension with the mean and standard deviation of stage 1's training features
(``clip2_model.fit_standardiser``; stage 2 keeps stage 1's statistics) before the head. With
upstream's head on raw tiny.en embeddings the demo's head stays close to a constant predictor
(grouped 5-fold cross-validation on the demo training split: RMSE 31.8 without, 28.4 with);
``standardise: false`` is upstream's head.

Both train on the task's training split (``ctx.dataset(fit_split)``, a
``harness.data.PredictionSet``) cut 80/20 by prompt (``split_by_prompt``, seed 42) into
train and dev; ``predict`` returns the intelligibility in 0..100 (the sigmoid x 100, as
``test.py`` writes it), so the task fits no map on top (``calibrated = True``).

Checkpoints: ``<checkpoint_dir>/clip2/<stage>-<digest>.safetensors``, the digest covering the
encoder's identity, the options that shape the stage and the training metadata (ids, prompts,
labels); a finished stage is reused, and stage 1 is shared by both systems when their stage-1
options agree. Embeddings are cached under ``<task exp dir>/features`` (``clip2_features``).

Not reproducible offline (no weights, no gradients through CTranslate2): the large-v3 backbone,
multi-layer fusion, and unfreezing the top encoder layers after ``finetune.epoch`` epochs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from baselines.clip2_features import ENCODER_DEFAULTS, EncoderFeatures
from baselines.clip2_model import (
    IntelligibilityHead,
    TrainSettings,
    fit_standardiser,
    load_checkpoint,
    predict,
    save_checkpoint,
    split_by_prompt,
    train_head,
)
from baselines.training import derived_seed, init_model
from harness.data import PredictionItem, PredictionSet
from harness.errors import HarnessError, InputError
from harness.options import check_keys, plain, read_options
from harness.systems import INTELLIGIBILITY, RunContext, register

STAGE1 = TrainSettings().to_dict()
STAGE2 = {**STAGE1, "lr": 1e-5, "dev_batch_size": 32}  # train_job.sh: lr / 10; dev loader at data.batch_size
COMMON = {"whisper_encoder": {}, "hidden_dim": 256, "dropout": 0.1, "train_ratio": 0.8, "split_seed": 42, "seed": 0,
          "standardise": True, "stage1": {}}


def _settings(name: str, section: dict, defaults: dict) -> TrainSettings:
    check_keys(f"system {name!r} {section!r}", section, defaults)
    return TrainSettings(**{**defaults, **section})


class Clip2Predictor:
    """The CLIP2 head on frozen Whisper embeddings; see the module docstring."""

    calibrated = True  # predict() is the 0..100 intelligibility itself
    better_ear = False
    name = "clip2_mono"

    def __init__(self, cfg=None):
        defaults = {**COMMON, "stage2": {}} if self.better_ear else COMMON
        options = read_options(self.name, cfg, defaults)
        encoder = plain(options["whisper_encoder"])
        check_keys(f"system {self.name!r} whisper_encoder", encoder, ENCODER_DEFAULTS)
        self.encoder_options = encoder
        self.options = options
        self.stage1 = _settings(self.name, plain(options["stage1"]), STAGE1)
        self.stage2 = _settings(self.name, plain(options.get("stage2", {})), STAGE2) if self.better_ear else None
        if not 0 < float(options["train_ratio"]) < 1:
            raise HarnessError(f"system {self.name!r}: train_ratio must be in (0, 1), not {options['train_ratio']}")
        if not isinstance(options["standardise"], bool):
            raise HarnessError(f"system {self.name!r}: standardise must be true or false, not {options['standardise']!r}")
        for stage in (self.stage1, self.stage2):
            if stage is not None and (stage.patience < 1 or stage.epochs < 1 or stage.batch_size < 1):
                raise HarnessError(f"system {self.name!r}: epochs, batch_size and patience must be >= 1 ({stage})")
        self.features: EncoderFeatures | None = None
        self.head: IntelligibilityHead | None = None
        self.identity = None

    # ---- shared pieces ----------------------------------------------------------------------
    def _features(self, ctx: RunContext) -> EncoderFeatures:
        if self.features is None:
            recipe = plain(ctx.cfg.get("whisper_encoder")) if "whisper_encoder" in ctx.cfg else {}
            options = {**ENCODER_DEFAULTS, **recipe, **self.encoder_options}
            try:
                self.features = EncoderFeatures(Path(ctx.exp_dir).parent / "features", options)
            except FileNotFoundError as err:  # a bad whisper_encoder.model
                raise InputError(options["model"], f"whisper_encoder.model: {err}") from None
        return self.features

    def _training_set(self, ctx: RunContext) -> PredictionSet:
        split = str(ctx.cfg.get("fit_split", "train"))
        try:
            data = ctx.dataset(split)
        except NotImplementedError:
            raise HarnessError(f"system {self.name!r} trains on a labelled split the task does not offer "
                               f"(its dataset({split!r}) is not implemented)") from None
        if not isinstance(data, PredictionSet):
            raise HarnessError(f"system {self.name!r}: the task's dataset({split!r}) is not a PredictionSet")
        return data

    def _digests(self, ctx: RunContext, data: PredictionSet) -> dict[str, str]:
        base = {"encoder": self._features(ctx).identity, "signals": data.signals, "prompts": data.prompts,
                "labels": data.labels, "hidden_dim": self.options["hidden_dim"], "dropout": self.options["dropout"],
                "train_ratio": self.options["train_ratio"], "split_seed": self.options["split_seed"],
                "seed": self.options["seed"], "standardise": bool(self.options["standardise"]),
                "stage1": self.stage1.to_dict()}
        one = hashlib.sha1(json.dumps(base, sort_keys=True).encode()).hexdigest()[:16]
        out = {"stage1": one}
        if self.stage2 is not None:
            out["stage2"] = hashlib.sha1(json.dumps([one, self.stage2.to_dict()]).encode()).hexdigest()[:16]
        return out

    def _path(self, ctx: RunContext, stage: str, digest: str) -> Path:
        return ctx.checkpoint_dir / "clip2" / f"{stage}-{digest}.safetensors"

    # ---- training ---------------------------------------------------------------------------
    def train(self, ctx: RunContext) -> None:
        data = self._training_set(ctx)
        digests = self._digests(ctx, data)
        paths = {s: self._path(ctx, s, d) for s, d in digests.items()}
        if all(p.is_file() for p in paths.values()):
            return
        for i, label in enumerate(data.labels):
            if label is None or not np.isfinite(label):
                raise InputError(f"{data.source} [{data.signals[i]}]", "no correctness label to train on")
        train_ids, dev_ids = split_by_prompt(data.signals, data.prompts, float(self.options["train_ratio"]),
                                             int(self.options["split_seed"]))
        if not train_ids or not dev_ids:
            raise InputError(data.source, f"the {self.options['train_ratio']:g} split by prompt left "
                             f"{len(train_ids)} training and {len(dev_ids)} dev signals; it needs more prompts")
        channels = ("mono", "left", "right") if self.better_ear else ("mono",)
        vectors = {}
        for sid in data.signals:
            item = data.load(sid)
            vectors[sid] = self._features(ctx).get(item.signal, item.sample_rate, channels)
        labels = dict(zip(data.signals, data.labels))

        def tensors(ids, rows):
            x = torch.from_numpy(np.stack([vectors[s][rows] for s in ids]))
            return x, torch.tensor([labels[s] / 100.0 for s in ids], dtype=torch.float32)

        split_info = {"train": len(train_ids), "dev": len(dev_ids), "source": data.source}
        d_model = int(next(iter(vectors.values())).shape[-1])
        seed = derived_seed(int(self.options["seed"]), "clip2", "head")
        if paths["stage1"].is_file():
            head, _ = load_checkpoint(paths["stage1"])
        else:
            head = init_model(lambda: IntelligibilityHead(d_model, int(self.options["hidden_dim"]),
                                                          float(self.options["dropout"]),
                                                          bool(self.options["standardise"])), seed)
            if head.standardise:
                fit_standardiser(head, tensors(train_ids, 0)[0])
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # dropout draws
                _, history = train_head(head, tensors(train_ids, 0), tensors(dev_ids, 0), self.stage1, seed)
            save_checkpoint(paths["stage1"], head, {"stage": "stage1", "digest": digests["stage1"], **split_info,
                                                    "settings": self.stage1.to_dict(), "history": history})
        if self.stage2 is not None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 1)
                _, history = train_head(head, tensors(train_ids, slice(1, 3)), tensors(dev_ids, slice(1, 3)),
                                        self.stage2, seed + 1)
            save_checkpoint(paths["stage2"], head, {"stage": "stage2", "digest": digests["stage2"], **split_info,
                                                    "settings": self.stage2.to_dict(), "history": history})

    # ---- prediction -------------------------------------------------------------------------
    def prepare(self, ctx: RunContext) -> None:
        data = self._training_set(ctx)
        stage = "stage2" if self.better_ear else "stage1"
        digest = self._digests(ctx, data)[stage]
        path = self._path(ctx, stage, digest)
        if not path.is_file():
            raise InputError(path, f"no trained {self.name} head for this config: run the train stage first")
        self.head, _ = load_checkpoint(path)
        self.identity = f"{self.name}:{digest}"

    def predict(self, item: PredictionItem) -> float:
        channels = ("left", "right") if self.better_ear else ("mono",)
        x = torch.from_numpy(self.features.get(item.signal, item.sample_rate, channels))
        x = x[None] if self.better_ear else x
        return float(predict(self.head, x)[0]) * 100.0


@register("clip2_mono", kind="predictor", produces=INTELLIGIBILITY,
          description="CLIP2 baseline stage 1: frozen Whisper tiny.en embedding of the downmix -> MLP head")
class Clip2Mono(Clip2Predictor):
    name = "clip2_mono"


@register("clip2_better_ear", kind="predictor", produces=INTELLIGIBILITY,
          description="CLIP2 baseline stage 2: the stage-1 head fine-tuned on max(left, right) (better ear)")
class Clip2BetterEar(Clip2Predictor):
    name = "clip2_better_ear"
    better_ear = True
