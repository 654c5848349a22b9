"""Runs a system over a task's work list: train, enhance, evaluate, merge.

Work list: the task's items sorted by key; `--shard k/n` keeps items[k-1::n] (so the shards'
union is exactly the list), then drops items already done with the same config (resume).
Each item runs in a joblib worker (loky processes by default, or a Dask cluster) that loads
the task and builds the system once per process. A worker never raises: a failing item comes
back as a `failed` record with its reason, and the main process appends every record as it
arrives, so finished work survives any failure or kill.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from joblib import Parallel, delayed, parallel_config
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from harness.errors import HarnessError
from harness.files import atomic_write, file_sha1
from harness.recipe import Recipe, config_hash, load_task_module
from harness.registry import build_system
from harness.slurm import SlurmParallel
from harness.results import ResultsFile, latest, merge, package_versions, read_records

STAGES = ("train", "enhance", "evaluate", "merge")


@dataclass
class RunOptions:
    jobs: int = 1
    shard: tuple[int, int] = (1, 1)
    backend: str = "loky"  # loky | dask | slurm | sequential
    scheduler: str | None = None  # dask scheduler address; None starts a local cluster
    resume: bool = True
    allow_partial: bool = False
    progress: bool = field(default_factory=lambda: sys.stderr.isatty())

    @property
    def local_jobs(self) -> int:
        """Processes this machine may use for work outside the item stages (a demo set's
        rendering, an ensemble's weight fit): ``jobs`` unless the items run elsewhere (SLURM)."""
        return self.jobs if self.backend in ("loky", "dask") else 1


def parse_shard(text: str) -> tuple[int, int]:
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise HarnessError(f"--shard must look like k/n (e.g. 2/8), not {text!r}") from None
    if not 1 <= k <= n:
        raise HarnessError(f"--shard {text}: k must be between 1 and n")
    return k, n


def check_unique(items: list, what: str) -> None:
    """Two items with one key would be run twice and counted twice: refuse them."""
    seen, twice = set(), []
    for it in items:
        if it.key in seen:
            twice.append(it.key)
        seen.add(it.key)
    if twice:
        raise HarnessError(f"{what}: duplicate key(s) {sorted(set(twice))[:5]}; each item must appear once in the metadata")


def shard_items(items: list, shard: tuple[int, int]) -> list:
    k, n = shard
    return sorted(items, key=lambda it: it.key)[k - 1 :: n]


# ---- what a worker process keeps between items -------------------------------------------------
_PROCESS_CACHE: dict = {}


def _task(recipe_dir: str, cfg_yaml: str):
    key = ("task", recipe_dir, cfg_yaml)
    if key not in _PROCESS_CACHE:
        cfg = OmegaConf.create(cfg_yaml)
        _PROCESS_CACHE[key] = load_task_module(Path(recipe_dir)).TASK(cfg, Path(recipe_dir))
    return _PROCESS_CACHE[key]


def _system(task, recipe_dir: str, cfg_yaml: str, system_name: str, exp_dir: Path):
    key = ("system", recipe_dir, cfg_yaml, system_name)
    if key not in _PROCESS_CACHE:
        system, ctx = build_system(task, system_name, exp_dir)
        system.prepare(ctx)
        _PROCESS_CACHE[key] = system
    return _PROCESS_CACHE[key]


# ---- outputs bound to the config that wrote them ---------------------------------------------
def stamp_output(fields: dict, exp: Path) -> dict:
    """`output_file` (relative to the system's folder, so a moved folder keeps it) and
    `output_sha1` of the file an enhance record names in `output`; {} when it names none."""
    if not isinstance(fields.get("output"), str):
        return {}
    path = Path(fields["output"])
    try:
        relative = path.resolve().relative_to(exp.resolve()).as_posix()
    except ValueError:
        relative = str(path)
    return {"output_file": relative, "output_sha1": file_sha1(path)}


def output_problem(record: dict, exp: Path) -> str | None:
    """Why the output an ok enhance record stamped cannot be scored now, or None if it can.
    All configs of a system share `enhanced/`: a later run with other settings rewrites it."""
    if "output_sha1" not in record:
        return None
    path = exp / record["output_file"]
    if not path.is_file():
        return f"{path}: output missing; rerun --stage enhance"
    if file_sha1(path) != record["output_sha1"]:
        return (f"{path}: rewritten by a run with another config since this config's enhance stage; "
                "rerun --stage enhance with this config")
    return None


# ---- a worker dies with the run ----------------------------------------------------------------
_WATCHING = False
PARENT_POLL_S = 1.0


def _exit_with_parent() -> None:
    """In a loky worker: exit as soon as the process that started it is gone (a killed run must
    not leave workers holding memory). Not in the main process, where a gone parent (a closed
    terminal under nohup) means nothing."""
    global _WATCHING
    if _WATCHING or not multiprocessing.current_process().name.startswith("LokyProcess"):
        return
    _WATCHING = True
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_item(recipe_dir: str, cfg_yaml: str, system_name: str, stage: str, item, exp_dir: str, enhanced: dict | None) -> dict:
    """One item of one stage, in a worker. Returns the record to append; never raises."""
    _exit_with_parent()
    start = time.perf_counter()
    exp = Path(exp_dir)
    try:
        task = _task(recipe_dir, cfg_yaml)
        if stage in ("enhance", "fit"):
            system = _system(task, recipe_dir, cfg_yaml, system_name, exp)
            fields = task.enhance(item, system, exp / "enhanced")
            fields.update(stamp_output(fields, exp))
        else:
            problem = output_problem(enhanced or {}, exp)
            if problem:
                raise HarnessError(problem)
            fields = task.evaluate(item, exp / "enhanced", enhanced or {})
        record = {"status": "ok", **fields}
    except Exception as err:  # recorded, never fatal: the run goes on with the other items
        # our own errors are already one clear line; anything else keeps its type for context
        detail = str(err) if isinstance(err, HarnessError) else f"{type(err).__name__}: {err}"
        record = {"status": "failed", "error": detail, **item.fields}
        if os.environ.get("CADENZA_DEBUG"):
            record["traceback"] = traceback.format_exc()
    record.update(key=item.key, stage=stage, system=system_name, seconds=round(time.perf_counter() - start, 3))
    return record


def train_unit(recipe_dir: str, cfg_yaml: str, system_name: str, part_index: int, unit, exp_dir: str) -> None:
    """One unit of one part's training, in a worker (errors propagate: training must not half-fail)."""
    _exit_with_parent()
    task = _task(recipe_dir, cfg_yaml)
    system, ctx = build_system(task, system_name, Path(exp_dir))
    system.parts[part_index].train_unit(ctx, unit)


# ---- the run ------------------------------------------------------------------------------------
class Run:
    """One (recipe, system) in one experiment folder."""

    def __init__(self, recipe: Recipe, cfg: DictConfig, system_name: str, options: RunOptions):
        self.recipe = recipe
        self.cfg = cfg
        self.system_name = system_name
        self.options = options
        self.task = load_task_module(recipe.directory).TASK(cfg, recipe.directory)
        self.exp_dir = Path(cfg.path.exp_root) / recipe.task_id / system_name
        self.results_dir = self.exp_dir / "results"
        self.hash = config_hash(cfg)
        self.cfg_yaml = OmegaConf.to_yaml(cfg, resolve=True)

    def _log(self, message: str) -> None:
        print(f"[{self.recipe.task_id} | {self.system_name}] {message}", flush=True)

    def write_config(self) -> None:
        self.exp_dir.mkdir(parents=True, exist_ok=True)
        (self.exp_dir / "config.yaml").write_text(self.cfg_yaml)

    def train(self) -> None:
        """Train the system's trainable parts, then run the task's fit items and fit the task.

        A part that splits its training into independent units (`training_units`, e.g. one
        model per instrument) has them trained by the run's workers; the rest trains here."""
        system, ctx = build_system(self.task, self.system_name, self.exp_dir, jobs=self.options.local_jobs)
        for index, part in enumerate(system.parts):
            if hasattr(part, "training_units"):
                units = part.training_units(ctx)
                self._log(f"training {len(units)} unit(s) of {part.name}")
                calls = (delayed(train_unit)(str(self.recipe.directory), self.cfg_yaml, self.system_name, index, unit,
                                             str(self.exp_dir)) for unit in units)
                with self._parallel() as parallel:
                    for _ in parallel(calls):
                        pass
            elif hasattr(part, "train"):
                self._log(f"training {part.name}")
                part.train(ctx)
        fit_items = self.task.fit_items()
        if fit_items:
            self.stage("fit", fit_items)
            records = latest(read_records(self.results_dir, "fit"), self.hash)
            keys = {it.key for it in fit_items}
            ok = [r for k, r in sorted(records.items()) if k in keys and r["status"] == "ok"]
            if not ok:
                failed = [r for k, r in sorted(records.items()) if k in keys]
                reason = failed[0].get("error", "no record") if failed else "no record"
                raise HarnessError(f"{self.system_name}: none of the {len(fit_items)} fit items succeeded "
                                   f"(first error: {reason}); see {self.results_dir}")
            self.task.fit(ok, self.exp_dir)

    def stage(self, stage: str, items: list | None = None) -> dict:
        """Run enhance, evaluate (or fit, on `items`) over this shard; returns counts."""
        # the fit stage needs every training item, whatever shard this run is
        k, n = (1, 1) if stage == "fit" else self.options.shard
        all_items = self.task.work_items() if items is None else items
        check_unique(all_items, f"{self.recipe.task_id} {stage} items")
        items = shard_items(all_items, (k, n))
        done = set()
        if self.options.resume:
            records = latest(read_records(self.results_dir, stage), self.hash)
            # an output rewritten by another config since is not done for this one
            done = {key for key, r in records.items()
                    if r["status"] == "ok" and output_problem(r, self.exp_dir) is None}
        todo = [it for it in items if it.key not in done]
        already = len(items) - len(todo)
        enhanced = {}
        if stage == "evaluate":
            enhanced = latest(read_records(self.results_dir, "enhance"), self.hash)
            not_enhanced = [it for it in todo if enhanced.get(it.key, {}).get("status") != "ok"]
            if not_enhanced:
                todo = [it for it in todo if it not in not_enhanced]
                self._log(f"{len(not_enhanced)} item(s) have no enhanced output yet and are skipped "
                          f"(e.g. {not_enhanced[0].key}); run the enhance stage first")
        results = ResultsFile(self.results_dir / f"{stage}-{k}of{n}.jsonl",
                              {"stage": stage, "system": self.system_name, "config_hash": self.hash,
                               "config": OmegaConf.to_container(self.cfg, resolve=True), "versions": package_versions()})
        self._log(f"{stage}: {len(todo)} to do, {already} already done (shard {k}/{n})")
        if not todo:
            return {"ok": 0, "failed": 0, "skipped": len(items)}
        calls = (delayed(run_item)(str(self.recipe.directory), self.cfg_yaml, self.system_name, stage, it,
                                   str(self.exp_dir), enhanced.get(it.key)) for it in todo)
        counts = {"ok": 0, "failed": 0, "skipped": len(items) - len(todo)}
        with self._parallel() as parallel, tqdm(total=len(todo), desc=f"{self.system_name} {stage}",
                                                 disable=not self.options.progress, unit="item") as bar:
            for record in parallel(calls):
                record["config_hash"] = self.hash
                results.append(record)
                counts[record["status"]] += 1
                if record["status"] != "ok":
                    self._log(f"{record['key']} failed: {record['error']}")
                bar.update()
        self._log(f"{stage}: {counts['ok']} ok, {counts['failed']} failed")
        return counts

    def _parallel(self):
        opts = self.options
        if opts.backend == "sequential" or (opts.jobs == 1 and opts.backend == "loky"):
            # in-process, in order: no pickling, easiest to debug
            return contextlib.nullcontext(lambda calls: (f(*a, **kw) for f, a, kw in calls))
        if opts.backend == "dask":
            return _DaskParallel(opts.jobs, opts.scheduler)
        if opts.backend == "slurm":
            return SlurmParallel(OmegaConf.to_container(self.cfg.runner.slurm, resolve=True), self.slurm_log_dir())
        if opts.backend != "loky":
            raise HarnessError(f"unknown backend {opts.backend!r}; choose loky, dask, slurm or sequential")
        return contextlib.nullcontext(Parallel(n_jobs=opts.jobs, backend="loky", return_as="generator_unordered"))

    def slurm_log_dir(self) -> Path:
        configured = self.cfg.runner.slurm.get("log_dir")
        return Path(configured) if configured else self.exp_dir.parent / "slurm" / "logs"

    def merge(self):
        items = self.task.work_items()
        check_unique(items, f"{self.recipe.task_id} items")
        expected = [it.key for it in items]
        table = merge(self.results_dir, expected, self.task.score_columns, self.hash, self.options.allow_partial)
        atomic_write(self.exp_dir / "scores.csv", lambda tmp: table.to_csv(tmp, index=False))
        self.task.export(table, self.exp_dir)
        self._log(f"merged {len(table)} of {len(expected)} items into {self.exp_dir / 'scores.csv'}")
        return table


SCHEDULER_TIMEOUT_S = 10


class _DaskParallel:
    """joblib on a Dask cluster: a running scheduler's address, or a local cluster."""

    def __init__(self, jobs: int, scheduler: str | None):
        self.jobs, self.scheduler = jobs, scheduler

    def __enter__(self):
        from dask.distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout=SCHEDULER_TIMEOUT_S)
            except (OSError, TimeoutError) as err:
                raise HarnessError(f"no Dask scheduler answered at {self.scheduler} within {SCHEDULER_TIMEOUT_S} s "
                                   f"({type(err).__name__}); is it running, and is the address right?") from None
            self.cluster = None
        else:
            self.cluster = LocalCluster(n_workers=max(1, self.jobs), threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        self.config = parallel_config(backend="dask")
        self.config.__enter__()
        return Parallel(n_jobs=-1, return_as="generator_unordered")

    def __exit__(self, *exc):
        self.config.__exit__(*exc)
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False
