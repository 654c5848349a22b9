"""The intelligibility-prediction leaderboard's paired comparison with a constant predictor."""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness import prediction_board as board


def _table(prediction, correctness):
    return pd.DataFrame({"signal": [f"s{i}" for i in range(len(correctness))], "prediction": prediction,
                         "correctness": correctness})


def test_paired_squared_error_against_the_constant():
    y = np.array([10.0, 30.0, 50.0, 70.0, 90.0, 20.0, 80.0, 60.0])
    good = y + np.array([2.0, -3.0, 1.0, -2.0, 3.0, -1.0, 2.0, -2.0])
    row = board.system_row("good", _table(good, y), ("RMSE",), n_boot=200, constant=50.0)
    expected = np.mean((good - y) ** 2 - (50.0 - y) ** 2)
    assert np.isclose(row["dMSE_constant"], expected)
    assert row["dMSE_constant_lo"] <= expected <= row["dMSE_constant_hi"] < 0
    assert row["dMSE_constant_p"] < 0.05  # better on every item but the one at the constant
    same = board.system_row("constant", _table(np.full_like(y, 50.0), y), ("RMSE",), n_boot=200, constant=50.0)
    assert same["dMSE_constant"] == 0 and same["dMSE_constant_p"] == 1.0
    assert "dMSE_constant" not in board.system_row("x", _table(good, y), ("RMSE",), n_boot=200)


def test_markdown_shows_the_column_only_when_computed():
    y = np.linspace(0, 100, 9)
    rows = [board.system_row("a", _table(y + 5, y), ("RMSE",), n_boot=100, constant=50.0),
            board.system_row("b", _table(np.full_like(y, 40.0), y), ("RMSE",), n_boot=100, constant=50.0)]
    text = board.markdown(board.ranked(rows), ("RMSE",), "b")
    assert "MSE - constant's (95% CI), p" in text.splitlines()[0]
    line_a = next(line for line in text.splitlines() if "| a |" in line)
    assert f"{np.mean(25.0 - (50.0 - y) ** 2):+.1f} [" in line_a
    plain = board.markdown(board.ranked([board.system_row("a", _table(y + 5, y), ("RMSE",), n_boot=100)]), ("RMSE",), "a")
    assert "constant's" not in plain
