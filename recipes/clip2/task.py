"""CLIP2, the second Cadenza lyric-intelligibility prediction challenge: predict the fraction of
words (0-100 %) a listener understood of a hearing-loss-simulated song excerpt.

Data as pyclarity's ``recipes/clip2/baseline/clip_dataset.py`` reads it:
``metadata/{train,valid,eval}_metadata.json`` (records with ``signal``, ``prompt``,
``hearing_loss``; ``correctness`` in [0, 1] on train, absent on the official valid and eval),
``<split>/signals/<signal>.flac`` (what the listener heard) and
``<split>/unprocessed/<signal>_unproc.flac``, 16-bit stereo FLAC at 44.1 kHz. Labels are
read as percent (correctness x 100), the unit of every prediction, metric and file here.

Systems are predictors. The ``train`` stage trains those that train (``clip2_mono``,
``clip2_better_ear``, ``baselines/clip2.py``), runs every system over the fit split and fits
what maps its raw score to intelligibility: nothing for a ``calibrated`` predictor (the CLIP2
heads predict 0..100 themselves), the CLIP logistic map for the others (the CLIP1 ``whisper``
and ``stoi`` predictors). The leaderboard ranks by RMSE (the EvalAI leaderboard's metric,
``docs/clip2/take_part/clip2_leaderboard.md`` of the challenge site) with MAE, Pearson and
Spearman as ``recipes/clip2/baseline/test.py::compute_metrics``, bootstrap 95 % intervals,
RMSE and Pearson per ``hearing_loss`` (``metrics_by_severity``), and each system's difference
from ``evaluate.baseline``. A scored split without labels (the official valid and eval) gets
predictions and the submission file, no metrics.

The submission is the headerless CSV ``<signal_id>,<score 0..100>`` the EvalAI leaderboard
takes ("Do not include the CSV headers"), as ``test.py`` writes ``predictions.csv`` with
``inference_only=true`` (scores x 100, six decimals); the final submission form is not
published yet, so it is named ``CLIP2_<split>_<team_id>.csv`` here.

Differences from pyclarity: a signal without its unprocessed twin is an error naming the file
(``clip_dataset.py::_validate_records`` drops it with a warning); per-severity correlations of
a constant are reported as n/a (upstream writes 0.0); metrics are in percent (upstream's
``results.json`` holds fractions).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evaluators.prediction import LogisticMap
from harness import prediction_board as board
from harness.audio import read_audio
from harness.data import PredictionItem, PredictionSet, WorkItem
from harness.errors import InputError
from harness.files import atomic_write
from harness.metadata import load_json, require
from harness.systems import INTELLIGIBILITY
from harness.task import Task
from submissions.package import PredictionsSubmission
from submissions.validate import check_predictions_csv

MAP_FILE = "score_map.json"
METRICS = ("RMSE", "MAE", "NCC", "SCC")


class Clip2Task(PredictionsSubmission, Task):
    task_id = "clip2"
    accepts = ("predictor",)
    needs = INTELLIGIBILITY
    score_columns = ["signal", "hearing_loss", "raw", "prediction", "correctness"]
    primary_metric = "RMSE"
    lower_is_better = True

    def __init__(self, cfg, recipe_dir):
        super().__init__(cfg, recipe_dir)
        self._loaded: dict[str, list[dict]] = {}

    def make_demo(self, root: Path) -> None:
        from harness.demo.clip2 import make_clip2_demo

        d = self.cfg.demo
        make_clip2_demo(root, seed=int(d.seed), n_train=int(d.n_train), n_valid=int(d.n_valid), n_eval=int(d.n_eval))

    # metadata ---------------------------------------------------------------------------------
    def metadata_file(self, split: str) -> Path:
        return Path(self.cfg.path.metadata_dir) / f"{split}_metadata.json"

    def audio_file(self, split: str, signal: str, unprocessed: bool = False) -> Path:
        folder = Path(self.cfg.path.audio_dir) / split
        return folder / "unprocessed" / f"{signal}_unproc.flac" if unprocessed else folder / "signals" / f"{signal}.flac"

    def records(self, split: str) -> list[dict]:
        """The split's records, checked: keys, no signal twice, correctness a number in [0, 1]
        where given, both audio files present."""
        if split in self._loaded:
            return self._loaded[split]
        path = self.metadata_file(split)
        records, seen = load_json(path, "metadata", expect=list), {}
        for i, r in enumerate(records):
            where = f"{path} [{i}]"
            require(r, ("signal", "prompt", "hearing_loss"), where)
            if r["signal"] in seen:
                raise InputError(where, f"signal {r['signal']!r} is listed twice (also at [{seen[r['signal']]}])")
            seen[r["signal"]] = i
            c = r.get("correctness")
            if c is not None and (isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 <= c <= 1):
                raise InputError(where, f"correctness {c!r} is not a fraction in [0, 1] (CLIP2 labels are fractions)")
            for unprocessed in (False, True):
                audio = self.audio_file(split, r["signal"], unprocessed)
                if not audio.is_file():
                    twin = "its unprocessed twin" if unprocessed else "the signal"
                    raise InputError(audio, f"missing: {twin} of {r['signal']!r} listed in {path.name}")
        self._loaded[split] = records
        return records

    def _items(self, split: str, need_labels: bool) -> list[WorkItem]:
        items = []
        for r in self.records(split):
            c = r.get("correctness")
            if need_labels and c is None:
                raise InputError(f"{self.metadata_file(split)} [{r['signal']}]", "no correctness label to fit or train on")
            items.append(WorkItem(r["signal"], {"signal": r["signal"], "split": split, "prompt": r["prompt"],
                                                "hearing_loss": r["hearing_loss"],
                                                "correctness": None if c is None else 100.0 * float(c)}))
        return items

    def work_items(self) -> list[WorkItem]:
        return self._items(str(self.cfg.split), need_labels=False)

    def fit_items(self) -> list[WorkItem]:
        return self._items(str(self.cfg.fit_split), need_labels=True)

    def dataset(self, split: str) -> PredictionSet:
        """The split for trainable predictors; labels (percent) are required on the fit split."""
        items = self._items(split, need_labels=split == str(self.cfg.fit_split))
        by_id = {it.key: it for it in items}
        return PredictionSet(split, [it.key for it in items], [it.fields["prompt"] for it in items],
                             [it.fields["correctness"] for it in items],
                             lambda signal: self.prediction_item(by_id[signal]), str(self.metadata_file(split)))

    def prediction_item(self, item: WorkItem) -> PredictionItem:
        f, rate = item.fields, int(self.cfg.sample_rate)
        signal = read_audio(self.audio_file(f["split"], f["signal"]), rate, channels=2)
        unprocessed = read_audio(self.audio_file(f["split"], f["signal"], unprocessed=True), rate, channels=2)
        return PredictionItem(f["signal"], signal, unprocessed, rate, f["prompt"], f["hearing_loss"])

    # stages -----------------------------------------------------------------------------------
    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        raw = float(system.predict(self.prediction_item(item)))
        if not np.isfinite(raw):
            raise InputError(f"system {system.name!r}", f"predicted {raw} for {item.key}")
        return {**item.fields, "raw": raw, "calibrated": bool(getattr(system, "calibrated", False))}

    def fit(self, records: list[dict], exp_dir: Path) -> None:
        if records and all(r.get("calibrated") for r in records):
            mapping = {"type": "identity"}
        else:
            raw = np.array([r["raw"] for r in records], float)
            mapping = LogisticMap().fit(raw, np.array([r["correctness"] for r in records], float)).to_dict()
        atomic_write(Path(exp_dir) / MAP_FILE, lambda tmp: Path(tmp).write_text(json.dumps(mapping, indent=2)))

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        path = Path(out_dir).parent / MAP_FILE
        if not path.exists():
            raise InputError(path, "no fitted score map: run the train stage first")
        mapping = json.loads(path.read_text())
        raw = float(enhanced["raw"])
        if mapping.get("type") == "identity":
            prediction = raw
        else:
            prediction = float(LogisticMap.from_dict(mapping).predict(np.array([raw]))[0])
        return {**item.fields, "raw": raw, "prediction": float(np.clip(prediction, 0.0, 100.0))}

    # outputs ----------------------------------------------------------------------------------
    def submission_path(self, exp_dir: Path) -> Path:
        return Path(exp_dir) / f"CLIP2_{self.cfg.split}_{self.cfg.team_id}.csv"

    def export(self, scores: pd.DataFrame, exp_dir: Path) -> None:
        lines = [f"{s},{p:.6f}\n" for s, p in zip(scores["signal"], scores["prediction"].clip(0, 100))]
        atomic_write(self.submission_path(exp_dir), lambda tmp: Path(tmp).write_text("".join(lines)))

    def validate_submission(self, path: Path) -> list[str]:
        """The headerless predictions CSV: every signal of the split once, finite scores in
        [0, 100], two columns, no spaces."""
        return check_predictions_csv(path, [r["signal"] for r in self.records(str(self.cfg.split))], header=None)

    def write_leaderboard(self, exp_task_dir: Path) -> str:
        exp_task_dir, n_boot = Path(exp_task_dir), int(self.cfg.evaluate.n_boot)
        rows, unlabelled, labels, train_mean = [], [], None, None
        for scores in sorted(exp_task_dir.glob("*/scores.csv")):
            table = pd.read_csv(scores, dtype={"signal": str})
            if table.empty:
                continue
            if table["correctness"].isna().all():
                unlabelled.append(scores.parent.name)
                continue
            if train_mean is None:
                train_mean = float(np.mean([100.0 * r["correctness"] for r in self.records(str(self.cfg.fit_split))]))
            rows.append(board.system_row(scores.parent.name, table, METRICS, n_boot, group="hearing_loss",
                                         constant=train_mean))
            labels = table["correctness"].dropna().to_numpy(float)
        if rows:
            rows.append(board.constant_row(f"constant ({self.cfg.fit_split} mean)", train_mean, labels, n_boot))
        table = board.ranked(rows)
        title = self.cfg.get("title", self.task_id)
        text = f"## {title}\n\n"
        if table.empty:
            text += "(no scored systems yet)\n"
        else:
            groups = [c for c in table.columns if c.endswith((" RMSE", " NCC")) and not c.startswith("constant")]
            text += board.markdown(table, METRICS, str(self.cfg.evaluate.baseline), groups)
            text += ("\nScores in percent of words correct; RMSE ranks. Per-severity columns: RMSE and Pearson (NCC) "
                     "within each hearing_loss group. \"MSE - constant's\": the mean over items of the system's squared "
                     f"error minus that of predicting the {self.cfg.fit_split} mean for every item (paired bootstrap "
                     "95% interval, Wilcoxon p); negative is better than the constant.\n")
        if unlabelled:
            text += f"\nNo labels on {self.cfg.split}: predictions only for {', '.join(unlabelled)}.\n"
        exp_task_dir.mkdir(parents=True, exist_ok=True)
        (exp_task_dir / "leaderboard.md").write_text(text)
        table.to_csv(exp_task_dir / "leaderboard.csv", index=False)
        return text


TASK = Clip2Task
