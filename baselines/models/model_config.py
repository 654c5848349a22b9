"""The dict round trip shared by the separators' model configs (checkpoints, HF layout)."""

from __future__ import annotations

from dataclasses import asdict, fields


class ModelConfig:
    """Mixin for a model's config dataclass: ``to_dict`` for checkpoints and config.json,
    ``from_dict`` back, ignoring keys the config does not have (config.json also holds
    the architecture name and the caller's extras)."""

    @classmethod
    def from_dict(cls, values: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)

    def with_overrides(self, overrides: dict, where: str):
        """A copy with `overrides` applied; a key the config does not have is an error
        (ValueError naming `where`, the unknown keys and the known ones)."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"{where}: unknown option(s) {unknown}; known: {sorted(known)}")
        return type(self)(**{**self.to_dict(), **overrides})
