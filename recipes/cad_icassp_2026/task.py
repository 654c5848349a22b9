"""ICASSP 2026 Cadenza challenge (CLIP1): predict the intelligibility (0-100 % words correct)
a listener reaches on a hearing-loss-simulated song excerpt.

Items are the signals of `metadata/<split>_metadata.json`. A system is a predictor (optionally
after enhancers, `enhancer+whisper`): stage `enhance` computes its raw score per signal, the
`train` stage computes the same on the fit split and fits the official logistic map
100 / (1 + exp(-k (x - x0))) from raw scores to listener correctness, stage `evaluate` applies
it. The leaderboard ranks by RMSE (the challenge's ranking metric) with NCC, Kendall tau and
Spearman, bootstrap 95% intervals, and each system's difference from the Whisper baseline.

Seed 000's system (T050) and its ablation run as chains before Whisper: `unet_mask+whisper` (the
attention U-Net mask alone, ``baselines/unet_mask.py``, trained on the fit split's unprocessed ->
clean-vocals pairs that ``dataset(split)`` exposes), `transient_boost+whisper` (the booster
alone), `unet_mask+transient_boost+whisper` (both, the seed's full system) and `whisper`
(neither); the enhancers process the heard signal. The leaderboard's "vs whisper" column words
the differences as the seed's report does ("error is higher (+7.00)", "correlation is lower
(-0.13)").

Paired comparison with the baseline (`leaderboard.baseline`, default `whisper`): RMSE is not a
mean over items, so the per-item quantity it aggregates is differenced: the squared error
(prediction - correctness)^2 in percentage points squared. Its mean paired difference is
exactly MSE(system) - MSE(baseline), negative when the system's RMSE is lower (RMSE is the
root of MSE, so the signs agree); the interval is the paired bootstrap of that difference and
p the Wilcoxon signed-rank test of the per-item differences, which is the same as on absolute
errors in the signs of the differences but weighs large errors more, as RMSE does.

Differences from pyclarity 0.9.0: the predictions CSV is written with the documented header
`signal_id,intelligibility_score` and the submission name `ICASSP2026_<split>_<team>.csv` (the
baseline writes `signal_ID` to `<dataset>.<system>.valid.predict.csv`); Whisper's digits are
spelled out before scoring instead of dropped (see evaluators/lyrics.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evaluators.prediction import LogisticMap, bootstrap_ci, compute_scores
from harness.audio import read_audio
from harness import leaderboard
from harness.data import MusicDataset, PredictionItem, Song, Track, WorkItem
from harness.errors import InputError
from harness.files import atomic_write
from harness.metadata import load_json, require
from harness.systems import INTELLIGIBILITY
from harness.task import Task
from submissions.package import PredictionsSubmission
from submissions.validate import check_predictions_csv

MAP_FILE = "logistic_map.json"


class ClipTask(PredictionsSubmission, Task):
    task_id = "cad_icassp_2026"
    accepts = ("predictor",)
    needs = INTELLIGIBILITY
    score_columns = ["signal", "hearing_loss", "raw", "prediction", "correctness"]
    primary_metric = "RMSE"
    lower_is_better = True
    item_columns = ("signal",)
    default_baseline = "whisper"

    def item_values(self, table: pd.DataFrame) -> pd.Series:
        """Per-item squared error (prediction - correctness)^2, what RMSE aggregates."""
        return (table["prediction"].astype(float) - table["correctness"].astype(float)) ** 2

    def paired_label(self) -> str:
        return "MSE"

    def make_demo(self, root: Path) -> None:
        from harness.demo.clip1 import make_clip_demo

        make_clip_demo(root, seed=int(self.cfg.demo.seed), n_train=int(self.cfg.demo.n_train),
                       n_valid=int(self.cfg.demo.n_valid))

    def _records(self, split: str) -> list[dict]:
        path = Path(self.cfg.path.metadata_dir) / f"{split}_metadata.json"
        records = load_json(path, "metadata", expect=list)
        seen = {}
        for i, r in enumerate(records):
            require(r, ("signal", "prompt"), f"{path} [{i}]")
            if r["signal"] in seen:
                raise InputError(f"{path} [{i}]", f"signal {r['signal']!r} is listed twice (also at [{seen[r['signal']]}])")
            seen[r["signal"]] = i
        return records

    def _items(self, split: str, need_labels: bool) -> list[WorkItem]:
        items = []
        for r in self._records(split):
            if need_labels and r.get("correctness") is None:
                raise InputError(f"{self.cfg.path.metadata_dir}/{split}_metadata.json [{r['signal']}]",
                                 "no correctness label to fit or score against")
            items.append(WorkItem(r["signal"], {"signal": r["signal"], "split": split, "prompt": r["prompt"],
                                                "hearing_loss": r.get("hearing_loss", ""),
                                                "correctness": r.get("correctness")}))
        return items

    def work_items(self) -> list[WorkItem]:
        return self._items(self.cfg.split, need_labels=True)

    def dataset(self, split: str) -> MusicDataset:
        """The split's unprocessed excerpts as songs with clean stems (vocals, accompaniment),
        for training enhancers (``unet_mask``). Only the demo writes the stems
        (``audio/<split>/stems/<signal>_vocals.flac``); the official CLIP data has none."""
        folder = Path(self.cfg.path.audio_dir) / split
        songs = {}
        for r in self._records(split):
            sid = r["signal"]
            stems = {s: Track(s, f"stems/{sid}_{s}.flac") for s in ("vocals", "accompaniment")}
            missing = [t.path for t in stems.values() if not (folder / t.path).is_file()]
            if missing:
                raise InputError(folder / missing[0], "no clean stem to train on (only the demo data has stems/)")
            songs[sid] = Song(sid, Track("mixture", f"unprocessed/{sid}_unproc.flac"), stems)
        return MusicDataset(folder, songs, int(self.cfg.sample_rate), split)

    def fit_items(self) -> list[WorkItem]:
        return self._items(self.cfg.fit_split, need_labels=True)

    def prediction_item(self, item: WorkItem) -> PredictionItem:
        f = item.fields
        folder = Path(self.cfg.path.audio_dir) / f["split"]
        rate = int(self.cfg.sample_rate)
        signal = read_audio(folder / "signals" / f"{f['signal']}.flac", rate, channels=2)
        unproc_path = folder / "unprocessed" / f"{f['signal']}_unproc.flac"
        unprocessed = read_audio(unproc_path, rate, channels=2) if unproc_path.exists() else None
        return PredictionItem(f["signal"], signal, unprocessed, rate, f["prompt"], f["hearing_loss"])

    # stages -----------------------------------------------------------------------------------
    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        raw = float(system.predict(self.prediction_item(item)))
        if not np.isfinite(raw):
            raise InputError(f"system {system.name!r}", f"predicted {raw} for {item.key}")
        return {**item.fields, "raw": raw}

    def fit(self, records: list[dict], exp_dir: Path) -> None:
        raw = np.array([r["raw"] for r in records], float)
        target = np.array([r["correctness"] for r in records], float)
        mapping = LogisticMap().fit(raw, target)
        (Path(exp_dir) / MAP_FILE).write_text(json.dumps(mapping.to_dict(), indent=2))

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        path = Path(out_dir).parent / MAP_FILE
        if not path.exists():
            raise InputError(path, "no fitted logistic map: run the train stage first")
        mapping = LogisticMap.from_dict(json.loads(path.read_text()))
        prediction = float(mapping.predict(np.array([enhanced["raw"]]))[0])
        return {**item.fields, "raw": enhanced["raw"], "prediction": prediction}

    def _constant_table(self, signals: pd.Series) -> pd.DataFrame:
        """The scores a constant predictor would get: the fit split's mean correctness for every signal."""
        mean = float(np.mean([r["correctness"] for r in self._records(self.cfg.fit_split)]))
        labels = {r["signal"]: r["correctness"] for r in self._records(self.cfg.split)}
        return pd.DataFrame({"signal": list(signals), "prediction": mean,
                             "correctness": [float(labels[s]) for s in signals]})

    def _constant_row(self, constant: pd.DataFrame, n_boot: int) -> dict:
        """Reference row: predicting the fit split's mean correctness for every signal (what a
        system must clearly beat); correlations are undefined for a constant."""
        y = constant["correctness"].to_numpy(float)
        p = constant["prediction"].to_numpy(float)
        lo, hi = bootstrap_ci(p, y, ("RMSE",), n_boot=n_boot)["RMSE"]
        nan = float("nan")
        return {"system": f"constant ({self.cfg.fit_split} mean)", "n": len(y), **compute_scores(p, y, ("RMSE", "Std")),
                "RMSE_lo": lo, "RMSE_hi": hi, "NCC": nan, "NCC_lo": nan, "NCC_hi": nan, "KT": nan, "KT_lo": nan,
                "KT_hi": nan, "SCC": nan}

    # outputs ----------------------------------------------------------------------------------
    def submission_path(self, exp_dir: Path) -> Path:
        return Path(exp_dir) / f"ICASSP2026_{self.cfg.split}_{self.cfg.team_id}.csv"

    def export(self, scores: pd.DataFrame, exp_dir: Path) -> None:
        out = pd.DataFrame({"signal_id": scores["signal"], "intelligibility_score": scores["prediction"].clip(0, 100)})
        atomic_write(self.submission_path(exp_dir), lambda tmp: out.to_csv(tmp, index=False))

    def validate_submission(self, path: Path) -> list[str]:
        """The predictions CSV: header `signal_id,intelligibility_score`, every signal of the
        split once, finite scores in [0, 100]."""
        return check_predictions_csv(path, [r["signal"] for r in self._records(self.cfg.split)])

    def write_leaderboard(self, exp_task_dir: Path) -> str:
        rows, n_boot, tables = [], int(self.cfg.evaluate.n_boot), {}
        for scores in sorted(Path(exp_task_dir).glob("*/scores.csv")):
            table = pd.read_csv(scores)
            if table.empty:
                continue
            tables[scores.parent.name] = table
            p, y = table["prediction"].to_numpy(float), table["correctness"].to_numpy(float)
            row = {"system": scores.parent.name, "n": len(p), **compute_scores(p, y)}
            for metric, (lo, hi) in bootstrap_ci(p, y, ("RMSE", "NCC", "KT"), n_boot=n_boot).items():
                row[f"{metric}_lo"], row[f"{metric}_hi"] = lo, hi
            rows.append(row)
        if rows:
            constant = self._constant_table(table["signal"])
            rows.append(self._constant_row(constant, n_boot))
            tables[rows[-1]["system"]] = constant
        baseline = self.baseline()
        items = {name: leaderboard.item_table(t, self.item_columns, self.item_values) for name, t in tables.items()}
        for row in rows:
            row["baseline"] = baseline
            if baseline in items:
                row.update(leaderboard.paired_columns(items[row["system"]], items[baseline], self.item_columns))
            else:
                row.update({c: float("nan") for c in leaderboard.PAIRED})
        board = pd.DataFrame(rows)
        title = self.cfg.get("title", self.task_id)
        if board.empty:
            text = f"## {title}\n\n(no scored systems yet)\n"
        else:
            board = board.sort_values("RMSE").reset_index(drop=True)
            board.insert(0, "rank", range(1, len(board) + 1))
            text = f"## {title}\n\n" + _markdown(board, baseline)
        Path(exp_task_dir).mkdir(parents=True, exist_ok=True)
        (Path(exp_task_dir) / "leaderboard.md").write_text(text)
        board.to_csv(Path(exp_task_dir) / "leaderboard.csv", index=False)
        if not board.empty:
            leaderboard.plot(board, "RMSE", Path(exp_task_dir) / "plots" / "leaderboard.png", title, self.paired_label())
        return text


