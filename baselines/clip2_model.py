"""The CLIP2 baseline's head and its training on cached, mean-pooled Whisper embeddings.

Architecture as pyclarity's ``recipes/clip2/baseline/lyric_intelligibility_model.py``
(``WhisperIntelligibilityModel`` with one selected layer, the default): the pooled embedding
``[B, d_model]`` is scaled by its softmax layer weight (1.0 for one layer), projected by
``Linear(d_model, 256) + GELU + LayerNorm + Dropout(0.1)``, and the regressor
``Linear(256, 128) + GELU + Dropout + Linear(128, 1) + Sigmoid`` gives a score in (0, 1).
Parameter names match upstream's head (``layer_weights``, ``layer_projections.0.*``,
``regressor.*``). The frozen backbone is not part of the module: features are computed once
(``baselines.clip2_features``).

Training as ``recipes/clip2/baseline/train.py``: AdamW (lr 1e-4, weight decay 1e-4) on MSE,
gradient-norm clip 1.0, ``ReduceLROnPlateau(factor 0.5, patience 5, min_lr 1e-7)`` on the
dev loss, early stopping after 10 epochs without a dev-loss improvement of ``min_delta``
1e-4, at most 50 epochs, the best-dev-loss weights kept. The dev loss is the mean of per-batch
losses, as upstream's ``run_epoch``. Stage 2 (better ear) starts from stage 1's best weights
and minimises :func:`better_ear_loss`. Deterministic: weights are initialised from a seed and
epoch ``e`` shuffles with ``torch.Generator().manual_seed(seed * 1000 + e)``.

One option upstream does not have, ``standardise`` (default off in this module, on in the
recipe's systems, ``baselines.clip2``): the pooled embedding is standardised per dimension
with the training features' mean and standard deviation (:func:`fit_standardiser`, kept as
buffers ``input_mean``/``input_std`` in the checkpoint) before the head. Mean-pooling the
1500 frames of an excerpt padded to 30 s gives embeddings that differ little from one
another next to their common offset (on the demo, the spread across items is about a third
of the offset), so upstream's head at lr 1e-4 moves little from a constant prediction on a
small training set; with standardised inputs it learns. ``standardise=False`` is upstream's
head exactly.

The 80/20 dev split is :func:`split_by_prompt`, upstream's ``by_prompt`` strategy
(``clip_dataset.py::_prompt_split``) with the same ``random.Random(42)`` draws.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from harness.files import atomic_write


class IntelligibilityHead(nn.Module):
    """Pooled embedding ``[B, d_model]`` -> intelligibility ``[B]`` in (0, 1).

    ``standardise``: subtract ``input_mean`` and divide by ``input_std`` (buffers ``[d_model]``,
    zero and one until :func:`fit_standardiser` sets them) before upstream's head."""

    def __init__(self, d_model: int, hidden_dim: int = 256, dropout: float = 0.1, standardise: bool = False):
        super().__init__()
        self.d_model, self.hidden_dim, self.dropout = int(d_model), int(hidden_dim), float(dropout)
        self.standardise = bool(standardise)
        if self.standardise:
            self.register_buffer("input_mean", torch.zeros(self.d_model))
            self.register_buffer("input_std", torch.ones(self.d_model))
        self.layer_weights = nn.Parameter(torch.ones(1))
        self.layer_projections = nn.ModuleList([nn.Sequential(
            nn.Linear(d_model, hidden_dim), nn.GELU(), nn.LayerNorm(hidden_dim), nn.Dropout(dropout))])
        self.regressor = nn.Sequential(nn.Linear(hidden_dim, hidden_dim // 2), nn.GELU(), nn.Dropout(dropout),
                                       nn.Linear(hidden_dim // 2, 1), nn.Sigmoid())

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        if self.standardise:
            pooled = (pooled - self.input_mean) / self.input_std
        weight = F.softmax(self.layer_weights, dim=0)[0]
        return self.regressor(self.layer_projections[0](pooled * weight)).squeeze(-1)

    def config(self) -> dict:
        return {"d_model": self.d_model, "hidden_dim": self.hidden_dim, "dropout": self.dropout,
                "standardise": self.standardise}


def fit_standardiser(head: IntelligibilityHead, features: torch.Tensor, floor: float = 1e-6) -> None:
    """Set ``head``'s input statistics to the per-dimension mean and (population) standard
    deviation of ``features`` (``[N, d]``, or ``[N, 2, d]``: both ears pooled), the standard
    deviation floored at ``floor``. Raises ``ValueError`` for a head built without
    ``standardise``, a dimension mismatch or fewer than two feature vectors."""
    if not head.standardise:
        raise ValueError("fit_standardiser: the head was built with standardise=False")
    flat = features.reshape(-1, features.shape[-1]).double()
    if flat.shape[-1] != head.d_model or flat.shape[0] < 2:
        raise ValueError(f"fit_standardiser: need [N >= 2, {head.d_model}] features, got {tuple(features.shape)}")
    head.input_mean.copy_(flat.mean(0).to(head.input_mean.dtype))
    head.input_std.copy_(flat.std(0, unbiased=False).clamp_min(floor).to(head.input_std.dtype))


def better_ear_loss(pred_left: torch.Tensor, pred_right: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of max(pred_left, pred_right) against the target (upstream ``BetterEarLoss``)."""
    return F.mse_loss(torch.maximum(pred_left, pred_right), target)


def split_by_prompt(signals: Sequence[str], prompts: Sequence[str], train_ratio: float = 0.8,
                    seed: int = 42) -> tuple[list[str], list[str]]:
    """(train ids, dev ids): whole prompt groups, sorted, shuffled with ``random.Random(seed)``,
    assigned to train until it holds ``int(n * train_ratio)`` signals; the rest to dev.
    Disjoint in prompts, complementary, and deterministic in ``seed``."""
    if len(signals) != len(prompts):
        raise ValueError(f"{len(signals)} signals but {len(prompts)} prompts")
    groups: dict[str, list[str]] = defaultdict(list)
    for signal, prompt in zip(signals, prompts):
        groups[str(prompt)].append(signal)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target, count = int(len(signals) * train_ratio), 0
    train, dev = [], []
    for key in keys:
        if count < target:
            train.extend(groups[key])
            count += len(groups[key])
        else:
            dev.extend(groups[key])
    return train, dev


@dataclass(frozen=True)
class TrainSettings:
    """One stage's settings (upstream ``conf/config.yaml`` and ``train_job.sh``)."""

    lr: float = 1e-4
    weight_decay: float = 1e-4
    epochs: int = 50
    batch_size: int = 32
    dev_batch_size: int = 16
    patience: int = 10
    min_delta: float = 1e-4
    lr_patience: int = 5
    grad_clip: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


def _predict(head: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """x: [B, d] (mono) or [B, 2, d] (left, right) -> predictions [B] (max over ears)."""
    if x.ndim == 2:
        return head(x)
    return torch.maximum(head(x[:, 0]), head(x[:, 1]))


def _loss(head: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if x.ndim == 2:
        return F.mse_loss(head(x), y)
    return better_ear_loss(head(x[:, 0]), head(x[:, 1]), y)


def dev_loss(head: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> float:
    """Mean over batches of the batch loss, in eval mode (upstream ``run_epoch`` without an optimiser)."""
    head.eval()
    with torch.no_grad():
        losses = [_loss(head, x[i:i + batch_size], y[i:i + batch_size]).item() for i in range(0, len(y), batch_size)]
    return float(sum(losses) / max(len(losses), 1))


def train_head(head: nn.Module, train: tuple[torch.Tensor, torch.Tensor], dev: tuple[torch.Tensor, torch.Tensor],
               settings: TrainSettings, seed: int) -> tuple[dict, dict]:
    """Train ``head`` in place; returns (best state_dict, history).

    ``train`` and ``dev``: (features, targets) with features ``[N, d]`` for mono (MSE) or
    ``[N, 2, d]`` for better ear (:func:`better_ear_loss`), targets ``[N]`` in [0, 1]. The
    history holds ``best_epoch``, ``best_dev_loss``, ``epochs_run`` and the per-epoch losses."""
    x, y = train
    if len(y) == 0 or len(dev[1]) == 0:
        raise ValueError(f"need training and dev items, got {len(y)} and {len(dev[1])}")
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5,
                                                           patience=settings.lr_patience, min_lr=1e-7)
    best_loss, best_epoch, best_state = float("inf"), 0, None
    stop_best, stale = float("inf"), 0
    history = {"train_loss": [], "dev_loss": []}
    for epoch in range(1, settings.epochs + 1):
        head.train()
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        losses = []
        for i in range(0, len(y), settings.batch_size):
            batch = order[i:i + settings.batch_size]
            optimizer.zero_grad()
            loss = _loss(head, x[batch], y[batch])
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), settings.grad_clip)
            optimizer.step()
            losses.append(loss.item())
        d_loss = dev_loss(head, *dev, settings.dev_batch_size)
        history["train_loss"].append(sum(losses) / len(losses))
        history["dev_loss"].append(d_loss)
        if d_loss < best_loss:
            best_loss, best_epoch = d_loss, epoch
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        scheduler.step(d_loss)
        if d_loss < stop_best - settings.min_delta:  # upstream EarlyStopping
            stop_best, stale = d_loss, 0
        else:
            stale += 1
        if settings.patience > 0 and stale >= settings.patience:
            break
    head.load_state_dict(best_state)
    history.update(best_epoch=best_epoch, best_dev_loss=best_loss, epochs_run=len(history["dev_loss"]))
    return best_state, history


def predict(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Predictions in (0, 1) of ``[N, d]`` (mono) or ``[N, 2, d]`` (better ear: max of the ears)."""
    head.eval()
    with torch.no_grad():
        return _predict(head, features)


def save_checkpoint(path: Path, head: IntelligibilityHead, meta: dict) -> None:
    """One safetensors file: the head's state dict, its ``config`` and ``meta`` (JSON) in the
    header metadata; written atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    header = {"config": json.dumps(head.config()), "meta": json.dumps(meta, sort_keys=True)}
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=header))


def load_checkpoint(path: Path) -> tuple[IntelligibilityHead, dict]:
    """(head in eval mode, meta) from :func:`save_checkpoint`'s file."""
    with safe_open(str(path), "pt") as handle:
        header = handle.metadata() or {}
    if "config" not in header:
        raise ValueError(f"{path}: not a CLIP2 head checkpoint (no config in its metadata)")
    head = IntelligibilityHead(**json.loads(header["config"]))
    head.load_state_dict(load_file(str(path)), strict=True)
    return head.eval(), json.loads(header.get("meta", "{}"))
