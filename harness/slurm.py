"""Running on SLURM: a Dask cluster of SLURM jobs (``--backend slurm``), or array jobs without a
long-lived scheduler (``--stage submit``).

Both read the runner settings ``runner.slurm.*`` (left out of the config hash: where work runs
never changes what it computes):

===================  ===================================================================
``partition``        SLURM partition (``-p``); null: the cluster's default
``cores``            CPUs per job (one Dask worker process per job)
``memory``           memory per job, e.g. ``4GB``
``walltime``         time limit per job, ``HH:MM:SS``
``jobs``             ``--backend slurm``: how many worker jobs to start
``prologue``         shell lines run before the work in every job (e.g. activating a venv;
                     compute nodes need no internet: models come from local paths)
``directives``       extra ``#SBATCH`` lines, e.g. ``["--account=abc", "--gres=gpu:1"]``
``log_dir``          job logs; null: ``<exp>/<challenge>/<task>/slurm/logs``
``worker_timeout``   seconds to wait for the first worker job to start
===================  ===================================================================

An array job's task reads its shard from ``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_MIN``/
``SLURM_ARRAY_TASK_COUNT`` when ``--shard`` is not given (``shard_from_environment``).
References: dask-jobqueue ``SLURMCluster``; SLURM ``sbatch`` (``--array``, ``--dependency``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

DEFAULTS = {
    "partition": None,
    "cores": 1,
    "memory": "2GB",
    "walltime": "01:00:00",
    "jobs": 2,
    "prologue": [],
    "directives": [],
    "log_dir": None,
    "worker_timeout": 120,
}
RUN_RECIPE = Path(__file__).resolve().parent.parent / "run_recipe.py"


def shard_from_environment(environ=os.environ) -> tuple[int, int] | None:
    """(k, n) of a SLURM array task (k counted from 1), or None outside an array job."""
    if "SLURM_ARRAY_TASK_ID" not in environ:
        return None
    try:
        task = int(environ["SLURM_ARRAY_TASK_ID"])
        first = int(environ.get("SLURM_ARRAY_TASK_MIN", 1))
        count = int(environ["SLURM_ARRAY_TASK_COUNT"])
    except (KeyError, ValueError) as err:
        raise HarnessError(f"cannot read the array task's shard from the SLURM environment ({err})") from None
    return task - first + 1, count


# ---- a Dask cluster of SLURM jobs ---------------------------------------------------------------
class SlurmParallel:
    """joblib on a dask-jobqueue SLURMCluster; the jobs are cancelled on exit, Ctrl-C included."""

    def __init__(self, settings: dict, log_dir: Path):
        self.settings, self.log_dir = settings, Path(log_dir)

    def __enter__(self):
        try:
            from dask.distributed import Client
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise HarnessError("--backend slurm needs dask-jobqueue: pip install 'cadenza-harness[cluster]'") from None
        from joblib import Parallel, parallel_config

        s = self.settings
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.cluster = SLURMCluster(
            queue=s["partition"], cores=int(s["cores"]), processes=1, memory=str(s["memory"]),
            walltime=str(s["walltime"]), job_script_prologue=list(s["prologue"]),
            job_extra_directives=list(s["directives"]), log_directory=str(self.log_dir),
            python=sys.executable, scheduler_options={"host": "127.0.0.1" if _local_cluster() else None},
        )
        self.client = None
        try:
            self.cluster.scale(jobs=int(s["jobs"]))
            self.client = Client(self.cluster)
            self.client.wait_for_workers(1, timeout=float(s["worker_timeout"]))
        except BaseException as err:
            self.__exit__(None, None, None)
            if isinstance(err, (TimeoutError, OSError)):
                raise HarnessError(f"no SLURM worker job started within {s['worker_timeout']} s "
                                   f"(squeue shows why; logs in {self.log_dir})") from None
            raise
        self.config = parallel_config(backend="dask")
        self.config.__enter__()
        return Parallel(n_jobs=-1, return_as="generator_unordered")

    def __exit__(self, *exc):
        if getattr(self, "config", None) is not None:
            self.config.__exit__(*exc)
            self.config = None
        if self.client is not None:
            self.client.close()
        self.cluster.close()  # cancels the worker jobs
        return False


def _local_cluster() -> bool:
    """Whether the SLURM controller runs on this machine (then workers reach the scheduler on
    the loopback address)."""
    try:
        out = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    host = os.uname().nodename.split(".")[0]
    return any(line.split("=", 1)[-1].strip().startswith(host) for line in out.splitlines() if line.startswith("SlurmctldHost"))


# ---- array jobs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArrayPlan:
    """The three scripts of a sharded run: train once, enhance + evaluate per array task, merge."""

    train: str
    array: str
    merge: str
    shards: int


def _header(name: str, settings: dict, log_dir: Path, array: int | None = None) -> list[str]:
    pattern = "%A_%a" if array else "%j"
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --output={log_dir}/{name}-{pattern}.out",
             f"#SBATCH --cpus-per-task={int(settings['cores'])}", f"#SBATCH --mem={_slurm_memory(settings['memory'])}",
             f"#SBATCH --time={settings['walltime']}"]
    if settings["partition"]:
        lines.append(f"#SBATCH --partition={settings['partition']}")
    if array:
        lines.append(f"#SBATCH --array=1-{array}")
    lines += [f"#SBATCH {d}" for d in settings["directives"]]
    return lines + ["set -euo pipefail", *settings["prologue"]]


def _slurm_memory(memory: str) -> str:
    """dask-style ``4GB`` as sbatch's ``4G`` (sbatch reads a bare number as megabytes)."""
    text = str(memory).strip().upper().replace("IB", "").replace("B", "")
    return text if text[-1:] in "KMGT" else f"{text}M"


