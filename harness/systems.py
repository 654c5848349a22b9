"""What a system author needs: the run context, the system protocols and `register`.

Audio convention across the harness: numpy float32 arrays shaped (n_samples, n_channels)
(as soundfile and pyclarity read them), at the rate the system declares.

A system is a Separator (mixture -> named stems), an Enhancer (signal -> signal) or a
Predictor (item -> intelligibility 0..100). `a+b` on the command line chains them: a
separator or enhancer followed by enhancers, or enhancers followed by a predictor.

A post-processor is an enhancer that, chained after a separator (``sep+post``), also sees
what the separator saw: it offers ``post_process(stem, sample_rate, *, source, mixture)``
(the PostProcessor protocol), which the chain calls for each separated stem instead of
``enhance`` (``source`` is the stem's name, ``mixture`` the separator's input, both at
``sample_rate``); alone, or after another enhancer, it is called through ``enhance``. An
enhancer that trains on what comes before it in a chain (e.g. on a separator's estimates of
training songs) declares an attribute ``chain_input = None``; the chain sets it, before
``prepare`` or ``train``, to the name of the chain up to that part (``arunet`` in
``arunet+msg``), which the part builds with ``RunContext.build_system``.

A system never names a task. It declares what it produces (``produces``): a separator the
stem sets it can separate (``INSTRUMENTS``, ``VOCALS``, ``VDBO``; ``None`` for a system that
returns whatever it is asked, such as the oracle), a predictor what it predicts
(``INTELLIGIBILITY``). A task declares what it needs (``Task.needs``) and the registry
(``harness.registry``) matches the two.

Systems register with ``@register("name", kind=..., produces=...)`` in ``baselines/``, or
from an outside package through the entry-point group ``cadenza_harness.systems`` whose
value is a factory ``module:callable`` taking the system's config section; the factory may
carry ``__cadenza_spec__ = {"kind": ..., "produces": [...], "description": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from harness.parallel import ordered_map

ENTRY_POINT_GROUP = "cadenza_harness.systems"
KINDS = ("separator", "enhancer", "predictor")

# What a separator separates: the stem set a task asks for with `separate(mixture, sources)`.
INSTRUMENTS = "instruments"  # any instrument of the song as target vs accompaniment (CAD2 task 2)
VOCALS = "vocals/accompaniment"  # sources "vocals" and "accompaniment" (CAD2 task 1, CLIP)
VDBO = "vdbo"  # MUSDB's four stems: "vocals", "drums", "bass", "other" (CAD1, ICASSP 2024)
# What a predictor predicts.
INTELLIGIBILITY = "intelligibility"  # fraction of words understood, 0..100 (CLIP1, CLIP2)
CAPABILITIES = (INSTRUMENTS, VOCALS, VDBO, INTELLIGIBILITY)


@dataclass
class RunContext:
    """What a system may use while preparing or training.

    ``dataset(split)`` returns the task's loader of that split; ``build(name)`` builds another
    registered system (or chain) from its config section, separators wrapped in the shared
    separation cache, not yet prepared: composite systems (an ensemble's members, a
    predictor's vocal separator) get their parts this way. ``is_demo`` is True when the data
    is the harness's built-in demo (systems then pick their small presets), ``None`` when the
    harness cannot tell (other data; a system may judge from the data itself). ``task`` is the recipe's task object (for systems that score
    candidates with the task's own score, e.g. ``task.score_separations``). ``jobs`` is the run's
    number of worker processes, which ``map`` lends to a system's own fitting."""

    exp_dir: Path
    cfg: Any  # the resolved OmegaConf config of the run
    dataset: Callable[[str], Any]
    device: str = "cpu"
    seed: int = 0
    is_demo: bool | None = None
    separation_cache_dir: Path | None = None
    task: Any = None
    build: Callable[[str], Any] | None = None
    jobs: int = 1

    def map(self, function: Callable[..., Any], calls: Iterable[tuple]) -> Iterator:
        """``function(*args)`` for each tuple of ``calls``, in order, on up to ``jobs`` local
        worker processes (``harness.parallel.ordered_map``). A task pickles (as its recipe folder
        and resolved config), a bound method of it too."""
        return ordered_map(function, calls, self.jobs)

    @property
    def checkpoint_dir(self) -> Path:
        """Checkpoints are shared by every system of one recipe task (an ensemble reuses its
        members' weights), so they live beside the systems' folders."""
        path = self.exp_dir.parent / "checkpoints"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def build_system(self, name: str) -> Any:
        """``build(name)``, with a clear error where the caller gave no builder."""
        if self.build is None:
            raise RuntimeError(f"this run context cannot build other systems (asked for {name!r})")
        return self.build(name)


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
class PostProcessor(Enhancer, Protocol):
    """An enhancer that, after a separator, also gets the stem's name and the mixture."""

    def post_process(self, stem: np.ndarray, sample_rate: int, *, source: str, mixture: np.ndarray) -> np.ndarray:
        """``stem`` (n, channels) -> the same shape; ``mixture`` is the separator's input
        (n, channels), ``source`` the stem's name (e.g. ``"Violin"``, ``"bass"``)."""
        ...


@runtime_checkable
class Predictor(Protocol):
    """``predict(item)`` returns a raw score that the task maps to intelligibility (CLIP's
    logistic map), or, for a predictor with ``calibrated = True``, the 0..100 intelligibility
    itself (no map is fitted)."""

    name: str

    def prepare(self, ctx: RunContext) -> None: ...

    def predict(self, item: Any) -> float: ...


@runtime_checkable
class Trainable(Protocol):
    """A system with weights to fit on the recipe's training split (``--stage train``)."""

    def train(self, ctx: RunContext) -> None: ...


@dataclass(frozen=True)
class SystemSpec:
    """A registered system: its factory (taking the config section ``systems.<name>``), its
    kind, what it produces (``None``: whatever it is asked), the systems its leaderboard
    compares it with (run beside it unless ``--alone``), and, for an enhancer, its
    ``ceiling``: a separator whose chain with this enhancer bounds every chain ending in it
    (``ceiling="oracle"``: ``sep+codec`` is run and shown beside ``oracle+codec``, the codec's
    round trip of the true stems)."""

    name: str
    factory: Callable[[Any], Any]
    kind: str
    produces: frozenset[str] | None = None
    description: str = ""
    compare_with: tuple[str, ...] = ()
    ceiling: str | None = None

    def provides(self, need: str | None) -> bool:
        return need is None or self.produces is None or need in self.produces


def make_spec(name: str, factory: Callable[[Any], Any], kind: str, produces=None, description: str = "",
              compare_with=(), ceiling: str | None = None) -> SystemSpec:
    """A checked SystemSpec (kind and capabilities from the vocabularies above)."""
    if kind not in KINDS:
        raise ValueError(f"system {name!r}: kind must be one of {KINDS}, not {kind!r}")
    if ceiling is not None and kind != "enhancer":
        raise ValueError(f"system {name!r}: only an enhancer has a ceiling (a separator to chain it after)")
    if isinstance(produces, str):
        produces = (produces,)
    if produces is not None:
        unknown = sorted(set(produces) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"system {name!r}: unknown capability {unknown}; known: {list(CAPABILITIES)}")
        produces = frozenset(produces)
    summary = description or (factory.__doc__ or "").strip().split("\n")[0]
    return SystemSpec(name, factory, kind, produces, summary, tuple(compare_with), ceiling)


# filled by @register as modules are imported; read by harness.registry
REGISTERED: dict[str, SystemSpec] = {}


def _origin(factory) -> str:
    return f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', repr(factory))}"


def add(spec: SystemSpec) -> None:
    """Register `spec`; refuses a name that another factory holds."""
    held = REGISTERED.get(spec.name)
    if held is not None and _origin(held.factory) != _origin(spec.factory):
        raise ValueError(f"system {spec.name!r} is registered twice: by {_origin(held.factory)} and "
                         f"by {_origin(spec.factory)}; rename one of them")
    REGISTERED[spec.name] = spec


def register(name: str, *, kind: str, produces=None, description: str = "", compare_with: tuple[str, ...] = (),
             ceiling: str | None = None):
    """Class or function decorator adding a system factory under `name`. A second, different
    factory under a taken name is an error (re-importing the same module is not)."""

    def decorate(factory):
        add(make_spec(name, factory, kind, produces, description, compare_with, ceiling))
        return factory

    return decorate
