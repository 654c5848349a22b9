"""CLIP2 demo data (second Cadenza lyric-intelligibility prediction challenge) in the official
layout, made by the CLIP1 demo machinery (``harness.demo.clip1.write_clip_split``: committed
lyric lines over synthetic accompaniment, hearing-loss simulated, labelled by the simulated
listener). Deterministic in ``seed``.

Layout and keys as pyclarity's ``recipes/clip2/baseline/clip_dataset.py`` reads them (module
docstring, ``_validate_records``, ``__getitem__``): ``metadata/<split>_metadata.json``,
``<split>/signals/<signal>.flac``, ``<split>/unprocessed/<signal>_unproc.flac``;
``correctness`` is a fraction in [0, 1]; ``hearing_loss`` is one of ``SEVERITY_LEVELS``
("No Loss", "Mild", "Moderate").
"""

from __future__ import annotations

from pathlib import Path

from harness.demo.clip1 import clip_pools, write_clip_split
from harness.demo.lyric_clips import lyric_clips
from harness.demo.store import build, write_json

DEMO_VERSION = 1
LABELLED_SPLITS = ("train", "valid")  # the demo's valid keeps its labels so that it can be scored


def make_clip2_demo(root: Path, seed: int = 0, n_train: int = 40, n_valid: int = 20, n_eval: int = 6,
                    snr_range=(-15.0, 9.0)) -> Path:
    """A small CLIP2 dataset in the official layout; returns ``root``.

    train uses the first two thirds of the lyric lines, valid and eval the rest (no prompt of
    train is in valid or eval). Unlike the official release, the demo's valid metadata keeps
    ``correctness`` (so a run can be scored); eval has none, as officially."""
    root = Path(root)
    params = {"kind": "clip2", "version": DEMO_VERSION, "seed": seed, "n_train": n_train, "n_valid": n_valid,
              "n_eval": n_eval, "snr_range": list(snr_range)}
    return build(root, params, lambda folder: _write(folder, seed, n_train, n_valid, n_eval, snr_range))


def _write(root: Path, seed: int, n_train: int, n_valid: int, n_eval: int, snr_range) -> None:
    pools = clip_pools(lyric_clips())
    pools["eval"] = pools["valid"]
    truth = {}
    for split, count in (("train", n_train), ("valid", n_valid), ("eval", n_eval)):
        records, made = write_clip_split(root / split, "clip2", seed, split, count, pools[split], snr_range)
        truth.update(made)
        for r in records:
            r["correctness"] = round(r["correctness"] / 100.0, 6)
            if split not in LABELLED_SPLITS:
                del r["correctness"], r["words_correct"]
        write_json(root / "metadata" / f"{split}_metadata.json", records)
    write_json(root / "metadata" / "demo_generation.json", truth)
    (root / "README.md").write_text(README.format(seed=seed, n_train=n_train, n_valid=n_valid, n_eval=n_eval),
                                    encoding="utf-8")


README = """# CLIP2 (lyric intelligibility prediction, second round) demo data (synthetic)

Made by `harness.demo.clip2.make_clip2_demo(root, seed={seed}, n_train={n_train}, n_valid={n_valid}, n_eval={n_eval})`,
with the items, listeners and labels of the CLIP1 demo (see `harness/demo/clip1.py` and the README
it writes: lyric lines over synthetic accompaniment, MSBG hearing-loss simulation, labels from a
simulated listener, never from Whisper). Layout as pyclarity's `recipes/clip2/baseline/clip_dataset.py`:

```
metadata/train_metadata.json, valid_metadata.json   [{{signal, original_prompt, prompt, n_words,
                                                      words_correct, correctness, hearing_loss}}, ...]
metadata/eval_metadata.json                         the same without correctness and words_correct
metadata/demo_generation.json                       how each item was made; NOT for prediction
<split>/signals/<signal>.flac                       what the listener heard (hearing-loss simulated)
<split>/unprocessed/<signal>_unproc.flac            the same excerpt before simulation
```
Stereo, 44.1 kHz, 16-bit FLAC. `correctness` is a fraction 0..1 (words_correct / n_words), as in
CLIP2; `hearing_loss` is "No Loss", "Mild" or "Moderate". Not in the demo: `phoneme_correctness`
and `metadata/train_responses.json` (per-response hits). The official valid metadata has no
correctness; the demo's keeps it so that runs can be scored.
"""
