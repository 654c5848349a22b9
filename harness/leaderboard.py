"""Leaderboard over every system that has a `scores.csv` in an experiment folder.

Per system: the mean of the task's primary metric with a 95% confidence interval (Student t
over items), the number of items, the rank, the means of the task's other summary columns,
the primary metric broken down by the task's breakdown column (e.g. strings vs winds), and a
paired comparison with a named baseline system.

Paired comparison (`evaluators.paired`): systems are scored on the same items, so each system's
per-item values are joined with the baseline's on the task's item columns (e.g. scene and
listener) and the leaderboard gives the mean paired difference (system - baseline, in the
metric's unit), its seeded paired-bootstrap 95% interval and the two-sided Wilcoxon signed-rank
p-value, overall and per breakdown group. CSV columns: `baseline`, `diff`, `diff_lo`,
`diff_hi`, `wilcoxon_p`, `n_paired`, and `<column> [<group>]` for each group (also
`ci95 [<group>]`). The baseline's own row has difference 0 and no p-value; without item columns,
or when the baseline has no scores, the paired columns are NaN.

A chain is also compared with its control, the chain without its enhancers
(``harness.registry.control``: ``arunet`` for ``arunet+msg``), when the control has scores:
CSV columns `control` and `control_diff`, `control_diff_lo`, ... (the paired columns with the
prefix `control_`), shown in one column "Δ vs control".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from evaluators.paired import paired

PAIRED = ("diff", "diff_lo", "diff_hi", "wilcoxon_p", "n_paired")


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


def item_table(table: pd.DataFrame, item_columns, values: Callable[[pd.DataFrame], pd.Series],
               breakdown: str | None = None) -> pd.DataFrame:
    """The item columns, the per-item values (column `value`, finite only) and the breakdown."""
    out = table[list(item_columns)].copy()
    out["value"] = pd.to_numeric(values(table), errors="coerce").to_numpy(float)
    if breakdown and breakdown in table:
        out["_group"] = table[breakdown].to_numpy()
    return out[np.isfinite(out["value"])]


def paired_columns(system: pd.DataFrame, baseline: pd.DataFrame, item_columns, suffix: str = "") -> dict:
    """`diff`, `diff_lo`, `diff_hi`, `wilcoxon_p`, `n_paired` (+ suffix) of two item tables
    (from `item_table`) joined on their item columns."""
    joined = system.merge(baseline[[*item_columns, "value"]], on=list(item_columns), suffixes=("", "_base"))
    r = paired(joined["value"], joined["value_base"])
    return dict(zip((c + suffix for c in PAIRED), (r.mean, r.lo, r.hi, r.p, r.n)))


def _no_pairs(suffix: str = "") -> dict:
    return {c + suffix: (0 if c == "n_paired" else float("nan")) for c in PAIRED}


def build(exp_task_dir: Path, primary: str, extra: list[str] = (), breakdown: str | None = None,
          lower_is_better: bool = False, reducers: dict | None = None, baseline: str | None = None,
          item_columns=(), item_values: Callable[[pd.DataFrame], pd.Series] | None = None,
          control_of: Callable[[str], str | None] | None = None) -> pd.DataFrame:
    """One row per system with a scores.csv: the primary metric's mean and 95% CI, each
    `extra` column's mean over items (or `reducers[column](table)`), the breakdown, and the
    paired comparison with `baseline` on `item_values(table)` (default: the primary metric)
    of the items matched by `item_columns`, and with the system's control
    (`control_of(system)`, None for none) where it has scores."""
    reducers = reducers or {}
    values = item_values or (lambda t: t[primary])
    tables = {}
    for scores in sorted(Path(exp_task_dir).glob("*/scores.csv")):
        table = pd.read_csv(scores)
        if primary in table and not table.empty:
            tables[scores.parent.name] = table
    can_pair = bool(item_columns) and all(set(item_columns) <= set(t.columns) for t in tables.values())
    items = {name: item_table(t, item_columns, values, breakdown) for name, t in tables.items()} if can_pair else {}
    base = items.get(baseline)
    rows = []
    for name, table in tables.items():
        mean, half, n = mean_ci(table[primary])
        row = {"system": name, primary: mean, "ci95": half, "n": n}
        for col in extra:
            if col in table:
                row[col] = reducers[col](table) if col in reducers else mean_ci(table[col])[0]
        row["baseline"] = baseline
        row.update(paired_columns(items[name], base, item_columns) if base is not None else _no_pairs())
        control = control_of(name) if control_of is not None else None
        if control is not None and control in items:
            row["control"] = control
            row.update({f"control_{k}": v for k, v in paired_columns(items[name], items[control], item_columns).items()})
        if breakdown and breakdown in table:
            for group, sub in table.groupby(breakdown):
                m, h, k = mean_ci(sub[primary])
                row[f"{primary} [{group}]"] = m
                row[f"ci95 [{group}]"] = h
                row[f"n [{group}]"] = k
                suffix = f" [{group}]"
                if base is not None:
                    mine = items[name][items[name]["_group"] == group]
                    row.update(paired_columns(mine, base, item_columns, suffix))
                else:
                    row.update(_no_pairs(suffix))
        rows.append(row)
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    # ranks from values rounded to 1e-9: float noise in the last bits must not break a tie
    board["_key"] = board[primary].round(9)
    board = board.sort_values(["_key", "system"], ascending=[lower_is_better, True], na_position="last").reset_index(drop=True)
    board.insert(0, "rank", board.pop("_key").rank(ascending=lower_is_better, method="min").astype("Int64"))
    return board


def groups(board: pd.DataFrame, primary: str) -> list[str]:
    """The breakdown groups of a board, in column order."""
    prefix = f"{primary} ["
    return [c[len(prefix):-1] for c in board.columns if c.startswith(prefix) and c.endswith("]")]


def baseline_of(board: pd.DataFrame) -> str | None:
    """The board's baseline system, None when it has none or the baseline has no scores there
    (its comparison columns would be empty)."""
    if "baseline" not in board or board.empty or pd.isna(board["baseline"].iloc[0]):
        return None
    baseline = str(board["baseline"].iloc[0])
    return baseline if baseline in set(board["system"]) else None


def fmt_diff(row, suffix: str = "") -> str:
    """`+0.0123 [-0.0040, +0.0290]`, `baseline` for the baseline's own row, `n/a` without pairs."""
    if row.get("system") == row.get("baseline"):
        return "baseline"
    d, lo, hi = (row.get(c + suffix, np.nan) for c in ("diff", "diff_lo", "diff_hi"))
    if d is None or not np.isfinite(d):
        return "n/a"
    return f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}]"


