"""webMUSHRA (https://github.com/audiolabs/webMUSHRA): the test's configuration and its results.

Configuration: one `mushra` page per trial. `reference` is the open reference; webMUSHRA itself
adds it to the rated conditions as the hidden reference (its results name it `reference`,
`MushraAudioControl.js`). Our own loudness-matched 3.5 kHz anchor is the condition `anchor35`
(webMUSHRA's `createAnchor35` is off: its anchor would not be loudness-matched), and the
systems are the conditions `C1`..`Cn`, so names never reach the participants; `stimuli.csv`
maps (trial, condition) to the system. Page texts are fixed strings: webMUSHRA renders them as
HTML, so no metadata goes into them. webMUSHRA refuses stimuli whose sample rate differs from
the playback device's (`checkSamplerate`): write them at the listening machine's rate.

Results: webMUSHRA's `mushra.csv` (one row per rating: `session_uuid`, `trial_id`,
`rating_stimulus`, `rating_score` 0..100, ...). `summary` gives each condition's mean with a
95% Student t interval after ITU-R BS.1534-3 post-screening (section 4.1.2): an assessor who
rates the hidden reference below 90 in more than 15% of the trials is excluded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from harness.errors import InputError

RESULT_COLUMNS = ("session_uuid", "trial_id", "rating_stimulus", "rating_score")
SCREEN_SCORE, SCREEN_SHARE = 90.0, 0.15


def config(test_id: str, trials: list[dict], audio_prefix: str) -> dict:
    """The webMUSHRA YAML as a dict. `trials`: [{"id": "trial-1", "conditions": ["C1", ...,
    "anchor35"]}]; files are `<audio_prefix>/<trial id>/<condition>.wav`."""
    pages = [{"type": "generic", "id": "intro", "name": "Welcome",
              "content": "Rate how close each condition sounds to the reference, from 0 (bad) to 100 (excellent). "
                         "One condition is the reference itself.", "language": "en"}]
    for t in trials:
        pages.append({"type": "mushra", "id": t["id"], "name": f"Trial {len(pages)}", "content": "Rate each condition.",
                      "showWaveform": True, "enableLooping": True, "createAnchor35": False, "createAnchor70": False,
                      "reference": f"{audio_prefix}/{t['id']}/reference.wav",
                      "stimuli": {c: f"{audio_prefix}/{t['id']}/{c}.wav" for c in t["conditions"]}})
    pages.append({"type": "finish", "name": "Thank you", "content": "Thank you for taking part.",
                  "showResults": False, "writeResults": True})
    return {"testname": "Cadenza listening test", "testId": test_id, "bufferSize": 2048, "stopOnErrors": True,
            "showButtonPreviousPage": True, "remoteService": "service/write.php", "pages": pages}


def write_config(path: Path, cfg: dict) -> None:
    Path(path).write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def read_results(paths, stimuli: pd.DataFrame) -> pd.DataFrame:
    """Ratings from webMUSHRA `mushra.csv` files joined with `stimuli` (columns trial_id,
    condition, system, item): one row per rating with session_uuid, trial_id, condition,
    system, item, score."""
    frames = []
    for path in paths:
        table = pd.read_csv(path, dtype={"session_uuid": str, "trial_id": str, "rating_stimulus": str})
        missing = [c for c in RESULT_COLUMNS if c not in table]
        if missing:
            raise InputError(path, f"not a webMUSHRA mushra.csv: no column(s) {missing}")
        frames.append(table[list(RESULT_COLUMNS)])
    ratings = pd.concat(frames, ignore_index=True).rename(columns={"rating_stimulus": "condition", "rating_score": "score"})
    ratings["score"] = pd.to_numeric(ratings["score"], errors="coerce")
    if ratings["score"].isna().any() or not ratings["score"].between(0, 100).all():
        raise InputError(paths[0], "rating_score must be numbers in 0..100")
    joined = ratings.merge(stimuli, on=["trial_id", "condition"], how="left")
    unknown = joined[joined["system"].isna()]
    if len(unknown):
        r = unknown.iloc[0]
        raise InputError(paths[0], f"trial {r['trial_id']!r} condition {r['condition']!r} is not in stimuli.csv "
                                   "(results of another test?)")
    return joined


def screened_out(ratings: pd.DataFrame) -> list[str]:
    """Sessions that rate the hidden reference below 90 in more than 15% of their trials."""
    ref = ratings[ratings["condition"] == "reference"]
    share = ref.assign(low=ref["score"] < SCREEN_SCORE).groupby("session_uuid")["low"].mean()
    return sorted(share[share > SCREEN_SHARE].index)


def summary(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per system (the hidden reference and the anchor included): mean score, 95% t half-width,
    number of ratings, after post-screening; sorted by mean, best first."""
    from scipy import stats

    kept = ratings[~ratings["session_uuid"].isin(screened_out(ratings))]
    rows = []
    for system, sub in kept.groupby("system"):
        v = sub["score"].to_numpy(float)
        half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
        rows.append({"system": system, "mean": float(v.mean()), "ci95": float(half), "n": len(v)})
    return pd.DataFrame(rows, columns=["system", "mean", "ci95", "n"]).sort_values(
        ["mean", "system"], ascending=[False, True]).reset_index(drop=True)
