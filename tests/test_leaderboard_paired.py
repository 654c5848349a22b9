"""The leaderboard's paired comparison with a baseline: Markdown, CSV and breakdowns."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness import leaderboard
from harness.recipe import load_config, make_task, select


def _scores(root, system, rows):
    (root / system).mkdir(parents=True)
    pd.DataFrame(rows).to_csv(root / system / "scores.csv", index=False)


def _rows(values, families):
    return [{"scene": f"S{i}", "listener": "L1", "avg_haaqi": v, "family": f}
            for i, (v, f) in enumerate(zip(values, families))]


FAMILIES = ["winds"] * 5 + ["strings"] * 4
BASE = np.array([0.30, 0.35, 0.40, 0.42, 0.50, 0.20, 0.25, 0.55, 0.60])
GAIN = np.array([0.05, 0.02, 0.04, -0.01, 0.06, 0.03, 0.01, 0.02, 0.07])


def test_paired_columns_against_scipy(tmp_path):
    _scores(tmp_path, "mixture", _rows(BASE, FAMILIES))
    # the system's rows in another order: pairing is by scene and listener, not by position
    _scores(tmp_path, "sep", _rows(BASE + GAIN, FAMILIES)[::-1])
    board = leaderboard.build(tmp_path, "avg_haaqi", breakdown="family", baseline="mixture",
                              item_columns=("scene", "listener")).set_index("system")
    sep = board.loc["sep"]
    assert sep["diff"] == pytest.approx(GAIN.mean()) and sep["n_paired"] == 9
    assert sep["wilcoxon_p"] == pytest.approx(stats.wilcoxon(GAIN).pvalue)
    assert sep["diff_lo"] < sep["diff"] < sep["diff_hi"]
    winds = np.array(FAMILIES) == "winds"
    assert sep["diff [winds]"] == pytest.approx(GAIN[winds].mean())
    assert sep["wilcoxon_p [strings]"] == pytest.approx(stats.wilcoxon(GAIN[~winds]).pvalue)
    mix = board.loc["mixture"]
    assert (mix["diff"], mix["wilcoxon_p"]) == (0.0, 1.0) and mix["baseline"] == "mixture"


def test_markdown_csv_and_plot_show_the_comparison(tmp_path):
    _scores(tmp_path, "mixture", _rows(BASE, FAMILIES))
    _scores(tmp_path, "sep", _rows(BASE + GAIN, FAMILIES))
    text = leaderboard.write(tmp_path, "avg_haaqi", breakdown="family", title="T", baseline="mixture",
                             item_columns=("scene", "listener"))
    assert "Δ avg_haaqi vs mixture (95% CI)" in text and "p (Wilcoxon)" in text
    sep_line = next(line for line in text.splitlines() if line.startswith("| 1 | sep |"))
    assert f"{GAIN.mean():+.4f} [" in sep_line
    assert "| sep | winds |" in text and "| mixture | strings |" in text and "baseline" in text
    csv = pd.read_csv(tmp_path / "leaderboard.csv")
    assert {"diff", "diff_lo", "diff_hi", "wilcoxon_p", "n_paired", "diff [winds]", "ci95 [strings]"} <= set(csv.columns)
    assert (tmp_path / "plots" / "leaderboard.png").stat().st_size > 0
    # deterministic: a second write gives the same table
    leaderboard.write(tmp_path, "avg_haaqi", breakdown="family", baseline="mixture", item_columns=("scene", "listener"))
    pd.testing.assert_frame_equal(csv, pd.read_csv(tmp_path / "leaderboard.csv"))


def test_missing_baseline_or_item_columns_leave_the_comparison_empty(tmp_path):
    _scores(tmp_path, "sep", _rows(BASE, FAMILIES))
    board = leaderboard.build(tmp_path, "avg_haaqi", baseline="mixture", item_columns=("scene", "listener"))
    assert np.isnan(board.loc[0, "diff"]) and board.loc[0, "n_paired"] == 0
    text = leaderboard.to_markdown(board, "avg_haaqi")
    assert "| 1 | sep | " in text and "vs mixture" not in text  # a baseline without scores gets no column of n/a
    assert np.isnan(leaderboard.build(tmp_path, "avg_haaqi", baseline="sep")["diff"].iloc[0])


def test_clip_pairs_squared_errors_with_whisper(tmp_path):
    recipe = select("cad_icassp_2026")[0]
    task = make_task(recipe, load_config(recipe, [], cwd=tmp_path))
    assert task.baseline() == "whisper" and task.paired_label() == "MSE"
    y = np.array([10.0, 50.0, 90.0, 30.0, 70.0])
    ours, theirs = y + [1, -2, 3, -1, 2], y + [5, -6, 4, -8, 9]
    table = lambda p: pd.DataFrame({"signal": list("abcde"), "prediction": p, "correctness": y})  # noqa: E731
    a = leaderboard.item_table(table(ours), task.item_columns, task.item_values)
    b = leaderboard.item_table(table(theirs), task.item_columns, task.item_values)
    cols = leaderboard.paired_columns(a, b, task.item_columns)
    assert cols["diff"] == pytest.approx(np.mean((ours - y) ** 2) - np.mean((theirs - y) ** 2))
    assert cols["diff"] < 0


def test_the_cad2_tasks_compare_with_the_mixture_and_the_setting_changes_it(tmp_path):
    recipe = select("cad2", "task2")[0]
    assert make_task(recipe, load_config(recipe, [], cwd=tmp_path)).baseline() == "mixture"
    task = make_task(recipe, load_config(recipe, ["leaderboard.baseline=oracle"], cwd=tmp_path))
    assert task.baseline() == "oracle" and task.item_columns == ("scene", "listener")


def test_a_chain_is_compared_with_its_control(tmp_path):
    """`sep+post` gets a paired difference from `sep` (its control) whatever the baseline,
    here a baseline that was not run."""
    _scores(tmp_path, "sep", _rows(BASE, FAMILIES))
    _scores(tmp_path, "sep+post", _rows(BASE + GAIN, FAMILIES)[::-1])
    controls = {"sep+post": "sep"}
    text = leaderboard.write(tmp_path, "avg_haaqi", breakdown="family", baseline="mixture",
                             item_columns=("scene", "listener"), control_of=controls.get)
    board = pd.read_csv(tmp_path / "leaderboard.csv").set_index("system")
    chain = board.loc["sep+post"]
    assert chain["control"] == "sep" and chain["control_n_paired"] == 9
    assert chain["control_diff"] == pytest.approx(GAIN.mean())
    assert chain["control_wilcoxon_p"] == pytest.approx(stats.wilcoxon(GAIN).pvalue)
    assert pd.isna(board.loc["sep", "control"])
    assert "Δ avg_haaqi vs control (95% CI), p" in text
    assert "vs mixture" not in text  # the baseline has no scores here: no column of n/a
    line = next(line for line in text.splitlines() if "| sep+post |" in line)
    assert f"{GAIN.mean():+.4f} [" in line and "vs sep, p " in line


def test_the_control_of_a_name_that_is_no_system_is_none():
    from harness import registry

    assert registry.control_of("mixture") is None and registry.control_of("no_such_system+msg") is None
    assert registry.control_of("arunet+msg") == "arunet"
