"""CAD2 task 2: songs with repeated voices. Each instrument's stem takes the mean of its own
voices' gains; pyclarity's check_repeated_source pools every repeated voice into one mean,
which differs only when two instruments are repeated (see recipes/cad2/task2/task.py)."""

from __future__ import annotations

import ast
import importlib.util
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from harness.data import Song, Track
from harness.recipe import RECIPES_DIR, load_task_module

stem_gains = load_task_module(RECIPES_DIR / "cad2/task2").stem_gains


def official_check_repeated_source():
    """pyclarity's function, read from its installed recipe file (the module itself imports
    torchaudio, which cannot be loaded here)."""
    spec = importlib.util.find_spec("recipes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pyclarity's recipes are not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "cad2/task2/baseline/enhance.py"
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check_repeated_source")
    namespace = {"Counter": Counter, "np": np}
    exec(compile(ast.Module([node], []), str(path), "exec"), namespace)
    return namespace["check_repeated_source"]


def song(*instruments: str) -> Song:
    sources = {f"source_{i}": Track(name, f"{name}_{i}.flac") for i, name in enumerate(instruments, 1)}
    return Song("s", Track("mixture", "mix.flac"), sources)


def test_two_repeated_instruments_average_per_instrument():
    s = song("Violin", "Violin", "Viola", "Viola", "Cello")
    gains = {"source_1": 6.0, "source_2": 0.0, "source_3": -6.0, "source_4": 0.0, "source_5": 2.0}
    assert stem_gains(s, gains) == {"Violin": 3.0, "Viola": -3.0, "Cello": 2.0}


def test_differs_from_pyclarity_only_with_two_repeated_instruments():
    check_repeated_source = official_check_repeated_source()
    one = song("Violin", "Violin", "Cello")
    gains_one = {"source_1": 6.0, "source_2": 0.0, "source_3": -3.0}
    official = check_repeated_source(gains_one, {k: t.instrument for k, t in one.sources.items()})
    ours = stem_gains(one, gains_one)
    assert {k: ours[t.instrument] for k, t in one.sources.items()} == pytest.approx(official)

    two = song("Violin", "Violin", "Viola", "Viola")
    gains_two = {"source_1": 6.0, "source_2": 0.0, "source_3": -6.0, "source_4": 0.0}
    official = check_repeated_source(gains_two, {k: t.instrument for k, t in two.sources.items()})
    assert set(official.values()) == {0.0}  # pooled over both instruments
    assert stem_gains(two, gains_two) == {"Violin": 3.0, "Viola": -3.0}
