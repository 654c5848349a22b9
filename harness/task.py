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
import pandas as pd
from omegaconf import OmegaConf

from harness.data import WorkItem
from harness import leaderboard, registry
from harness.errors import HarnessError, InputError
from harness.hearing_aid import HearingAid
from harness.metadata import load_json, load_listeners
from harness.recipe import load_task_module


def seed_from_key(key: str) -> int:
    """The official recipes' seed: md5 of the name, modulo 1e8 (independent of order and workers)."""
    return int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % (10**8)


def legacy_rng(key: str) -> np.random.RandomState:
    """A RandomState seeded as `np.random.seed(seed_from_key(key))` would seed the global one."""
    return np.random.RandomState(seed_from_key(key))


def _rebuild_task(recipe_dir: str, class_name: str, cfg_yaml: str) -> "Task":
    return getattr(load_task_module(Path(recipe_dir)), class_name)(OmegaConf.create(cfg_yaml), Path(recipe_dir))


class Task:
    task_id: str = ""
    accepts: tuple[str, ...] = ("separator",)  # the chain kinds the task can run
    needs: str | None = None  # what the chain's separator or predictor must produce (harness.systems vocabulary)
    score_columns: list[str] = []  # scores.csv columns, in order
    primary_metric: str = ""  # what the leaderboard ranks on (higher is better unless lower_is_better)
    lower_is_better: bool = False
    breakdown: str | None = None  # a score column to break the leaderboard down by
    item_columns: tuple[str, ...] = ()  # score columns that identify an item across systems (pairs them)
    default_baseline: str | None = None  # the system the leaderboard compares every other with

    def __init__(self, cfg: Any, recipe_dir: Path):
        self.cfg = cfg
        self.recipe_dir = Path(recipe_dir)

    def __reduce__(self):
        """A task travels to worker processes as its recipe folder, class name and resolved
        config (its module is loaded by path, so it cannot be pickled by reference); the copy
        rebuilds its caches."""
        return _rebuild_task, (str(self.recipe_dir), type(self).__name__, OmegaConf.to_yaml(self.cfg, resolve=True))

    # data -------------------------------------------------------------------------------------
    def make_demo(self, root: Path) -> None:
        raise NotImplementedError(f"{self.task_id} has no demo data")

    def prepare_data(self) -> None:
        """Build the demo set when the run is on the built-in demo (a no-op on other data)."""
        if self.cfg.path.get("is_demo", False):
            self.make_demo(Path(self.cfg.path.root))

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

    # submissions ------------------------------------------------------------------------------
    def package(self, exp_dir: Path) -> Path:
        """Validate a system's outputs under `exp_dir` and write the challenge's submission file;
        returns its path. Tasks with an audio submission get this from
        `submissions.package.AudioSubmission` (and list their files in `expected_outputs`)."""
        raise HarnessError(f"{self.task_id} has no submission format")

    def validate_submission(self, path: Path) -> list[str]:
        """Every problem of what a team will hand in at `path` (a zip, a folder or a CSV, as the
        challenge asks); [] when it is valid."""
        raise HarnessError(f"{self.task_id} has no submission format")

    def export(self, scores, exp_dir: Path) -> None:
        """Write what the challenge asks for beside scores.csv (e.g. a predictions CSV)."""

    def write_leaderboard(self, exp_task_dir: Path) -> str:
        return leaderboard.write(exp_task_dir, self.primary_metric, self.summary_columns(), self.breakdown,
                                 self.lower_is_better, self.cfg.get("title", self.task_id), self.summary_reducers(),
                                 self.baseline(), self.item_columns, self.item_values, self.paired_label(),
                                 registry.control_of)

    def baseline(self) -> str | None:
        """The leaderboard's baseline system: the setting `leaderboard.baseline`, else `default_baseline`."""
        return OmegaConf.select(self.cfg, "leaderboard.baseline", default=self.default_baseline)

    def item_values(self, table: pd.DataFrame) -> pd.Series:
        """Per-item values of a scores table that the paired comparison differences (one per
        row; default: the primary metric). A task whose primary metric is not a mean over items
        (e.g. RMSE) returns the per-item quantity it aggregates."""
        return table[self.primary_metric]

    def paired_label(self) -> str:
        """What `item_values` is, for the leaderboard's headings."""
        return self.primary_metric

    # the report (--stage report) ---------------------------------------------------------------
    def report_items(self, setting: str = "report.items") -> list[WorkItem]:
        """The items that get a page: `report.items` (or another `setting`) as a count (spread
        evenly over the items sorted by key, first and last included) or a list of keys. Default 3."""
        chosen = OmegaConf.select(self.cfg, setting, default=OmegaConf.select(self.cfg, "report.items", default=3))
        items = sorted(self.work_items(), key=lambda it: it.key)
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            if chosen < 0:
                raise HarnessError(f"{setting}={chosen}: give a count >= 0 or a list of item keys")
            if chosen >= len(items):
                return items
            if chosen == 1:
                return items[:1]
            picks = sorted({round(i * (len(items) - 1) / (chosen - 1)) for i in range(chosen)})
            return [items[i] for i in picks]
        keys = [str(k) for k in chosen]
        by_key = {it.key: it for it in items}
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise HarnessError(f"{setting}: unknown item key(s) {unknown[:5]} (keys look like {items[0].key!r})"
                               if items else f"{setting}: the task has no items")
        return [by_key[k] for k in keys]

    def item_media(self, item: WorkItem, systems: dict[str, Path]):
        """The item's `harness.report.media.ItemMedia` (its clips: the mixture, the reference,
        each system's output; the listener's audiogram; transcripts) for the report, given each
        scored system's experiment folder (name -> exp/<task>/<system>); None when the task
        has no per-item media (the report then shows the leaderboard only)."""
        return None

    def summary_reducers(self) -> dict:
        """column -> function(scores table) -> the leaderboard's value, for summary columns
        that are not a mean over items."""
        return {}


