"""What every system with one trained network per preset shares (``umx4``, ``unet_mask``): the
checkpoint folder, the seed, ``train(ctx)`` and ``prepare(ctx)`` (load the finished model,
training it first when missing).

A subclass has ``name`` and ``options`` (with ``preset``, ``seed``, ``device``,
``train_if_missing``) and defines ``train_config(preset) -> TrainConfig``,
``train_model(ctx, preset) -> Path`` (train, resume or skip into ``checkpoint_dir``) and
``load(directory)``.
"""

from __future__ import annotations

import json
from pathlib import Path

from baselines.models.hf_checkpoint import WEIGHTS_NAME
from baselines.separators import file_digest, resolve_preset
from baselines.training import is_finished
from evaluators.device import resolve_device
from harness.systems import RunContext


class TrainedModelSystem:
    """Mixin for a system whose one network per preset lives in ``checkpoint_dir/<name>/<preset>/``."""

    name: str
    options: dict

    def checkpoint_dir(self, ctx: RunContext, preset: str) -> Path:
        return Path(ctx.checkpoint_dir) / self.name / preset

    def seed(self, ctx: RunContext) -> int:
        return int(self.options["seed"] if self.options["seed"] is not None else ctx.seed)

    def train(self, ctx: RunContext) -> None:
        """Train (or resume, or skip when finished) the network on the training split."""
        self.train_model(ctx, resolve_preset(self.options["preset"], ctx))

    def prepare(self, ctx: RunContext) -> None:
        """Load the finished checkpoint of the preset, training it first when missing (unless
        ``train_if_missing`` is false: FileNotFoundError naming the folder)."""
        self.preset = preset = resolve_preset(self.options["preset"], ctx)
        self.device = resolve_device(self.options["device"])
        directory = self.checkpoint_dir(ctx, preset)
        if not is_finished(directory, self.train_config(preset).steps):
            if not self.options["train_if_missing"]:
                raise FileNotFoundError(
                    f"system {self.name!r}: no trained model in {directory} "
                    f"(run --stage train, or set systems.{self.name}.train_if_missing=true)"
                )
            self.train_model(ctx, preset)
        self.load(directory)
        self.identity = (f"{self.name}|{json.dumps(self.options, sort_keys=True, default=str)}|{preset}|"
                         f"{file_digest(directory / WEIGHTS_NAME)}")
