"""On-disk cache of separations, keyed by content.

Separation depends only on the mixture, the requested sources and the system (name and
config), never on the listener, so a scene scored for two listeners, or an ensemble and its
members scored in one experiment, separate each mixture once. Files are written atomically
(temporary name, then rename), so a killed worker never leaves a truncated entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.files import atomic_write


def content_key(mixture: np.ndarray, sources: list[str], identity: str) -> str:
    digest = hashlib.sha1()
    digest.update(identity.encode())
    digest.update(json.dumps(list(sources)).encode())
    digest.update(str(mixture.shape).encode() + str(mixture.dtype).encode())
    digest.update(np.ascontiguousarray(mixture).tobytes())
    return digest.hexdigest()


class CachedSeparator:
    """Wraps a separator; `separate` looks in `root` before calling the wrapped system."""

    def __init__(self, separator: Any, root: Path, identity: str | None = None):
        self.separator = separator
        self.name = separator.name
        self.sample_rate = separator.sample_rate
        self.root = Path(root) / separator.name
        self._fallback = identity or separator.name

    @property
    def identity(self) -> str:
        """The system's own identity once prepared (trained systems include a digest of their
        weights, so retraining never reuses stale separations), else the one given here."""
        return getattr(self.separator, "identity", None) or self._fallback

    def prepare(self, ctx) -> None:
        self.separator.prepare(ctx)

    def __getattr__(self, attr):  # train() and anything else a system offers
        return getattr(self.separator, attr)

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        path = self.root / f"{content_key(mixture, sources, self.identity)}.npz"
        if path.exists():
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        stems = self.separator.separate(mixture, sources)
        atomic_write(path, lambda tmp: np.savez(tmp, **stems))
        return stems