class SceneListenerTask(Task):
    """An enhancement task whose items are the (scene, listener) pairs of `scene_listeners.<split>.json`,
    with listeners and their compressor fittings in `listeners.<split>.json` and
    `compressor_params.<split>.json`, all under `path.metadata_dir`. Items are paired across
    systems by scene and listener; the leaderboard's baseline is the unprocessed `mixture`."""

    item_columns = ("scene", "listener")
    default_baseline = "mixture"

    def __init__(self, cfg: Any, recipe_dir: Path):
        super().__init__(cfg, recipe_dir)
        self._cache: dict = {}

    def meta(self, name: str) -> Path:
        return Path(self.cfg.path.metadata_dir) / name

    def cached(self, key, load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    compressor_fittings = True  # False: audiograms only (a NAL-R or fixed hearing aid needs no fitting)

    def listeners(self, split: str) -> dict:
        fittings = self.meta(f"compressor_params.{split}.json") if self.compressor_fittings else None
        return self.cached(("listeners", split), lambda: load_listeners(self.meta(f"listeners.{split}.json"), fittings))

    def metadata_json(self, name: str, what: str) -> dict:
        """A JSON object of the metadata folder, read once (an InputError names a bad file)."""
        return self.cached(("json", name), lambda: load_json(self.meta(name), what, expect=dict))

    def listener_audiogram(self, listener_id: str) -> dict[str, tuple[list[float], list[float]]]:
        """ear -> (frequencies in Hz, hearing levels in dB HL) of a listener of the scored split."""
        listener = self.listeners(self.cfg.split)[listener_id]
        return {ear: ([float(f) for f in listener.audiogram(ear).frequencies], [float(v) for v in listener.audiogram(ear).levels])
                for ear in ("left", "right")}

    def hearing_aid(self):
        return self.cached("hearing_aid", lambda: HearingAid.from_config(self.cfg.enhancer, int(self.cfg.input_sample_rate)))

    def scene_listener_pairs(self, split: str, scenes: dict, scenes_file: Path, path: Path | None = None,
                             other_splits=()) -> list[tuple[str, str]]:
        """Validated (scene id, listener id) pairs, in file order, from `path` (default
        ``scene_listeners.<split>.json``); scenes in `other_splits` (ids of a file that lists
        every split, as CAD1 task 2's ``scenes_listeners.json``) are skipped."""
        path = path or self.meta(f"scene_listeners.{split}.json")
        listeners = self.listeners(split)
        pairs = []
        table = self.cached(("scene_listeners", str(path)), lambda: load_json(path, "scene-listener", expect=dict))
        skipped = set(other_splits)
        for scene_id, listener_ids in table.items():
            where = f"{path} [{scene_id}]"
            if scene_id in skipped:
                continue
            if scene_id not in scenes:
                raise InputError(where, f"scene {scene_id!r} is not in {scenes_file.name}")
            if not isinstance(listener_ids, list) or not all(isinstance(lid, str) for lid in listener_ids):
                raise InputError(where, f"expected a list of listener ids, found {listener_ids!r}")
            for lid in listener_ids:
                if lid not in listeners:
                    raise InputError(where, f"unknown listener {lid!r} (not in listeners.{split}.json)")
                if listener_ids.count(lid) > 1:
                    raise InputError(where, f"listener {lid!r} is listed {listener_ids.count(lid)} times")
                pairs.append((scene_id, lid))
        return pairs
