"""The leaderboard of an intelligibility-prediction task: one row per system's ``scores.csv``
(columns ``signal``, ``prediction``, ``correctness``, optionally a group column such as
``hearing_loss``), every metric with its bootstrap 95 % interval
(``evaluators.prediction.bootstrap_ci``), the metric per group, and each system's difference
from a baseline system. Units are those of the scores (0..100 for CLIP).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaluators.paired import paired
from evaluators.prediction import METRIC_FUNCTIONS, bootstrap_ci, compute_scores

CORRELATIONS = ("NCC", "KT", "SCC")
NAMES = {"RMSE": "RMSE", "MAE": "MAE", "NCC": "Pearson", "KT": "Kendall tau", "SCC": "Spearman", "Std": "Std"}


def _metric(name: str, p: np.ndarray, y: np.ndarray) -> float:
    if name in CORRELATIONS and (len(p) < 2 or np.ptp(p) == 0 or np.ptp(y) == 0):
        return float("nan")
    return float(METRIC_FUNCTIONS[name](p, y)) if len(p) else float("nan")


def system_row(system: str, table: pd.DataFrame, metrics: Sequence[str], n_boot: int,
               group: str | None = None, group_metrics: Sequence[str] = ("RMSE", "NCC"),
               constant: float | None = None) -> dict:
    """``{"system", "n", <metric>, <metric>_lo, <metric>_hi, ..., "<group>=<value> <metric>"}``
    for one system's scored rows (rows without a label are left out); with ``constant``, also
    ``dMSE_constant``, ``dMSE_constant_lo``, ``_hi`` and ``_p``: the paired comparison of the
    per-item squared errors with those of predicting ``constant`` for every item."""
    table = table[pd.to_numeric(table["correctness"], errors="coerce").notna()]
    p, y = table["prediction"].to_numpy(float), table["correctness"].to_numpy(float)
    row = {"system": system, "n": len(p)}
    if len(p) < 3:
        return {**row, **{m: float("nan") for m in metrics}}
    row.update({m: _metric(m, p, y) for m in metrics})
    for m, (lo, hi) in bootstrap_ci(p, y, tuple(metrics), n_boot=n_boot).items():
        row[f"{m}_lo"], row[f"{m}_hi"] = lo, hi
    if constant is not None:
        versus = paired((p - y) ** 2, (float(constant) - y) ** 2, n_boot=n_boot)
        row.update(dMSE_constant=versus.mean, dMSE_constant_lo=versus.lo, dMSE_constant_hi=versus.hi,
                   dMSE_constant_p=versus.p)
    if group is not None and group in table:
        for value, part in table.groupby(group, sort=True):
            pp, yy = part["prediction"].to_numpy(float), part["correctness"].to_numpy(float)
            for m in group_metrics:
                row[f"{value} {m}"] = _metric(m, pp, yy) if len(pp) >= 2 else float("nan")
    return row


def constant_row(label: str, value: float, labels: np.ndarray, n_boot: int) -> dict:
    """Predicting ``value`` for every item: the error a system must clearly beat
    (correlations are undefined for a constant)."""
    y = np.asarray(labels, float)
    p = np.full_like(y, value)
    row = {"system": label, "n": len(y)}
    if len(y) >= 3:
        row.update(compute_scores(p, y, ("RMSE", "MAE")))
        for m, (lo, hi) in bootstrap_ci(p, y, ("RMSE", "MAE"), n_boot=n_boot).items():
            row[f"{m}_lo"], row[f"{m}_hi"] = lo, hi
    return row


def ranked(rows: list[dict], primary: str = "RMSE") -> pd.DataFrame:
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    board = board.sort_values([primary, "system"], na_position="last").reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board


def markdown(board: pd.DataFrame, metrics: Sequence[str], baseline: str, group_columns: Sequence[str] = ()) -> str:
    """A markdown table: each metric with its interval, the group columns, the paired
    comparison with the constant where the board has it (``system_row(constant=)``), and the
    difference of RMSE and Pearson from ``baseline``."""
    base = board[board["system"] == baseline]
    ref = base.iloc[0] if len(base) else None
    versus_constant = "dMSE_constant" in board
    head = ["rank", "system", "n", *(f"{NAMES.get(m, m)} (95% CI)" for m in metrics), *group_columns,
            *(["MSE - constant's (95% CI), p"] if versus_constant else []), f"vs {baseline}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def cell(r, k):
        v = r.get(k, np.nan)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return "n/a"
        lo, hi = r.get(f"{k}_lo", np.nan), r.get(f"{k}_hi", np.nan)
        return f"{v:.3f}" if lo is None or np.isnan(lo) else f"{v:.3f} [{lo:.3f}, {hi:.3f}]"

    for _, r in board.iterrows():
        if ref is None:
            versus = "n/a"
        elif r["system"] == baseline:
            versus = "baseline"
        else:
            parts = []
            for m, word in (("RMSE", "error"), ("NCC", "correlation")):
                if m in r and m in ref and not (np.isnan(r[m]) or np.isnan(ref[m])):
                    d = r[m] - ref[m]
                    parts.append(f"{word} {'higher' if d > 0 else 'lower'} ({d:+.3f})")
            versus = ", ".join(parts) or "n/a"
        extra = []
        if versus_constant:
            d = r.get("dMSE_constant", np.nan)
            extra = ["n/a" if d is None or np.isnan(d) else
                     f"{d:+.1f} [{r['dMSE_constant_lo']:+.1f}, {r['dMSE_constant_hi']:+.1f}], p {r['dMSE_constant_p']:.2g}"]
        cells = [str(r["rank"]), str(r["system"]), str(int(r["n"])), *(cell(r, m) for m in metrics),
                 *(cell(r, g) for g in group_columns), *extra, versus]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
