"""What a system is, and the registry that finds one by name.

Audio convention across the harness: numpy float32 arrays shaped (n_samples, n_channels)
(as soundfile and pyclarity read them), at the rate the system declares.

A system is a Separator (mixture -> named stems), an Enhancer (signal -> signal) or a
Predictor (item -> intelligibility 0..100). `a+b` on the command line chains them: a
separator or enhancer followed by enhancers, or enhancers followed by a predictor.

Systems register with `@register("name", kind=..., tasks=...)` in `baselines/`, or from an
outside package through the entry-point group ``cadenza_harness.systems`` whose value is a
factory ``module:callable`` taking the system's config section.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from harness.errors import HarnessError

ENTRY_POINT_GROUP = "cadenza_harness.systems"


@dataclass
class RunContext:
    """What a system may use while preparing or training: where to write, which device,
    the recipe's config and its data (``dataset(split)`` returns the task's loader)."""

    exp_dir: Path
    cfg: Any  # the resolved OmegaConf config of the run
    dataset: Callable[[str], Any]
    device: str = "cpu"
    seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint_dir(self) -> Path:
        """Checkpoints are shared by every system of one recipe task (an ensemble reuses its
        members' weights), so they live beside the systems' folders."""
        path = self.exp_dir.parent / "checkpoints"
        path.mkdir(parents=True, exist_ok=True)
        return path


@runtime_checkable
class Separator(Protocol):
    name: str
    sample_rate: int

    def prepare(self, ctx: RunContext) -> None: ...

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        """Return one (n_samples, n_channels) estimate per requested source name, or
        ``{"mixture": ...}`` for a system that does not separate."""
        ...


@runtime_checkable
class Enhancer(Protocol):
    name: str

    def prepare(self, ctx: RunContext) -> None: ...

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray: ...


@runtime_checkable
class Predictor(Protocol):
    name: str

    def prepare(self, ctx: RunContext) -> None: ...

    def predict(self, item: Any) -> float: ...


@runtime_checkable
class Trainable(Protocol):
    """A system with weights to fit on the recipe's training split (``--stage train``)."""

    def train(self, ctx: RunContext) -> None: ...


KINDS = ("separator", "enhancer", "predictor")


@dataclass(frozen=True)
class SystemSpec:
    name: str
    factory: Callable[[Any], Any]
    kind: str
    tasks: tuple[str, ...] | None  # None: every task of that kind
    description: str = ""
    compare_with: tuple[str, ...] = ()  # systems run beside this one for its leaderboard (--alone skips them)

    def supports(self, task_id: str) -> bool:
        return self.tasks is None or task_id in self.tasks


_REGISTRY: dict[str, SystemSpec] = {}
_LOADED = False


class UnknownSystemError(HarnessError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want a plain sentence
        return str(self.args[0])


def register(name: str, *, kind: str, tasks: tuple[str, ...] | None = None, description: str = "",
             compare_with: tuple[str, ...] = ()):
    """Class or function decorator adding a system factory to the registry."""
    if kind not in KINDS:
        raise ValueError(f"system {name!r}: kind must be one of {KINDS}, not {kind!r}")

    def decorate(factory):
        _REGISTRY[name] = SystemSpec(name, factory, kind, tasks, description or (factory.__doc__ or "").strip().split("\n")[0],
                                     tuple(compare_with))
        return factory

    return decorate


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    importlib.import_module("baselines")  # built-ins register on import
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        factory = ep.load()
        spec = getattr(factory, "__cadenza_spec__", None) or {}
        _REGISTRY.setdefault(
            ep.name,
            SystemSpec(ep.name, factory, spec.get("kind", "separator"), spec.get("tasks"), spec.get("description", "")),
        )


def available() -> dict[str, SystemSpec]:
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def spec(name: str) -> SystemSpec:
    systems = available()
    if name not in systems:
        raise UnknownSystemError(f"unknown system {name!r}; known systems: {', '.join(systems)}")
    return systems[name]


def chain_specs(name: str) -> list[SystemSpec]:
    """The specs of `a+b+c`, checked for a sensible order of kinds."""
    specs = [spec(part) for part in name.split("+")]
    kinds = [s.kind for s in specs]
    for i, kind in enumerate(kinds):
        if kind == "separator" and i != 0:
            raise UnknownSystemError(f"system {name!r}: a separator can only come first in a chain")
        if kind == "predictor" and i != len(kinds) - 1:
            raise UnknownSystemError(f"system {name!r}: a predictor can only come last in a chain")
    return specs


def chain_kind(name: str) -> str:
    """What a chain does as a whole: predicts if it ends in a predictor, else separates
    if it starts with a separator, else enhances."""
    kinds = [s.kind for s in chain_specs(name)]
    if kinds[-1] == "predictor":
        return "predictor"
    return "separator" if kinds[0] == "separator" else "enhancer"


def with_comparisons(names: list[str]) -> list[str]:
    """`names` followed by the systems they are compared with, each once (comparisons run first,
    so a chain's parts are trained and cached before the chain needs them)."""
    out: list[str] = []
    for name in names:
        for other in (*spec(name).compare_with, name) if "+" not in name else (name,):
            if other not in out:
                out.append(other)
    return out


def supports(name: str, task_id: str) -> bool:
    return all(s.supports(task_id) for s in chain_specs(name))


def build(name: str, cfg: Any) -> list[Any]:
    """Instantiate each part of a chain with its config section ``systems.<part>``."""
    parts = []
    for s in chain_specs(name):
        section = {}
        if cfg is not None and "systems" in cfg and s.name in cfg.systems:
            section = cfg.systems[s.name]
        parts.append(s.factory(section))
    return parts
