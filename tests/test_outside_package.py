"""An outside system package (tests/outside_package), found through the entry-point group
like any installed package, runs in a recipe without any edit to the harness or baselines."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness import registry, systems

OUTSIDE = Path(__file__).resolve().parent / "outside_package"


@pytest.fixture
def outside_package(monkeypatch):
    registry.available()  # the built-ins first; the outside package joins a copy
    monkeypatch.setattr(systems, "REGISTERED", dict(systems.REGISTERED))
    monkeypatch.setattr(registry, "REGISTERED", systems.REGISTERED)
    monkeypatch.setattr(registry, "_LOADED", False)
    monkeypatch.syspath_prepend(str(OUTSIDE))
    importlib.invalidate_caches()
    yield
    for name in [m for m in sys.modules if m.startswith("cadenza_example_systems")]:
        del sys.modules[name]


def test_both_kinds_of_entry_point_are_found(outside_package):
    found = registry.available()
    assert found["equal_split"].kind == "separator"
    assert found["equal_split"].produces == {systems.INSTRUMENTS}
    assert found["quieter"].kind == "enhancer"
    assert "convtasnet" in found  # the built-ins stay


def test_an_outside_chain_runs_in_a_recipe(outside_package, run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "equal_split+quieter", "--alone", "systems.quieter.gain_db=-3", exp=exp) == 0
    scores = pd.read_csv(exp / "cad2/task2/equal_split+quieter/scores.csv")
    assert len(scores) == 4 and scores.avg_haaqi.between(0, 1).all()
    assert "| equal_split+quieter |" in capsys.readouterr().out


def test_an_outside_option_typo_is_refused(outside_package, run_cli, capsys):
    assert run_cli("--system", "equal_split", "--alone", "systems.equal_split.gian=2") == 2
    assert "gian" in capsys.readouterr().err


def test_a_name_taken_twice_is_an_error(outside_package):
    registry.available()

    class Impostor:
        pass

    with pytest.raises(ValueError, match="registered twice"):
        systems.register("quieter", kind="enhancer")(Impostor)
