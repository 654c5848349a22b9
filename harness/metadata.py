"""Reading the challenges' JSON metadata with errors that name the file and the entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from clarity.utils.audiogram import Audiogram

from harness.data import EarFitting, Listener
from harness.errors import InputError


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


_JSON_TYPES = {dict: "an object", list: "a list"}


def load_json(path: Path, what: str = "metadata", expect: type | None = None):
    """The JSON document in `path`; a duplicate key in any object is an error (json would keep
    the last entry silently), and so is a top level that is not `expect` (dict or list)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, f"{what} file not found")
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as err:
        raise InputError(path, f"malformed JSON ({err.msg} at line {err.lineno})") from None
    except _DuplicateKey as err:
        raise InputError(path, f"duplicate key {err.args[0]!r}: each {what} entry must appear once") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text") from None
    if expect is not None and not isinstance(data, expect):
        raise InputError(path, f"the {what} file must hold {_JSON_TYPES[expect]}, found {type(data).__name__}")
    return data


def require(entry: dict, keys, where: str) -> None:
    if not isinstance(entry, dict):
        raise InputError(where, f"expected an object, found {type(entry).__name__}")
    missing = [k for k in keys if k not in entry]
    if missing:
        raise InputError(where, f"missing key(s) {', '.join(map(repr, missing))}")


# plausible ranges; outside them a value is a typo or a unit mistake, refused rather than run
AUDIOGRAM_RANGE = (-30.0, 150.0)  # dB HL
RATIO_RANGE = (0.0, 100.0)  # compression ratio, > 0
GAIN_RANGE = (-60.0, 100.0)  # dB


def check_gain_set(gain_set, sources, where: str, owner: str) -> dict[str, float]:
    """A `gains.json` entry (source -> dB) checked for `sources` (those of `owner`, e.g. a
    song): an object with a finite number of dB within GAIN_RANGE for each; returns them as floats."""
    if not isinstance(gain_set, dict):
        raise InputError(where, f"a gain set must map sources to dB, found {gain_set!r}")
    missing = sorted(set(sources) - set(gain_set))
    if missing:
        raise InputError(where, f"no gain for {missing} of {owner}")
    out = {}
    for source in sources:
        value = gain_set[source]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise InputError(where, f"gain of {source!r} must be a finite number of dB, found {value!r}")
        if not GAIN_RANGE[0] <= value <= GAIN_RANGE[1]:
            raise InputError(where, f"gain of {source!r} is {value:g} dB, outside the plausible "
                                    f"range [{GAIN_RANGE[0]:g}, {GAIN_RANGE[1]:g}] dB")
        out[source] = float(value)
    return out


def _levels(entry: dict, key: str, n: int, where: str, bounds: tuple[float, float] | None = None,
            open_low: bool = False) -> np.ndarray:
    try:
        values = np.asarray(entry[key], dtype=float)
    except (TypeError, ValueError):
        values = None
    if values is None or values.shape != (n,) or not np.all(np.isfinite(values)):
        raise InputError(where, f"{key!r} must be {n} finite numbers, got {entry[key]!r}")
    if bounds is not None:
        lo, hi = bounds
        bad = values[(values <= lo if open_low else values < lo) | (values > hi)]
        if bad.size:
            side = ">" if open_low else ">="
            raise InputError(where, f"{key!r} has {bad[0]:g}, outside the plausible range ({side} {lo:g} and <= {hi:g})")
    return values


def load_listeners(listeners_file: Path, fittings_file: Path | None = None, n_bands: int = 6) -> dict[str, Listener]:
    """Listeners from the official `listeners.<split>.json` (and `compressor_params.<split>.json`)."""
    raw = load_json(listeners_file, "listeners", expect=dict)
    fits = load_json(fittings_file, "compressor parameters", expect=dict) if fittings_file else {}
    listeners = {}
    for lid, entry in raw.items():
        where = f"{listeners_file} [{lid}]"
        require(entry, ("audiogram_cfs", "audiogram_levels_l", "audiogram_levels_r"), where)
        cfs = _levels(entry, "audiogram_cfs", len(np.atleast_1d(entry["audiogram_cfs"])), where, (0.0, 24000.0), open_low=True)
        left = _levels(entry, "audiogram_levels_l", len(cfs), where, AUDIOGRAM_RANGE)
        right = _levels(entry, "audiogram_levels_r", len(cfs), where, AUDIOGRAM_RANGE)
        fitting = {}
        if fittings_file:
            fwhere = f"{fittings_file} [{lid}]"
            if lid not in fits:
                raise InputError(fittings_file, f"no compressor parameters for listener {lid!r}")
            require(fits[lid], ("cr_l", "cr_r", "gain_l", "gain_r"), fwhere)
            for ear, s in (("left", "l"), ("right", "r")):
                fitting[ear] = EarFitting(
                    tuple(_levels(fits[lid], f"cr_{s}", n_bands, fwhere, RATIO_RANGE, open_low=True)),
                    tuple(_levels(fits[lid], f"gain_{s}", n_bands, fwhere, GAIN_RANGE)),
                )
        listeners[lid] = Listener(
            id=entry.get("name", lid),
            audiogram_left=Audiogram(levels=left, frequencies=cfs),
            audiogram_right=Audiogram(levels=right, frequencies=cfs),
            fitting_left=fitting.get("left"),
            fitting_right=fitting.get("right"),
        )
    return listeners
