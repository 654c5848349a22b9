import numpy as np
import pandas as pd
import pytest

from harness import leaderboard
from harness.recipe import load_task_module, select

median_over_songs = load_task_module(select("cad2", "task2")[0].directory).median_over_songs


def _scores(root, system, rows):
    (root / system).mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / system / "scores.csv", index=False)


def test_rank_mean_ci_breakdown_and_reducers(tmp_path):
    # song a appears in three items, song b in one: a mean over items would weigh a 3:1
    rows = [{"song": s, "avg_haaqi": h, "sdr": d, "family": f}
            for s, h, d, f in [("a", 0.5, 1.0, "winds"), ("a", 0.6, 1.0, "winds"), ("a", 0.7, 1.0, "winds"),
                               ("b", 0.9, 9.0, "strings")]]
    _scores(tmp_path, "sep", rows)
    _scores(tmp_path, "mixture", [{**r, "avg_haaqi": r["avg_haaqi"] - 0.1, "sdr": np.nan} for r in rows])
    board = leaderboard.build(tmp_path, "avg_haaqi", ["sdr"], "family", reducers={"sdr": median_over_songs})
    assert list(board["system"]) == ["sep", "mixture"] and list(board["rank"]) == [1, 2]
    sep = board.set_index("system").loc["sep"]
    assert sep["avg_haaqi"] == pytest.approx(0.675) and sep["n"] == 4
    assert sep["sdr"] == pytest.approx(5.0)  # median of the songs' 1 and 9, not the items' mean 3
    assert sep["avg_haaqi [winds]"] == pytest.approx(0.6) and sep["n [strings]"] == 1
    assert np.isnan(board.set_index("system").loc["mixture", "sdr"])
    plain = leaderboard.build(tmp_path, "avg_haaqi", ["sdr"])
    assert plain.set_index("system").loc["sep", "sdr"] == pytest.approx(3.0)


def test_float_noise_does_not_break_a_tie(tmp_path):
    _scores(tmp_path, "b", [{"avg_haaqi": 0.7}])
    _scores(tmp_path, "a", [{"avg_haaqi": 0.7 + 1e-16 * 2}])
    _scores(tmp_path, "c", [{"avg_haaqi": 0.5}])
    board = leaderboard.build(tmp_path, "avg_haaqi")
    assert list(board["system"]) == ["a", "b", "c"] and list(board["rank"]) == [1, 1, 3]