def fmt_control(row) -> str:
    """`-0.0003 [-0.0005, -0.0001] vs arunet, p 0.002`; empty for a system without a control."""
    control = row.get("control")
    if not isinstance(control, str):
        return ""
    d, lo, hi, p = (row.get(f"control_{c}", np.nan) for c in ("diff", "diff_lo", "diff_hi", "wilcoxon_p"))
    if d is None or not np.isfinite(d):
        return f"n/a vs {control}"
    return f"{d:+.4f} [{lo:+.4f}, {hi:+.4f}] vs {control}, p {p:.3g}" if np.isfinite(p) else f"{d:+.4f} vs {control}"


def fmt_p(row, suffix: str = "") -> str:
    p = row.get("wilcoxon_p" + suffix, np.nan)
    if row.get("system") == row.get("baseline") or p is None or not np.isfinite(p):
        return "n/a"
    return f"{p:.3g}"


def fmt_ci(mean, half) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:.4f} ± {half:.4f}" if half is not None and np.isfinite(half) else f"{mean:.4f}"


def _cell(v) -> str:
    if isinstance(v, float):
        return "n/a" if not np.isfinite(v) else f"{v:.4f}"
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "n/a"
    return str(v)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
            *("| " + " | ".join(r) + " |" for r in rows)]


