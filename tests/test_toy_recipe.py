"""A recipe written outside recipes/ (tests/toy_recipes/toy), from the extension guide only,
runs the built-in systems through the CLI: adding a recipe edits nothing in baselines/."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.cli import main

TOY = Path(__file__).resolve().parent / "toy_recipes"


def test_a_new_recipe_runs_builtin_systems(tmp_path, capsys):
    args = ["toy", "--recipes-dir", str(TOY), "--system", "centre,mixture", "--alone",
            f"--exp-dir={tmp_path / 'exp'}", f"path.demo_root={tmp_path / 'data'}"]
    assert main(args) == 0
    board = capsys.readouterr().out
    assert "| centre |" in board and "| mixture |" in board
    table = pd.read_csv(tmp_path / "exp/toy/leaderboard.csv").set_index("system")
    # the voice is centre-panned and the noise is not: the centre separator must beat the mixture
    assert table.loc["centre", "si_sdr"] > table.loc["mixture", "si_sdr"]


def test_the_task_need_is_enforced(tmp_path, capsys):
    """The toy task needs vocals/accompaniment: an instruments-only separator is refused."""
    args = ["toy", "--recipes-dir", str(TOY), "--system", "convtasnet", "--alone", f"--exp-dir={tmp_path}"]
    assert main(args) == 2
    assert "toy takes separator systems producing vocals/accompaniment" in capsys.readouterr().err


def test_a_missing_recipes_folder_is_one_line(tmp_path, capsys):
    assert main(["toy", "--recipes-dir", str(tmp_path / "nowhere"), "--system", "centre"]) == 2
    assert "recipes folder" in capsys.readouterr().err
