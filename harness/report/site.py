"""`--stage report`: a static, self-contained site under `exp/<challenge>/<task>/report/`.

    report/index.html        the leaderboard (means with 95% CIs, paired differences from the
                             baseline with their intervals and Wilcoxon p, breakdowns), the plots,
                             links to the item pages
    report/items/item-K.html one page per chosen item (`report.items`): the scores of every
                             system, the listener's audiogram, an audio player and a spectrogram
                             per clip side by side, transcripts word by word where the task has them
    report/assets/           style.css, the plots, and media/item-K/ (FLAC, PNG)

Everything is relative and local: it opens from file:// with no network and no script
(a Content-Security-Policy forbids scripts). Pages are Jinja2 templates with autoescaping, so
metadata (system, song and listener names, lyrics) is always text, never markup. The site is
built in a temporary folder beside the old one and swapped in, so a failed build never leaves
half a site; its total size must stay under `report.budget_mb`.

Settings (optional, `report.*` in recipe.yaml; presentation only, not in the config hash):
`items` (a count spread over the sorted item keys, or a list of keys; default 3),
`sample_rate` (Hz, default 16000), `max_seconds` (default 10), `budget_mb` (default 40).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from harness import leaderboard
from harness.errors import HarnessError
from harness.files import replace_folder
from harness.report import media

TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULTS = {"items": 3, "sample_rate": 16000, "max_seconds": 10.0, "budget_mb": 40}


def setting(cfg, key: str):
    return OmegaConf.select(cfg, f"report.{key}", default=DEFAULTS[key])


def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env


def _num(value, digits: int = 4) -> str:
    if value is None or isinstance(value, str):
        return "n/a" if value is None else value
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(v):
        return "n/a"
    return f"{v:.{digits}f}"


def board_rows(board: pd.DataFrame, primary: str) -> dict:
    """What the index's tables show, formatted (strings; escaped by the template)."""
    if board.empty:
        return {"columns": [], "rows": [], "groups": [], "group_rows": [], "baseline": None, "interval": ""}
    names = leaderboard.groups(board, primary)
    hidden = {"ci95", "baseline", *leaderboard.PAIRED, "rank", "system", primary, "n"}
    extra = [c for c in board.columns if c not in hidden and not c.endswith("]") and not c.endswith(("_lo", "_hi"))]
    has_ci = "ci95" in board
    rows = []
    for _, r in board.iterrows():
        if has_ci:
            score = leaderboard.fmt_ci(r[primary], r["ci95"])
        else:
            score = f"{_num(r[primary])} [{_num(r.get(primary + '_lo'))}, {_num(r.get(primary + '_hi'))}]"
        rows.append({"rank": _num(r["rank"], 0), "system": str(r["system"]), "score": score, "n": _num(r["n"], 0),
                     "extra": [_num(r.get(c)) for c in extra], "diff": leaderboard.fmt_diff(r), "p": leaderboard.fmt_p(r),
                     "is_baseline": r.get("system") == r.get("baseline")})
    group_rows = [{"system": str(r["system"]), "group": g, "score": leaderboard.fmt_ci(r.get(f"{primary} [{g}]"), r.get(f"ci95 [{g}]")),
                   "n": _num(r.get(f"n [{g}]"), 0), "diff": leaderboard.fmt_diff(r, f" [{g}]"), "p": leaderboard.fmt_p(r, f" [{g}]")}
                  for g in names for _, r in board.iterrows() if np.isfinite(r.get(f"{primary} [{g}]", np.nan))]
    return {"columns": extra, "rows": rows, "groups": names, "group_rows": group_rows,
            "baseline": leaderboard.baseline_of(board),
            "interval": "Student t over items" if has_ci else "percentile bootstrap over items"}


