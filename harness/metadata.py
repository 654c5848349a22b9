"""Reading the challenges' JSON metadata with errors that name the file and the entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from clarity.utils.audiogram import Audiogram

from harness.data import EarFitting, Listener
from harness.errors import InputError


def load_json(path: Path, what: str = "metadata"):
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} file not found")
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as err:
        raise InputError(path, f"malformed JSON ({err.msg} at line {err.lineno})") from None


def require(entry: dict, keys, where: str) -> None:
    if not isinstance(entry, dict):
        raise InputError(where, f"expected an object, found {type(entry).__name__}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise InputError(where, f"missing key(s) {', '.join(map(repr, missing))}")


def _levels(entry: dict, key: str, n: int, where: str) -> np.ndarray:
    values = np.asarray(entry[key], dtype=float)
    if values.shape != (n,) or not np.all(np.isfinite(values)):
        raise InputError(where, f"{key!r} must be {n} finite numbers, got {entry[key]!r}")
    return values


def load_listeners(listeners_file: Path, fittings_file: Path | None = None, n_bands: int = 6) -> dict[str, Listener]:
    """Listeners from the official `listeners.<split>.json` (and `compressor_params.<split>.json`)."""
    raw = load_json(listeners_file, "listeners")
    fits = load_json(fittings_file, "compressor parameters") if fittings_file else {}
    listeners = {}
    for lid, entry in raw.items():
        where = f"{listeners_file} [{lid}]"
        require(entry, ("audiogram_cfs", "audiogram_levels_l", "audiogram_levels_r"), where)
        cfs = np.asarray(entry["audiogram_cfs"], dtype=float)
        left = _levels(entry, "audiogram_levels_l", len(cfs), where)
        right = _levels(entry, "audiogram_levels_r", len(cfs), where)
        fitting = {}
        if fittings_file:
            fwhere = f"{fittings_file} [{lid}]"
            if lid not in fits:
                raise InputError(fittings_file, f"no compressor parameters for listener {lid!r}")
            require(fits[lid], ("cr_l", "cr_r", "gain_l", "gain_r"), fwhere)
            for ear, s in (("left", "l"), ("right", "r")):
                fitting[ear] = EarFitting(
                    tuple(_levels(fits[lid], f"cr_{s}", n_bands, fwhere)),
                    tuple(_levels(fits[lid], f"gain_{s}", n_bands, fwhere)),
                )
        listeners[lid] = Listener(
            id=entry.get("name", lid),
            audiogram_left=Audiogram(levels=left, frequencies=cfs),
            audiogram_right=Audiogram(levels=right, frequencies=cfs),
            fitting_left=fitting.get("left"),
            fitting_right=fitting.get("right"),
        )
    return listeners