def to_markdown(board: pd.DataFrame, primary: str, title: str = "", breakdown: str | None = None,
                paired_label: str | None = None) -> str:
    """The leaderboard, then (with a breakdown) one row per system and group. `paired_label`
    names what the paired difference is taken on (default: the primary metric)."""
    if board.empty:
        return f"{title}\n\n(no scored systems yet)\n"
    names = groups(board, primary)
    hidden = ({"ci95", "baseline", *PAIRED} | {c for c in board.columns if c.endswith("]")}
              | {c for c in board.columns if c.startswith("control")})
    extra = [c for c in board.columns if c not in hidden and c not in ("rank", "system", primary, "n")]
    baseline = baseline_of(board)
    versus = [f"Δ {paired_label or primary} vs {baseline} (95% CI)", "p (Wilcoxon)"] if baseline else []
    compared = (lambda r, suffix="": [fmt_diff(r, suffix), fmt_p(r, suffix)]) if baseline else (lambda r, suffix="": [])
    controlled = "control" in board and board["control"].notna().any()
    header = ["rank", "system", f"{primary} (95% CI)", "n", *extra, *versus,
              *([f"Δ {paired_label or primary} vs control (95% CI), p"] if controlled else [])]
    rows = [[_cell(r["rank"]), str(r["system"]), fmt_ci(r[primary], r["ci95"]), _cell(r["n"]),
             *(_cell(r.get(c)) for c in extra), *compared(r), *([fmt_control(r)] if controlled else [])]
            for _, r in board.iterrows()]
    lines = _table(header, rows)
    if names:
        lines += ["", f"By {breakdown or 'group'}:", ""]
        header = ["system", breakdown or "group", f"{primary} (95% CI)", "n", *versus]
        rows = [[str(r["system"]), g, fmt_ci(r.get(f"{primary} [{g}]"), r.get(f"ci95 [{g}]")),
                 _cell(r.get(f"n [{g}]")), *compared(r, f" [{g}]")]
                for g in names for _, r in board.iterrows() if np.isfinite(r.get(f"{primary} [{g}]", np.nan))]
        lines += _table(header, rows)
    note = "" if baseline is None else (
        f"\nΔ: mean paired difference from {baseline} over the same items (system - {baseline}), "
        "paired-bootstrap 95% interval; p: two-sided Wilcoxon signed-rank test.\n")
    return (f"## {title}\n\n" if title else "") + "\n".join(lines) + "\n" + note


def plot(board: pd.DataFrame, primary: str, path: Path, title: str = "", paired_label: str | None = None) -> None:
    """Left: each system's mean with its 95% CI. Right: the paired difference from the
    baseline with its bootstrap 95% interval, overall and per breakdown group."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = groups(board, primary)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 1.5 + 0.4 * len(board)), sharey=True)
    order = board.iloc[::-1]
    y = np.arange(len(order))
    if "ci95" in order:
        err = order["ci95"].fillna(0).to_numpy(float)
    else:  # an asymmetric interval, `<primary>_lo` .. `<primary>_hi`
        m = order[primary].to_numpy(float)
        err = np.nan_to_num([m - order[f"{primary}_lo"].to_numpy(float), order[f"{primary}_hi"].to_numpy(float) - m])
    ax.barh(y, order[primary], xerr=err, color="#4c72b0", capsize=3)
    ax.set_yticks(y, [str(s) for s in order["system"]])
    ax.set_xlabel(f"{primary} (mean, 95% CI)")
    ax.set_title(title, fontsize=10)
    series = [("all items", "")] + [(g, f" [{g}]") for g in names]
    step = 0.6 / max(1, len(series))
    for i, (label, suffix) in enumerate(series):
        d = order.get("diff" + suffix, pd.Series(np.nan, index=order.index)).to_numpy(float)
        lo = order.get("diff_lo" + suffix, pd.Series(np.nan, index=order.index)).to_numpy(float)
        hi = order.get("diff_hi" + suffix, pd.Series(np.nan, index=order.index)).to_numpy(float)
        off = y + (i - (len(series) - 1) / 2) * step
        bx.errorbar(d, off, xerr=[np.nan_to_num(d - lo), np.nan_to_num(hi - d)], fmt="o", ms=4, capsize=3, label=label)
    bx.axvline(0, color="0.5", lw=1)
    baseline = baseline_of(board)
    bx.set_xlabel(f"Δ {paired_label or primary} vs {baseline} (paired, 95% CI)" if baseline else "(the baseline has no scores)")
    if names:
        bx.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
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
          reducers: dict | None = None, baseline: str | None = None, item_columns=(), item_values=None,
          paired_label: str | None = None, control_of: Callable[[str], str | None] | None = None) -> str:
    """Build the board (see `build`) and write leaderboard.md, leaderboard.csv and plots/."""
    board = build(exp_task_dir, primary, list(extra), breakdown, lower_is_better, reducers, baseline, item_columns,
                  item_values, control_of)
    text = to_markdown(board, primary, title, breakdown, paired_label)
    exp_task_dir = Path(exp_task_dir)
    exp_task_dir.mkdir(parents=True, exist_ok=True)
    (exp_task_dir / "leaderboard.md").write_text(text)
    board.to_csv(exp_task_dir / "leaderboard.csv", index=False)
    if not board.empty:
        plot(board, primary, exp_task_dir / "plots" / "leaderboard.png", title, paired_label)
        plot_items(exp_task_dir, list(board["system"]), primary, exp_task_dir / "plots" / "per_item.png", title)
    return text
