"""`run_recipe.py cad2 --system ensemble` end to end on the tiny demo (a few training steps)."""

from __future__ import annotations

import pandas as pd

FAST_TRAINING = [f"systems.{m}.train.{k}={v}" for m in ("convtasnet", "waveunet", "arunet")
                 for k, v in (("steps", 2), ("batch_size", 2), ("checkpoint_every", 1))]


def test_ensemble_headline_run(run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "ensemble", "--jobs", "2", *FAST_TRAINING, exp=exp) == 0
    board = capsys.readouterr().out
    systems = ["oracle", "mixture", "convtasnet", "waveunet", "arunet", "ensemble_learned", "ensemble"]
    for name in systems:
        assert f"| {name} |" in board, name
        scores = pd.read_csv(exp / "cad2/task2" / name / "scores.csv")
        assert len(scores) == 4 and scores.avg_haaqi.between(0, 1).all()
    table = pd.read_csv(exp / "cad2/task2/leaderboard.csv").set_index("system")
    assert table.loc["oracle", "avg_haaqi"] > table.loc["mixture", "avg_haaqi"]
    assert table["sdr"].drop(["oracle", "mixture"]).notna().all()  # separators get a museval SDR
    weights = list((exp / "cad2/task2/checkpoints").rglob("learned_weights.json"))
    assert weights, "ensemble_learned writes its fitted weights beside the checkpoints"
    # members were separated once: the ensemble and the members scored alone share cache entries
    cached = {p.parent.name for p in (exp / "cad2/task2/separations").rglob("*.npz")}
    assert {"convtasnet", "waveunet", "arunet"} <= cached
