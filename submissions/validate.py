"""Checks that what a team hands in is what the organisers expect, before it is zipped.

Each task lists the files it expects (`Task.expected_outputs`); this module checks each one
(present, FLAC, 16-bit, sample rate, channels, length) and flags unexpected files, so a
submission fails here, with every problem named, rather than at the organisers'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import soundfile as sf


@dataclass(frozen=True)
class ExpectedAudio:
    relative_path: str  # inside the submission
    sample_rate: int
    channels: int = 2
    seconds: float | None = None  # None: any length
    subtype: str = "PCM_16"
    # a text file beside the audio holding the positive factor its samples were divided by
    # (CAD1 task 1's peak-normalised stems: `<stem>.txt`); None: no such companion
    scale_file: str | None = None


def check_scale_file(path: Path, name: str) -> str | None:
    """The problem of a scale companion (missing, unreadable, not a positive finite number), or None."""
    if not path.is_file():
        return f"{name}: missing"
    try:
        value = float(path.read_text(encoding="utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        return f"{name}: not a number (the stem's scale factor)"
    if not math.isfinite(value) or value <= 0:
        return f"{name}: scale {value!r} is not a positive finite number"
    return None


def check_audio(root: Path, expected: list[ExpectedAudio], tolerance_s: float = 0.01) -> list[str]:
    """Every problem of the files under `root` against `expected` (and their scale companions,
    where they have one); [] when all is well."""
    root = Path(root)
    problems = []
    wanted = {e.relative_path for e in expected} | {e.scale_file for e in expected if e.scale_file}
    for e in expected:
        if e.scale_file:
            problem = check_scale_file(root / e.scale_file, e.scale_file)
            if problem:
                problems.append(problem)
        path = root / e.relative_path
        if not path.is_file():
            problems.append(f"{e.relative_path}: missing")
            continue
        try:
            info = sf.info(str(path))
        except Exception as err:  # soundfile's own error types
            problems.append(f"{e.relative_path}: unreadable ({err})")
            continue
        if info.format != "FLAC":
            problems.append(f"{e.relative_path}: format {info.format}, expected FLAC")
        if info.subtype != e.subtype:
            problems.append(f"{e.relative_path}: sample format {info.subtype}, expected {e.subtype}")
        if info.samplerate != e.sample_rate:
            problems.append(f"{e.relative_path}: sample rate {info.samplerate} Hz, expected {e.sample_rate} Hz")
        if info.channels != e.channels:
            problems.append(f"{e.relative_path}: {info.channels} channels, expected {e.channels}")
        if e.seconds is not None and abs(info.frames / info.samplerate - e.seconds) > tolerance_s:
            problems.append(f"{e.relative_path}: {info.frames / info.samplerate:.3f} s long, expected {e.seconds:.3f} s")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in wanted:
            problems.append(f"{rel}: not part of the submission")
    return problems


HEADERLESS = ("signal_id", "score")  # the column names a headerless CSV is read with


def check_predictions_csv(path: Path, expected_ids: list[str],
                          header: tuple[str, str] | None = ("signal_id", "intelligibility_score"),
                          value_range: tuple[float, float] = (0.0, 100.0)) -> list[str]:
    """Every problem of a predictions CSV: its header, one row per expected id (none missing,
    none unknown, none twice), and finite values within `value_range`.

    ``header=None``: the file must have no header row (EvalAI's CLIP2 leaderboard: "Do not
    include the CSV headers"), exactly two columns ``<signal_id>,<score>`` and no spaces."""
    path = Path(path)
    if not path.is_file():
        return [f"{path}: file not found"]
    names = header or HEADERLESS
    try:
        if header is None:
            table = pd.read_csv(path, header=None, dtype={0: str}, skipinitialspace=False)
        else:
            table = pd.read_csv(path, dtype={header[0]: str})
    except pd.errors.EmptyDataError:
        return [f"{path}: empty file"]
    except Exception as err:  # pandas' parser errors
        return [f"{path}: not a readable CSV ({err})"]
    if header is None:
        if table.shape[1] != 2:
            return [f"{path}: {table.shape[1]} columns, expected 2 (<signal_id>,<score>, no header)"]
        table.columns = list(names)
        first = pd.to_numeric(pd.Series([table.iloc[0, 1]]), errors="coerce").iloc[0] if len(table) else 0.0
        if not math.isfinite(first):
            return [f"{path}: the first row {table.iloc[0, 0]},{table.iloc[0, 1]} looks like a header; "
                    "the leaderboard wants none"]
        spaced = [i + 1 for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines())
                  if " " in line or "\t" in line]
        problems = [f"{path}: line {n} contains spaces" for n in spaced[:5]]
    else:
        if tuple(table.columns) != header:
            return [f"{path}: header {','.join(map(str, table.columns))}, expected {','.join(header)}"]
        problems = []
    ids = table[names[0]].astype(str)
    for signal in sorted(set(ids[ids.duplicated()])):
        problems.append(f"{signal}: listed {int((ids == signal).sum())} times")
    wanted = set(expected_ids)
    problems += [f"{s}: missing" for s in sorted(wanted - set(ids))]
    problems += [f"{s}: not a signal of this split" for s in sorted(set(ids) - wanted)]
    values = pd.to_numeric(table[names[1]], errors="coerce")
    lo, hi = value_range
    for signal, raw, value in zip(ids, table[names[1]], values):
        if not math.isfinite(value):
            problems.append(f"{signal}: {names[1]} {raw!r} is not a finite number")
        elif not lo <= value <= hi:
            problems.append(f"{signal}: {names[1]} {value:g} outside [{lo:g}, {hi:g}]")
    return problems


if __name__ == "__main__":
    import sys

    sys.exit("validate a submission with: python3 run_recipe.py <recipe> [--task T] --stage validate --submission PATH")
