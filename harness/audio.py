"""Audio I/O with the checks the quality bar asks for, and the output format of the tasks.

Arrays are float32 (n_samples, n_channels). Every reader validates what it reads so that a bad
file fails with one line naming it, never later deep inside numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from evaluators.resample import resample  # noqa: F401  (the project's one resampler)
from harness.errors import InputError
from harness.files import atomic_write


def check_signal(signal: np.ndarray, where, *, allow_silence: bool = True) -> np.ndarray:
    """Raise InputError for empty, NaN, infinite or (optionally) silent signals."""
    signal = np.asarray(signal)
    if signal.size == 0:
        raise InputError(where, "signal is empty")
    if not np.all(np.isfinite(signal)):
        bad = "NaN" if np.isnan(signal).any() else "infinite"
        raise InputError(where, f"signal contains {bad} samples")
    if not allow_silence and not np.any(signal):
        raise InputError(where, "signal is silent (all samples are zero)")
    return signal


def check_stems(stems: dict, wanted: list[str], shape: tuple, system: str) -> None:
    """A separator's output: exactly the `wanted` sources (or only ``mixture``, a system that
    does not separate), each of the mixture's `shape` and finite; InputError naming the system."""
    where = f"system {system!r}"
    if set(stems) != {"mixture"} and set(stems) != set(wanted):
        raise InputError(where, f"returned stems {sorted(stems)}, expected {sorted(wanted)} or ['mixture']")
    for name, stem in stems.items():
        if stem.shape != shape:
            raise InputError(where, f"stem {name!r} has shape {stem.shape}, the mixture {shape}")
        if not np.all(np.isfinite(stem)):
            raise InputError(where, f"stem {name!r} contains NaN or infinite samples")


def read_audio(
    path: Path,
    sample_rate: int | None = None,
    *,
    channels: int | None = None,
    start: float = 0.0,
    duration: float | None = None,
    allow_silence: bool = True,
) -> np.ndarray:
    """Read (a segment of) an audio file as float32 (n, ch), checking rate, channels and content."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises its own RuntimeError subclasses
        raise InputError(path, f"cannot read audio ({err})") from None
    if sample_rate is not None and info.samplerate != sample_rate:
        raise InputError(path, f"sample rate is {info.samplerate} Hz, expected {sample_rate} Hz")
    if channels is not None and info.channels != channels:
        raise InputError(path, f"has {info.channels} channels, expected {channels}")
    first = int(round(start * info.samplerate))
    frames = -1 if duration is None else int(round(duration * info.samplerate))
    if first < 0 or first >= info.frames or (frames > 0 and first + frames > info.frames + 1):
        raise InputError(
            path,
            f"segment [{start:.3f} s, +{duration} s] is outside the file ({info.frames / info.samplerate:.3f} s)",
        )
    try:
        signal, _ = sf.read(str(path), start=first, frames=frames, dtype="float32", always_2d=True)
    except Exception as err:  # a truncated or corrupt file fails only when decoded
        raise InputError(path, f"cannot decode audio ({err})") from None
    return check_signal(signal, path, allow_silence=allow_silence)


def write_audio(path: Path, signal: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write a WAV/FLAC file atomically (a killed run never leaves a half-written output)."""
    fmt = "FLAC" if Path(path).suffix.lower() == ".flac" else "WAV"
    atomic_write(Path(path), lambda tmp: sf.write(tmp, signal, sample_rate, subtype=subtype, format=fmt))


def save_task_output(
    path: Path, signal: np.ndarray, signal_rate: int, output_rate: int, soft_clip: bool = False
) -> int:
    """The challenges' output format: resample, (soft) clip to [-1, 1], 16-bit FLAC.

    Returns the number of clipped samples, as pyclarity's clip_signal reports them. A signal
    with NaN or infinite samples (e.g. from a broken fitting) is refused, never written.
    """
    check_signal(signal, f"{path} (output)")
    out = resample(np.asarray(signal, dtype=np.float64), signal_rate, output_rate)
    if soft_clip:
        out = np.tanh(out)
    n_clipped = int(np.count_nonzero(np.abs(out) > 1.0))
    out = np.clip(out, -1.0, 1.0)
    write_audio(path, (out * 32768.0).clip(-32768, 32767).astype(np.int16), output_rate)
    return n_clipped


def save_scaled_stem(path: Path, signal: np.ndarray, signal_rate: int, output_rate: int) -> float:
    """CAD1 task 1's stem format: resample, divide by the peak, 16-bit FLAC, the peak written
    to ``<path>.txt``; returns the peak (the scale).

    As pyclarity's ``save_flac_signal(..., do_scale_signal=True)``
    (``recipes/cad1/task1/baseline/enhance.py``): the scale is ``max |x|`` after resampling,
    written as ``f"{max}"``, and the samples are ``x / max`` quantised as ``to_16bit``. A silent
    stem is written as silence with scale 1.0 (upstream would divide by zero and write NaN)."""
    check_signal(signal, f"{path} (output)")
    out = resample(np.asarray(signal, dtype=np.float64), signal_rate, output_rate)
    peak = np.max(np.abs(out))
    scale = peak if peak > 0 else np.float64(1.0)
    out = out / scale
    atomic_write(Path(path).with_suffix(".txt"), lambda tmp: Path(tmp).write_text(f"{scale}", encoding="utf-8"))
    write_audio(path, (out * 32768.0).clip(-32768, 32767).astype(np.int16), output_rate)
    return float(scale)


def read_scaled_stem(path: Path, sample_rate: int) -> np.ndarray:
    """A stem written by `save_scaled_stem`: float32 (n, 1), the samples times the scale in
    ``<path>.txt``, as pyclarity's ``read_flac_signal`` reads it (a float32 product). The scale
    file must exist and hold a positive finite number (upstream silently skips a missing one,
    leaving the stem at the wrong level)."""
    path = Path(path)
    signal = read_audio(path, sample_rate, channels=1)
    scale_path = path.with_suffix(".txt")
    if not scale_path.is_file():
        raise InputError(scale_path, "scale file not found (the stem's peak, written beside it)")
    try:
        scale = float(scale_path.read_text(encoding="utf-8").strip())
    except (UnicodeDecodeError, ValueError):
        raise InputError(scale_path, "does not hold a number (the stem's scale factor)") from None
    if not np.isfinite(scale) or scale <= 0:
        raise InputError(scale_path, f"scale {scale!r} is not a positive finite number")
    return signal * scale
