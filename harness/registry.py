"""Finding systems by name, matching them to tasks, and composing chains.

Systems come from the entry-point group ``cadenza_harness.systems`` (the built-in ones too:
this project's own ``pyproject.toml`` lists its ``baselines`` package there). An entry whose
value is a module (``name = "package.module"``) registers its systems on import with
``harness.systems.register``; an entry whose value is a factory (``name = "module:callable"``)
is the system ``name`` itself, described by the factory's optional ``__cadenza_spec__``.

A chain ``a+b+c`` is one system: a separator or enhancer first, then enhancers, then at most
one predictor. It runs on a task when its kind as a whole is one the task accepts and the
part that faces the task (the separator at the head, the predictor at the tail) produces
what the task needs (``Task.needs``).
"""

from __future__ import annotations

import dataclasses
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from evaluators.device import resolve_device
from harness.cache import CachedSeparator
from harness.errors import HarnessError
from harness.systems import ENTRY_POINT_GROUP, REGISTERED, RunContext, SystemSpec, add, make_spec

_LOADED = False


class UnknownSystemError(HarnessError, KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; we want a plain sentence
        return str(self.args[0])


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            loaded = ep.load()  # a module registers its systems as it is imported
            if ep.attr is None:
                continue
            meta = getattr(loaded, "__cadenza_spec__", None) or {}
            add(make_spec(ep.name, loaded, meta.get("kind", "separator"), meta.get("produces"),
                          meta.get("description", ""), meta.get("compare_with", ()), meta.get("ceiling")))
        except (ImportError, AttributeError, ValueError) as err:
            _LOADED = False
            raise HarnessError(f"systems entry point {ep.name} = {ep.value}: {err}") from None


def available() -> dict[str, SystemSpec]:
    _load_all()
    return dict(sorted(REGISTERED.items()))


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


def runs_on(name: str, task: Any) -> bool:
    """Whether the chain `name` can run on `task` (its ``accepts`` kinds and ``needs``)."""
    kind = chain_kind(name)
    if kind not in task.accepts:
        return False
    specs = chain_specs(name)
    facing = specs[-1] if kind == "predictor" else specs[0]
    return facing.kind == "enhancer" or facing.provides(getattr(task, "needs", None))


def control(name: str) -> str | None:
    """The system a chain is measured against: the chain without its enhancers, i.e. its
    separator (``sep+post`` -> ``sep``) or its predictor (``enh+pred`` -> ``pred``); None for a
    single system or a chain of enhancers only."""
    if "+" not in name:
        return None
    specs = chain_specs(name)
    if specs[-1].kind == "predictor":
        return specs[-1].name
    return specs[0].name if specs[0].kind == "separator" else None


def control_of(name: str) -> str | None:
    """:func:`control`, or None for a name that is no known system or chain (e.g. a results
    folder of a system since removed)."""
    try:
        return control(name)
    except UnknownSystemError:
        return None


def ceiling(name: str) -> str | None:
    """The chain that bounds `name`: for ``sep+e1+...`` whose enhancers declare a ``ceiling``
    separator C (the first that declares one), ``C+e1+...``, the same enhancers after C
    (``arunet+codec`` -> ``oracle+codec``, the codec's round trip of the true stems); None
    for other systems and for the ceiling chain itself."""
    if "+" not in name:
        return None
    head, *enhancers = chain_specs(name)
    if head.kind != "separator":
        return None
    bound = next((s.ceiling for s in enhancers if s.ceiling), None)
    if bound is None or bound == head.name:
        return None
    return "+".join([bound, *(s.name for s in enhancers)])


def with_comparisons(names: list[str]) -> list[str]:
    """`names` preceded by the systems they are compared with, each once: a system's
    ``compare_with``; a chain's :func:`control` and the control's own comparisons, and its
    :func:`ceiling` with that chain's comparisons (comparisons run first, so a chain's parts
    are trained and cached before the chain needs them)."""
    out: list[str] = []

    def add(name: str) -> None:
        base = control(name)
        if base is not None:
            add(base)
        bound = ceiling(name)
        if bound is not None:
            add(bound)
        for other in (*spec(name).compare_with, name) if "+" not in name else (name,):
            if other not in out:
                out.append(other)

    for name in names:
        add(name)
    return out


def build(name: str, cfg: Any) -> list[Any]:
    """Instantiate each part of a chain with its config section ``systems.<part>``."""
    parts = []
    for s in chain_specs(name):
        section = {}
        if cfg is not None and "systems" in cfg and s.name in cfg.systems:
            section = cfg.systems[s.name]
        try:
            parts.append(s.factory(section))
        except HarnessError:
            raise
        except (ValueError, TypeError) as err:  # a bad option value: one line naming the system
            raise HarnessError(f"system {s.name!r}: {err}") from None
    return parts


def _identity(part, cfg) -> str:
    """Cache identity of a system that declares none: its name and config section (a change of
    options re-separates)."""
    section = cfg.systems.get(part.name, {}) if cfg is not None and "systems" in cfg else {}
    return f"{part.name}:{OmegaConf.to_yaml(OmegaConf.create(section)) if section else ''}"


def _cached_parts(name: str, cfg: Any, cache_dir: Path | None) -> list[Any]:
    parts = build(name, cfg)
    if cache_dir is None:
        return parts
    return [CachedSeparator(p, cache_dir, _identity(p, cfg)) if s.kind == "separator" else p
            for p, s in zip(parts, chain_specs(name))]


def build_chain(name: str, cfg: Any, cache_dir: Path | None) -> Any:
    """The system `name` (one part, or a Chain of its parts), separators wrapped in the
    separation cache under `cache_dir` (none when it is None). Not prepared."""
    parts = _cached_parts(name, cfg, cache_dir)
    return parts[0] if len(parts) == 1 else Chain(name, parts)


def context(task, exp_dir: Path, seed: int = 0, jobs: int = 1) -> RunContext:
    """The run context of one (task, system folder): its checkpoints and separation cache
    beside the systems' folders, a builder for the systems a composite one uses, and the
    run's `jobs` worker processes for a system's own fitting (``RunContext.map``)."""
    cache_dir = Path(exp_dir).parent / "separations"
    return RunContext(
        exp_dir=Path(exp_dir),
        cfg=task.cfg,
        dataset=task.dataset,
        device=resolve_device("auto"),
        seed=seed,
        # True on the built-in demo; otherwise unknown, and systems judge from the data itself
        is_demo=True if task.cfg.path.get("is_demo", False) else None,
        separation_cache_dir=cache_dir,
        task=task,
        build=lambda name: build_chain(name, task.cfg, cache_dir),
        jobs=max(1, int(jobs)),
    )


def build_system(task, system_name: str, exp_dir: Path, jobs: int = 1) -> tuple["Chain", RunContext]:
    """The chain of a system name, each part built from its config section and separators
    wrapped in the shared separation cache, with the run context to prepare it with."""
    ctx = context(task, exp_dir, jobs=jobs)
    return Chain(system_name, _cached_parts(system_name, task.cfg, ctx.separation_cache_dir)), ctx


class Chain:
    """`a+b+...` as one system: the first part separates, enhances or predicts; later parts
    enhance each stem (or the signal) in turn, and a final predictor scores the result.

    A part with a ``chain_input`` attribute is told the name of the chain before it (``arunet``
    for the ``msg`` of ``arunet+msg``); a part with ``post_process`` gets each separated stem
    with its name and the mixture (``harness.systems.PostProcessor``)."""

    def __init__(self, name: str, parts: list):
        self.name = name
        self.parts = parts
        self.sample_rate = getattr(parts[0], "sample_rate", None)
        names = name.split("+")
        for index, part in enumerate(parts[1:], start=1):
            if hasattr(part, "chain_input") and len(names) == len(parts):
                part.chain_input = "+".join(names[:index])

    def prepare(self, ctx: RunContext) -> None:
        for p in self.parts:
            p.prepare(ctx)

    def separate(self, mixture: np.ndarray, sources: list[str]) -> dict[str, np.ndarray]:
        """The separator's stems, each enhanced in turn; an enhancer with an ``enhances_stems`` attribute
        (a tuple of names, None for all) enhances only those stems and passes the others on; a
        post-processor gets each stem's name and the mixture (``post_process``)."""
        stems = self.parts[0].separate(mixture, sources)
        rate = self.sample_rate
        for enhancer in self.parts[1:]:
            only = getattr(enhancer, "enhances_stems", None)
            post = getattr(enhancer, "post_process", None)
            stems = {k: v if only is not None and k not in only
                     else post(v, rate, source=k, mixture=mixture) if post is not None
                     else enhancer.enhance(v, rate)
                     for k, v in stems.items()}
        return stems

    def enhance(self, signal: np.ndarray, sample_rate: int) -> np.ndarray:
        for p in self.parts:
            signal = p.enhance(signal, sample_rate)
        return signal

    @property
    def calibrated(self) -> bool:
        """Whether the final predictor returns the 0..100 intelligibility itself (no map to fit)."""
        return bool(getattr(self.parts[-1], "calibrated", False))

    def predict(self, item) -> float:
        """Enhancers process the heard signal before the predictor scores it."""
        *enhancers, predictor = self.parts
        if enhancers:
            signal = item.signal
            for enhancer in enhancers:
                signal = enhancer.enhance(signal, item.sample_rate)
            item = dataclasses.replace(item, signal=signal)
        return predictor.predict(item)
