"""The base of a recipe's `task.py`: what every task offers the runner.

A task turns its official metadata into work items and knows, for one item, how to run a
system (stage enhance) and how to score what was written (stage evaluate). Both return a
flat dict of JSON-serialisable fields that the runner appends to the stage's results.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import WorkItem


def seed_from_key(key: str) -> int:
    """The official recipes' seed: md5 of the name, modulo 1e8 (independent of order and workers)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % (10**8)


def legacy_rng(key: str) -> np.random.RandomState:
    """A RandomState seeded as `np.random.seed(seed_from_key(key))` would seed the global one."""
    return np.random.RandomState(seed_from_key(key))


class Task:
    task_id: str = ""
    accepts: tuple[str, ...] = ("separator",)  # the chain kinds the task can run
    score_columns: list[str] = []  # scores.csv columns, in order
    primary_metric: str = ""  # what the leaderboard ranks on (higher is better unless lower_is_better)
    lower_is_better: bool = False
    breakdown: str | None = None  # a score column to break the leaderboard down by

    def __init__(self, cfg: Any, recipe_dir: Path):
        self.cfg = cfg
        self.recipe_dir = Path(recipe_dir)

    # data -------------------------------------------------------------------------------------
    def make_demo(self, root: Path) -> None:
        raise NotImplementedError(f"{self.task_id} has no demo data")

    def dataset(self, split: str):
        raise NotImplementedError

    def work_items(self) -> list[WorkItem]:
        raise NotImplementedError

    # stages -----------------------------------------------------------------------------------
    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        raise NotImplementedError

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        """Score the item; `enhanced` is the item's record from the enhance stage."""
        raise NotImplementedError

    def summary_columns(self) -> list[str]:
        """Score columns the leaderboard averages besides the primary metric."""
        return []

    # fitting on the training split (prediction tasks map raw scores to intelligibility) -------
    def fit_items(self) -> list[WorkItem]:
        """Items of the training split that the `train` stage runs through `enhance` before `fit`."""
        return []

    def fit(self, records: list[dict], exp_dir: Path) -> None:
        """Fit what the task needs from the fit items' enhance records (written under exp_dir)."""

    def write_leaderboard(self, exp_task_dir: Path) -> str:
        from harness import leaderboard

        return leaderboard.write(exp_task_dir, self.primary_metric, self.summary_columns(), self.breakdown,
                                 self.lower_is_better, self.cfg.get("title", self.task_id))
