"""The runner: shards, resume after a kill, determinism, failure records, merge checks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.data import WorkItem
from harness.results import read_records
from harness.runner import parse_shard, shard_items
from harness.errors import HarnessError
from tests.conftest import REPO, TINY_DEMO

RESULTS = "cad2/task2/{}/results"


def test_shards_partition_the_work_list():
    items = [WorkItem(f"S{i:05d}_L{i % 3}") for i in range(23)]
    for n in (1, 2, 5, 23, 30):
        parts = [shard_items(items, (k, n)) for k in range(1, n + 1)]
        keys = [it.key for part in parts for it in part]
        assert sorted(keys) == sorted(it.key for it in items)
        assert len(keys) == len(set(keys))


@pytest.mark.parametrize("bad", ["3", "0/2", "3/2", "a/b"])
def test_bad_shard_is_a_clear_error(bad):
    with pytest.raises(HarnessError, match="shard"):
        parse_shard(bad)


def _ok_keys(exp: Path, system: str, stage: str) -> list[str]:
    return sorted(r["key"] for r in read_records(exp / RESULTS.format(system), stage) if r["status"] == "ok")


def test_sharded_runs_merge_to_the_full_set(run_cli, tmp_path):
    exp = tmp_path / "exp"
    for k in (1, 2, 3):
        assert run_cli("--system", "mixture", "--stage", "enhance", "--shard", f"{k}/3", exp=exp) == 0
    keys = _ok_keys(exp, "mixture", "enhance")
    assert len(keys) == 4 and len(set(keys)) == 4
    assert len(list((exp / RESULTS.format("mixture")).glob("enhance-*of3.jsonl"))) == 3


def test_resume_after_sigkill_keeps_finished_items(tiny_demo, tmp_path):
    exp = tmp_path / "exp"
    cmd = [sys.executable, str(REPO / "run_recipe.py"), "cad2", "--task", "task2", "--system", "mixture",
           "--stage", "evaluate", f"--exp-dir={exp}", "--data-root", str(tiny_demo), *TINY_DEMO]
    enhance = [c if c != "evaluate" else "enhance" for c in cmd]
    subprocess.run(enhance, check=True, capture_output=True, cwd=REPO)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = exp / RESULTS.format("mixture") / "evaluate-1of1.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and len(_ok_keys(exp, "mixture", "evaluate")) < 1:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _ok_keys(exp, "mixture", "evaluate")
    assert 1 <= len(before) < 4, "the kill should land after the first item and before the last"
    lines_before = results.read_text().splitlines()

    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO)
    assert f"{len(before)} already done" in done.stdout
    after = _ok_keys(exp, "mixture", "evaluate")
    assert len(after) == 4
    assert results.read_text().splitlines()[: len(lines_before)] == lines_before  # nothing finished was rewritten


def test_torn_last_line_is_ignored_and_redone(run_cli, tmp_path):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    path = exp / RESULTS.format("mixture") / "enhance-1of1.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2])  # a write cut by a kill
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    assert len(_ok_keys(exp, "mixture", "enhance")) == 4


def test_scores_do_not_depend_on_job_count(run_cli, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("--system", "mixture", "--jobs", "1", exp=one) == 0
    assert run_cli("--system", "mixture", "--jobs", "2", exp=two) == 0
    a = pd.read_csv(one / "cad2/task2/mixture/scores.csv")
    b = pd.read_csv(two / "cad2/task2/mixture/scores.csv")
    pd.testing.assert_frame_equal(a, b)
    board = (one / "cad2/task2/leaderboard.md").read_text()
    assert "| 1 | mixture |" in board


def test_merge_names_missing_items(run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", "--shard", "1/2", exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "evaluate", "--shard", "1/2", exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "merge", exp=exp) == 1  # incomplete: items missing
    err = capsys.readouterr().err
    assert "2 missing of 4 items" in err and "missing" in err
    assert run_cli("--system", "mixture", "--stage", "merge", "--allow-partial", exp=exp) == 0
    assert len(pd.read_csv(exp / "cad2/task2/mixture/scores.csv")) == 2


def test_results_record_config_and_versions(run_cli, tmp_path):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    header = json.loads((exp / RESULTS.format("mixture") / "enhance-1of1.jsonl").read_text().splitlines()[0])["header"]
    assert header["config"]["enhancer"]["attack"] == [11, 11, 14, 13, 11, 11]
    assert len(header["config_hash"]) == 12 and "pyclarity" in header["versions"]


def test_a_task_travels_to_worker_processes(tmp_path):
    """A task's module is loaded by path, so the task pickles as its recipe folder, class and
    resolved config; a worker process rebuilds it (RunContext.map sends bound methods)."""
    import pickle

    from omegaconf import OmegaConf

    from harness.recipe import load_config, make_task, select
    from harness.systems import RunContext

    recipe = select("cad2", "task2")[0]
    task = make_task(recipe, load_config(recipe, [f"path.exp_root={tmp_path}"]))
    copy = pickle.loads(pickle.dumps(task))
    assert type(copy) is type(task) and copy.recipe_dir == task.recipe_dir
    assert OmegaConf.to_yaml(copy.cfg) == OmegaConf.to_yaml(task.cfg, resolve=True)
    ctx = RunContext(exp_dir=tmp_path, cfg=task.cfg, dataset=None, jobs=2)
    assert list(ctx.map(task.summary_columns, [(), ()])) == [task.summary_columns()] * 2
