"""Writing a demo set: its files, and the one completion marker every demo set uses.

A demo set is built by ``build(root, params, make)``: when ``root`` already holds a complete
set made with the same ``params`` (its marker ``.demo-complete.json`` says so) it is
returned as it is; otherwise ``make`` writes the set into a temporary sibling folder, the
marker is written last, and the folder is renamed into place, so a reader never sees a
half-written set and a killed build leaves no marker behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from harness.files import replace_folder

MARKER = ".demo-complete.json"


def is_complete(root: Path, params: dict) -> bool:
    """Whether `root` holds a finished demo set made with `params`."""
    marker = Path(root) / MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")) == json.loads(json.dumps(params))
    except (OSError, json.JSONDecodeError):
        return False


def build(root: Path, params: dict, make: Callable[[Path], None]) -> Path:
    """`root` with a complete demo set for `params`, made by ``make(folder)`` when missing."""
    root = Path(root)
    if is_complete(root, params):
        return root

    def write(staging: Path) -> None:
        make(staging)
        (staging / MARKER).write_text(json.dumps(params, sort_keys=True), encoding="utf-8")

    return replace_folder(root, write)


def item_rng(seed: int, *key) -> np.random.Generator:
    """A generator for one item, independent of the order items are made in."""
    digest = hashlib.sha256(json.dumps([seed, *key]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def write_flac(path: Path, x: np.ndarray, rate: int) -> None:
    """16-bit FLAC; a peak at or above full scale is an error (it would clip)."""
    import soundfile as sf

    peak = np.max(np.abs(x)) if x.size else 0
    if peak >= 1:
        raise ValueError(f"{path}: peak {peak:.3f} would clip")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype="PCM_16")


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