def plan_array(argv: list[str], shards: int, settings: dict, log_dir: Path, cwd: Path) -> ArrayPlan:
    """Scripts running `run_recipe.py argv` (the run's own arguments: recipe, systems,
    overrides, paths) as a train job, an array of `shards` tasks and a merge job."""
    if shards < 1:
        raise HarnessError(f"--shards must be at least 1, not {shards}")
    run = f"cd {shlex.quote(str(cwd))}\n{shlex.quote(sys.executable)} {shlex.quote(str(RUN_RECIPE))} " + " ".join(
        shlex.quote(a) for a in argv)
    body = lambda name, stage, array=None: "\n".join(  # noqa: E731
        _header(name, settings, log_dir, array) + [f"{run} --stage {stage}", ""])
    return ArrayPlan(
        train=body("cadenza-train", "train"),
        array="\n".join(_header("cadenza-shard", settings, log_dir, shards) + [
            'export SLURM_ARRAY_TASK_MIN="${SLURM_ARRAY_TASK_MIN:-1}"',
            f"{run} --stage enhance",
            f"{run} --stage evaluate", ""]),
        merge=body("cadenza-merge", "merge"),
        shards=shards,
    )


def submit(plan: ArrayPlan, folder: Path) -> list[str]:
    """Write the plan's scripts under `folder` and submit them chained with ``afterok``;
    returns the job ids (train, array, merge)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids: list[str] = []
    for name in ("train", "array", "merge"):
        path = folder / f"{name}.sbatch"
        path.write_text(getattr(plan, name))
        command = ["sbatch", "--parsable"] + ([f"--dependency=afterok:{ids[-1]}"] if ids else []) + [str(path)]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise HarnessError(f"sbatch could not run ({err}); is SLURM installed and SLURM_CONF set?") from None
        if out.returncode != 0:
            raise HarnessError(f"sbatch refused {path}: {out.stderr.strip() or out.stdout.strip()}")
        ids.append(out.stdout.strip().split(";")[0])
    return ids
