"""`--stage listening-test`: MUSHRA stimuli and a webMUSHRA configuration under
`exp/<challenge>/<task>/listening_test/`:

    config.yaml                 webMUSHRA configuration (copy to webMUSHRA/configs/<test id>.yaml)
    audio/trial-K/reference.wav the open (and, by webMUSHRA, hidden) reference
    audio/trial-K/anchor35.wav  the reference low-passed at 3.5 kHz
    audio/trial-K/C<i>.wav      one condition per scored system, in system order
    stimuli.csv                 trial_id, condition, system, item: what each condition is

(copy `audio/` to webMUSHRA/configs/resources/audio/<test id>/). The trials are the task's
`Task.item_media` clips of the chosen items: its "reference" clip and every "system" clip,
made into one trial by `harness.listening.stimuli.trial` (16-bit WAV). With `results`, the
webMUSHRA result files are read instead and the screened summary is written to
`listening_test/results.csv`.

Settings (optional, `listening_test.*`; presentation only, not in the config hash): `items`
(as `report.items`, default the report's), `sample_rate` (Hz, default 48000: the playback
device's rate, which webMUSHRA requires), `max_seconds` (default 10), `lufs` (default -23).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from omegaconf import OmegaConf

from harness.errors import HarnessError
from harness.files import replace_folder
from harness.listening import stimuli, webmushra

DEFAULTS = {"sample_rate": 48000, "max_seconds": 10.0, "lufs": -23.0}


def setting(cfg, key: str):
    return OmegaConf.select(cfg, f"listening_test.{key}", default=DEFAULTS[key])


def mushra_id(task) -> str:
    return task.task_id.replace("/", "_")


def build(task, exp_task_dir: Path) -> Path:
    """Write the listening test of every scored system; returns its folder."""
    exp_task_dir = Path(exp_task_dir)
    systems = {p.parent.name: p.parent for p in sorted(exp_task_dir.glob("*/scores.csv"))}
    if not systems:
        raise HarnessError(f"{exp_task_dir}: no scored systems yet; run the systems first")
    return replace_folder(exp_task_dir / "listening_test", lambda tmp: _write(task, systems, tmp))


def _write(task, systems: dict, out: Path) -> None:
    rate, max_s, lufs = int(setting(task.cfg, "sample_rate")), float(setting(task.cfg, "max_seconds")), float(setting(task.cfg, "lufs"))
    trials, rows = [], []
    for k, item in enumerate(task.report_items("listening_test.items"), 1):
        media = task.item_media(item, systems)
        if media is None:
            raise HarnessError(f"{task.task_id} has no per-item media (Task.item_media): no listening test")
        references = [c for c in media.clips if c.role == "reference"]
        if len(references) != 1:
            raise HarnessError(f"{task.task_id} item {item.key}: item_media gives {len(references)} reference clips, "
                               "a MUSHRA trial needs one")
        outputs = [c for c in media.clips if c.role == "system"]
        names = {f"C{i}": clip for i, clip in enumerate(outputs, 1)}
        signals, _ = stimuli.trial((references[0].signal, references[0].sample_rate),
                                   {c: (clip.signal, clip.sample_rate) for c, clip in names.items()}, rate, max_s, lufs)
        trial_id = f"trial-{k}"
        folder = out / "audio" / trial_id
        folder.mkdir(parents=True)
        for condition, x in signals.items():
            sf.write(str(folder / f"{condition}.wav"), (x * 32767.0).round().astype(np.int16), rate, subtype="PCM_16")
        rows += [{"trial_id": trial_id, "condition": "reference", "system": "hidden reference", "item": item.key},
                 {"trial_id": trial_id, "condition": "anchor35", "system": "anchor (3.5 kHz low-pass)", "item": item.key},
                 *({"trial_id": trial_id, "condition": c, "system": clip.label, "item": item.key} for c, clip in names.items())]
        trials.append({"id": trial_id, "conditions": [*names, "anchor35"]})
    prefix = f"configs/resources/audio/{mushra_id(task)}"
    webmushra.write_config(out / "config.yaml", webmushra.config(mushra_id(task), trials, prefix))
    pd.DataFrame(rows, columns=["trial_id", "condition", "system", "item"]).to_csv(out / "stimuli.csv", index=False)


def results(exp_task_dir: Path, paths: list[Path]) -> pd.DataFrame:
    """Read webMUSHRA result files against this test's stimuli.csv; writes and returns the summary."""
    folder = Path(exp_task_dir) / "listening_test"
    if not (folder / "stimuli.csv").is_file():
        raise HarnessError(f"{folder}/stimuli.csv: no listening test written yet; run --stage listening-test first")
    for path in paths:
        if not Path(path).is_file():
            raise HarnessError(f"--results {path}: not found")
    stim = pd.read_csv(folder / "stimuli.csv", dtype=str)
    table = webmushra.summary(webmushra.read_results(list(paths), stim))
    table.to_csv(folder / "results.csv", index=False)
    return table