def _markdown(board: pd.DataFrame, baseline: str) -> str:
    base = board[board["system"] == baseline]
    ref = base.iloc[0] if len(base) else None
    lines = ["| rank | system | n | RMSE (95% CI) | NCC (95% CI) | Kendall tau (95% CI) | Spearman | vs " + str(baseline)
             + f" | Δ MSE vs {baseline} (95% CI) | p (Wilcoxon) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in board.iterrows():
        if ref is None or r["system"] == baseline:
            versus = "baseline" if ref is not None else "n/a"
        else:
            d_rmse, d_ncc = r["RMSE"] - ref["RMSE"], r["NCC"] - ref["NCC"]
            versus = f"error is {'higher' if d_rmse > 0 else 'lower'} ({d_rmse:+.2f})"
            if not np.isnan(d_ncc):
                versus += f", correlation is {'higher' if d_ncc > 0 else 'lower'} ({d_ncc:+.2f})"
        ci = lambda k: "n/a" if np.isnan(r[k]) else f"{r[k]:.3f} [{r[k + '_lo']:.3f}, {r[k + '_hi']:.3f}]"  # noqa: E731
        scc = "n/a" if np.isnan(r["SCC"]) else f"{r['SCC']:.3f}"
        d = (f"{r['diff']:+.2f} [{r['diff_lo']:+.2f}, {r['diff_hi']:+.2f}]" if r["system"] != baseline and np.isfinite(r["diff"])
             else "baseline" if r["system"] == baseline else "n/a")
        lines.append(f"| {r['rank']} | {r['system']} | {int(r['n'])} | {ci('RMSE')} | {ci('NCC')} | {ci('KT')} | "
                     f"{scc} | {versus} | {d} | {leaderboard.fmt_p(r)} |")
    note = (f"\nΔ MSE: mean paired difference of per-item squared error from {baseline} (system - {baseline}, "
            "percentage points squared; negative = lower RMSE), paired-bootstrap 95% interval; "
            "p: two-sided Wilcoxon signed-rank test.\n")
    return "\n".join(lines) + "\n" + note


TASK = ClipTask
