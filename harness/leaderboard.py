"""Leaderboard over every system that has a `scores.csv` in an experiment folder.

Per system: the mean of the task's primary metric with a 95% confidence interval (Student t
over items), the number of items, the rank, the means of the task's other summary columns,
and the primary metric broken down by the task's breakdown column (e.g. strings vs winds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats


def mean_ci(values) -> tuple[float, float, int]:
    """(mean, half-width of the 95% t interval, n) over the finite values."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(), dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    if len(v) == 1:
        return float(v[0]), float("nan"), 1
    half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
    return float(v.mean()), float(half), len(v)


def build(exp_task_dir: Path, primary: str, extra: list[str] = (), breakdown: str | None = None,
          lower_is_better: bool = False, reducers: dict | None = None) -> pd.DataFrame:
    """One row per system with a scores.csv: the primary metric's mean and 95% CI, each
    `extra` column's mean over items (or `reducers[column](table)`), and the breakdown."""
    reducers = reducers or {}
    rows = []
    for scores in sorted(Path(exp_task_dir).glob("*/scores.csv")):
        table = pd.read_csv(scores)
        if primary not in table or table.empty:
            continue
        mean, half, n = mean_ci(table[primary])
        row = {"system": scores.parent.name, primary: mean, "ci95": half, "n": n}
        for col in extra:
            if col in table:
                row[col] = reducers[col](table) if col in reducers else mean_ci(table[col])[0]
        if breakdown and breakdown in table:
            for group, sub in table.groupby(breakdown):
                m, h, k = mean_ci(sub[primary])
                row[f"{primary} [{group}]"] = m
                row[f"n [{group}]"] = k
        rows.append(row)
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    # ranks from values rounded to 1e-9: float noise in the last bits must not break a tie
    board["_key"] = board[primary].round(9)
    board = board.sort_values(["_key", "system"], ascending=[lower_is_better, True], na_position="last").reset_index(drop=True)
    board.insert(0, "rank", board.pop("_key").rank(ascending=lower_is_better, method="min").astype("Int64"))
    return board


def to_markdown(board: pd.DataFrame, primary: str, title: str = "") -> str:
    if board.empty:
        return f"{title}\n\n(no scored systems yet)\n"
    shown = board.copy()
    shown[primary] = [f"{m:.4f} ± {h:.4f}" if np.isfinite(h) else f"{m:.4f}" for m, h in zip(board[primary], board["ci95"])]
    shown = shown.drop(columns=["ci95"]).rename(columns={primary: f"{primary} (95% CI)"})
    header = "| " + " | ".join(shown.columns) + " |"
    rule = "|" + "|".join("---" for _ in shown.columns) + "|"
    lines = [header, rule]
    for _, row in shown.iterrows():
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("n/a" if not np.isfinite(v) else f"{v:.4f}")
            elif v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append("n/a")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return (f"## {title}\n\n" if title else "") + "\n".join(lines) + "\n"


def plot(board: pd.DataFrame, primary: str, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 1.5 + 0.4 * len(board)))
    order = board.iloc[::-1]
    ax.barh(order["system"], order[primary], xerr=order["ci95"].fillna(0), color="#4c72b0", capsize=3)
    ax.set_xlabel(f"{primary} (mean, 95% CI)")
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_items(exp_task_dir: Path, systems: list[str], primary: str, path: Path, title: str = "") -> None:
    """Per-item distribution of the primary metric for each system (box plot with the items as dots)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [pd.to_numeric(pd.read_csv(Path(exp_task_dir) / s / "scores.csv")[primary], errors="coerce").dropna()
              for s in systems]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 + 1.1 * len(systems)), 4))
    ax.boxplot(values, showfliers=False)
    for i, v in enumerate(values, 1):
        ax.plot(np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)), v, "o", ms=3, alpha=0.6, color="#4c72b0")
    ax.set_xticks(range(1, len(systems) + 1), systems, rotation=30, ha="right")
    ax.set_ylabel(primary)
    ax.set_title(title or f"{primary} per item", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(exp_task_dir: Path, primary: str, extra=(), breakdown=None, lower_is_better=False, title="",
          reducers: dict | None = None) -> str:
    board = build(exp_task_dir, primary, list(extra), breakdown, lower_is_better, reducers)
    text = to_markdown(board, primary, title)
    exp_task_dir = Path(exp_task_dir)
    exp_task_dir.mkdir(parents=True, exist_ok=True)
    (exp_task_dir / "leaderboard.md").write_text(text)
    board.to_csv(exp_task_dir / "leaderboard.csv", index=False)
    if not board.empty:
        plot(board, primary, exp_task_dir / "plots" / "leaderboard.png", title)
        plot_items(exp_task_dir, list(board["system"]), primary, exp_task_dir / "plots" / "per_item.png", title)
    return text
