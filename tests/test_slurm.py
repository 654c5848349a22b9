"""SLURM: array-job plans, the shard of an array task, and (where a local SLURM can run) the two
cluster paths on the tiny demo with scores identical to --jobs 1, and a cancelled run resumed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.results import read_records
from harness.slurm import DEFAULTS, _slurm_memory, plan_array, shard_from_environment

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts/slurm_local.sh"
SCORES = "cad2/task2/mixture/scores.csv"


def test_shard_from_the_array_environment():
    assert shard_from_environment({}) is None
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}) == (3, 4)
    assert shard_from_environment({"SLURM_ARRAY_TASK_ID": "10", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "2"}) == (1, 2)
    with pytest.raises(HarnessError, match="shard"):
        shard_from_environment({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_COUNT": "2"})


def test_plan_has_train_array_and_merge(tmp_path):
    settings = {**DEFAULTS, "partition": "gpu", "directives": ["--account=abc"], "prologue": ["source venv/bin/activate"]}
    plan = plan_array(["cad2", "--system", "mixture"], 3, settings, tmp_path / "logs", tmp_path)
    assert "#SBATCH --array=1-3" in plan.array and "%A_%a.out" in plan.array
    assert "--stage enhance" in plan.array and "--stage evaluate" in plan.array and "--shard" not in plan.array
    assert plan.train.rstrip().endswith("--stage train") and plan.merge.rstrip().endswith("--stage merge")
    for script in (plan.train, plan.array, plan.merge):
        assert "#SBATCH --partition=gpu" in script and "#SBATCH --account=abc" in script
        assert "source venv/bin/activate" in script and "#SBATCH --mem=2G" in script
    with pytest.raises(HarnessError):
        plan_array([], 0, settings, tmp_path, tmp_path)


@pytest.mark.parametrize("given, expected", [("4GB", "4G"), ("512MB", "512M"), ("2GiB", "2G"), ("1000", "1000M")])
def test_memory_in_sbatch_units(given, expected):
    assert _slurm_memory(given) == expected


def test_dry_run_prints_the_scripts(run_cli, capsys):
    assert run_cli("--system", "mixture", "--stage", "submit", "--shards", "2", "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") == 3 and "#SBATCH --array=1-2" in out


# ---- a real single-node SLURM ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def slurm():
    if os.geteuid() != 0:
        pytest.skip("a local SLURM needs root to start its daemons")
    if not shutil.which("slurmctld"):
        pytest.skip("SLURM is not installed (bash scripts/slurm_local.sh install)")
    env = dict(os.environ)
    already = subprocess.run(["bash", str(SCRIPT), "status"], env=env, capture_output=True).returncode == 0
    started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        pytest.skip(f"a local SLURM would not start: {started.stderr.strip()[-200:]}")
    conf = started.stdout.strip().rsplit("SLURM_CONF=", 1)[-1]
    yield conf
    subprocess.run(["scancel", "--user", "root"], env={**env, "SLURM_CONF": conf}, capture_output=True)
    if not already:  # leave a cluster the user started running
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, capture_output=True, timeout=60)


def _wait_for_queue(conf: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "-h"], env={**os.environ, "SLURM_CONF": conf}, capture_output=True, text=True)
        if not out.stdout.strip():
            return
        time.sleep(1)
    raise AssertionError(f"SLURM jobs still queued after {timeout} s")


@pytest.fixture(scope="module")
def local_scores(tiny_demo, tmp_path_factory):
    from harness.cli import main
    from tests.conftest import TINY_DEMO

    exp = tmp_path_factory.mktemp("local")
    assert main(["cad2", "--task", "task2", "--system", "mixture", "--jobs", "1", f"--exp-dir={exp}",
                 "--data-root", str(tiny_demo), *TINY_DEMO]) == 0
    return pd.read_csv(exp / SCORES)


def test_backend_slurm_matches_jobs_1(slurm, run_cli, tmp_path, local_scores, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm)
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--backend", "slurm", "runner.slurm.jobs=2", "runner.slurm.memory=1GB", exp=exp) == 0
    pd.testing.assert_frame_equal(pd.read_csv(exp / SCORES), local_scores)


def test_array_jobs_match_jobs_1(slurm, run_cli, tmp_path, local_scores, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", slurm)
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "submit", "--shards", "2", "runner.slurm.memory=1GB", exp=exp) == 0
    _wait_for_queue(slurm)
    pd.testing.assert_frame_equal(pd.read_csv(exp / SCORES), local_scores)
    logs = sorted(p.name for p in (exp / "cad2/task2/slurm/logs").glob("*.out"))
    assert len([n for n in logs if n.startswith("cadenza-shard-")]) == 2  # one log per array task (%A_%a)


def test_a_cancelled_array_job_resumes_without_loss(slurm, run_cli, tmp_path, local_scores, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_CONF", slurm)
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "submit", "--shards", "2", "runner.slurm.memory=1GB", exp=exp) == 0
    results = exp / "cad2/task2/mixture/results"
    deadline = time.monotonic() + 120
    while not [r for r in read_records(results, "enhance") if r["status"] == "ok"] and time.monotonic() < deadline:
        time.sleep(0.2)
    subprocess.run(["scancel", "--user", "root"], env={**os.environ, "SLURM_CONF": slurm}, check=True)
    _wait_for_queue(slurm)
    finished = {r["key"] for r in read_records(results, "enhance") if r["status"] == "ok"}
    assert finished, "no item finished before the cancel"
    capsys.readouterr()
    assert run_cli("--system", "mixture", "--jobs", "1", exp=exp) == 0
    out = capsys.readouterr().out
    assert f"{len(finished)} already done" in out.split("enhance:")[1].splitlines()[0]
    pd.testing.assert_frame_equal(pd.read_csv(exp / SCORES), local_scores)