def item_scores(tables: dict[str, pd.DataFrame], item, item_columns) -> tuple[list[str], list[dict]]:
    """Each system's scores.csv row of `item` (matched on the task's item columns, else the key)."""
    columns, rows = [], []
    for name, table in tables.items():
        if item_columns and set(item_columns) <= set(table.columns):
            mask = np.logical_and.reduce([table[c].astype(str) == str(item.fields.get(c)) for c in item_columns])
        else:
            continue
        match = table[mask]
        if match.empty:
            continue
        row = match.iloc[0]
        numeric = [c for c in table.columns if c not in item_columns and pd.api.types.is_numeric_dtype(table[c])]
        columns += [c for c in numeric if c not in columns]
        rows.append({"system": name, "values": {c: row[c] for c in numeric}})
    return columns, [{"system": r["system"], "cells": [_num(r["values"].get(c)) for c in columns]} for r in rows]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(task, exp_task_dir: Path) -> Path:
    """Write the report of every system with a scores.csv under `exp_task_dir`; returns its folder.
    The leaderboard (leaderboard.csv, plots/) must have been written first."""
    exp_task_dir = Path(exp_task_dir)

    def write(tmp: Path) -> None:
        _write(task, exp_task_dir, tmp)
        budget = float(setting(task.cfg, "budget_mb"))
        size = _size(tmp)
        if size > budget * 1e6:
            raise HarnessError(f"report of {task.task_id} would be {size / 1e6:.1f} MB, over report.budget_mb={budget:g}; "
                               "lower report.items, report.max_seconds or report.sample_rate")

    return replace_folder(exp_task_dir / "report", write)


def _write(task, exp_task_dir: Path, out: Path) -> None:
    env = environment()
    assets = out / "assets"
    assets.mkdir(parents=True)
    shutil.copy(TEMPLATES / "style.css", assets / "style.css")
    csv = exp_task_dir / "leaderboard.csv"
    board = pd.read_csv(csv) if csv.is_file() and csv.stat().st_size > 1 else pd.DataFrame()
    plots = []
    for png in sorted((exp_task_dir / "plots").glob("*.png")):
        shutil.copy(png, assets / f"plot-{len(plots)}.png")
        plots.append({"src": f"assets/plot-{len(plots)}.png", "name": png.stem.replace("_", " ")})
    systems = {p.parent.name: p.parent for p in sorted(exp_task_dir.glob("*/scores.csv"))}
    tables = {name: pd.read_csv(folder / "scores.csv") for name, folder in systems.items()}
    title = str(task.cfg.get("title", task.task_id))
    pages, note = [], None
    items = task.report_items() if systems else []
    for k, item in enumerate(items):
        found = task.item_media(item, systems)
        if found is None:
            note = f"{task.task_id} has no per-item media (Task.item_media); only the leaderboard is shown."
            break
        name = f"item-{k}"
        columns, score_rows = item_scores(tables, item, task.item_columns)
        page = _item_page(found, item, out, name, task.cfg, columns, score_rows)
        (out / "items").mkdir(exist_ok=True)
        (out / "items" / f"{name}.html").write_text(env.get_template("item.html.j2").render(**page, site_title=title))
        pages.append({"href": f"items/{name}.html", "title": found.title, "key": item.key})
    index = env.get_template("index.html.j2").render(
        site_title=title, primary=task.primary_metric, lower_is_better=task.lower_is_better,
        paired_label=task.paired_label(), breakdown=task.breakdown, plots=plots, pages=pages, note=note,
        **board_rows(board, task.primary_metric))
    (out / "index.html").write_text(index)


def _item_page(found: media.ItemMedia, item, out: Path, name: str, cfg, columns, score_rows) -> dict:
    rate, max_s = int(setting(cfg, "sample_rate")), float(setting(cfg, "max_seconds"))
    folder = out / "assets" / "media" / name
    signals = [media.browser_signal(c, rate, max_s) for c in found.clips]
    clips = []
    for j, (clip, signal) in enumerate(zip(found.clips, signals)):
        seconds = media.write_flac(signal, rate, folder / f"clip-{j}.flac")
        clips.append({"label": clip.label, "audio": f"../assets/media/{name}/clip-{j}.flac",
                      "spectrogram": f"../assets/media/{name}/clip-{j}.png", "seconds": round(seconds, 3)})
    media.write_spectrograms(signals, rate, [folder / f"clip-{j}.png" for j in range(len(signals))])
    audiogram = None
    if found.audiogram:
        media.write_audiogram(found.audiogram, folder / "audiogram.png")
        audiogram = f"../assets/media/{name}/audiogram.png"
    return {"title": found.title, "key": item.key, "details": found.details, "clips": clips, "audiogram": audiogram,
            "score_columns": columns, "score_rows": score_rows, "reference_text": found.reference_text,
            "transcripts": found.transcripts, "rate": rate, "top_khz": rate / 2000}
