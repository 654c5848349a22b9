"""`run_recipe.py`: run systems on Cadenza recipes and print the leaderboard.

    run_recipe.py cad2 --system oracle,mixture            # every cad2 task the systems support
    run_recipe.py cad2 --task task2 --system ensemble --jobs 2 evaluate.haaqi.backend=fast
    run_recipe.py cad2 --task task2 --system mixture --shard 3/8 --stage enhance
    run_recipe.py --list
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from omegaconf import OmegaConf

from harness import registry
from harness.errors import HarnessError
from harness.parallel import local_jobs
from harness.report import site as report_site
from harness.recipe import RECIPES_DIR, discover, load_config, make_task, select
from harness.results import IncompleteResults
from harness.runner import STAGES, Run, RunOptions, parse_shard
from harness.slurm import plan_array, shard_from_environment, submit


EXIT_ITEMS_FAILED = 1  # the run went through, but some items failed (or did not merge)
EXIT_ERROR = 2  # bad input, options or data: a one-line error, nothing (more) was run


def _check_values(args) -> None:
    if args.jobs < 1:
        raise HarnessError(f"--jobs must be at least 1, not {args.jobs}")
    if args.exp_dir:
        exp = Path(args.exp_dir)
        if exp.exists() and not exp.is_dir():
            raise HarnessError(f"--exp-dir {exp} is a file, not a folder")
        try:
            exp.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise HarnessError(f"--exp-dir {exp} cannot be created: {err.strerror}") from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_recipe.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", nargs="?", help="challenge (cad2) or challenge/task (cad2/task2)")
    p.add_argument("overrides", nargs="*", help="config overrides key=value (e.g. evaluate.haaqi.backend=fast)")
    p.add_argument("--task", help="one task of the challenge (default: every task the system supports)")
    p.add_argument("--system", action="append", help="system name, a+b chain, or comma-separated list; repeatable")
    p.add_argument("--stage", default="all",
                   choices=("all", *STAGES, "leaderboard", "report", "listening-test", "package", "validate", "submit"),
                   help="report: the leaderboard and per-item pages as a static site under exp/<task>/report/ "
                        "(also at the end of all, unless sharded); listening-test: MUSHRA stimuli and a webMUSHRA "
                        "config under exp/<task>/listening_test/ (with --results: read webMUSHRA's mushra.csv files); "
                        "package: validate a system's outputs and zip them as the challenge asks (not part of all); "
                        "validate: check a submission (--submission) against the task's metadata; "
                        "submit: SLURM jobs (train, an array of --shards enhance+evaluate tasks, merge)")
    p.add_argument("--submission", type=Path, help="with --stage validate: the zip, folder or CSV to check")
    p.add_argument("--results", type=Path, nargs="+", help="with --stage listening-test: webMUSHRA mushra.csv file(s) to summarise")
    p.add_argument("--jobs", type=int, default=1, help="parallel workers (default 1)")
    p.add_argument("--shard", help="k/n: run the k-th of n interleaved parts of the work list "
                                    "(default 1/1, or the SLURM array task's share inside an array job)")
    p.add_argument("--backend", default="loky", choices=("loky", "dask", "slurm", "sequential"),
                   help="slurm: a Dask cluster of SLURM jobs, set by runner.slurm.* (harness/slurm.py)")
    p.add_argument("--shards", type=int, default=4, help="with --stage submit: array tasks (default 4)")
    p.add_argument("--dry-run", action="store_true", help="with --stage submit: print the job scripts, submit nothing")
    p.add_argument("--scheduler", help="Dask scheduler address (with --backend dask); default: a local cluster")
    p.add_argument("--data-root", help="root of an official data download (default: built-in demo data)")
    p.add_argument("--exp-dir", help="experiment root (default: ./exp)")
    p.add_argument("--no-resume", action="store_true", help="redo items that are already done")
    p.add_argument("--allow-partial", action="store_true", help="merge even if items are missing or failed")
    p.add_argument("--alone", action="store_true", help="run only the named systems, not those they are compared with")
    p.add_argument("--recipes-dir", type=Path, default=RECIPES_DIR,
                   help="folder of recipes (<challenge>[/<task>]/recipe.yaml + task.py); default: this project's")
    p.add_argument("--list", action="store_true", help="list recipes and systems")
    return p


def list_all(recipes_dir: Path = RECIPES_DIR) -> str:
    lines = ["recipes:"]
    for tid, recipe in discover(recipes_dir).items():
        lines.append(f"  {tid}")
    lines.append("systems:")
    for name, spec in registry.available().items():
        produces = "anything asked" if spec.produces is None else ", ".join(sorted(spec.produces))
        if spec.kind == "enhancer":
            produces = "any signal"
        lines.append(f"  {name:<18} {spec.kind:<10} {produces:<22} {spec.description}")
    return "\n".join(lines)


def _systems(args) -> list[str]:
    names = [n.strip() for group in (args.system or []) for n in group.split(",") if n.strip()]
    if not names:
        raise HarnessError("name a system with --system (run_recipe.py --list shows them)")
    for name in names:
        registry.chain_specs(name)  # unknown names fail here, before any work
    return names


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    try:
        if args.list:
            print(list_all(args.recipes_dir))
            return 0
        if not args.recipe:
            raise HarnessError("name a recipe (run_recipe.py --list shows them)")
        _check_values(args)
        if args.stage == "validate":
            return validate(args)
        overrides = list(args.overrides)
        if args.exp_dir:
            overrides.append(f"path.exp_root={args.exp_dir}")
        names = _systems(args)
        if args.stage == "submit":
            return submit_array(args, names, overrides)
        shard = parse_shard(args.shard) if args.shard else (shard_from_environment() or (1, 1))
        options = RunOptions(jobs=args.jobs, shard=shard, backend=args.backend,
                             scheduler=args.scheduler, resume=not args.no_resume, allow_partial=args.allow_partial)
        stages = STAGES if args.stage == "all" else (args.stage,)
        ran, failed, takes = 0, 0, {}
        for recipe in select(args.recipe, args.task, args.recipes_dir):
            cfg = load_config(recipe, overrides, args.data_root)
            task = make_task(recipe, cfg)
            runs_here = lambda n: registry.runs_on(n, task)  # noqa: E731
            runnable = [n for n in names if runs_here(n)]
            if runnable and not args.alone:  # comparisons only where a named system runs
                runnable = [n for n in registry.with_comparisons(runnable) if runs_here(n)]
            takes[recipe.task_id] = "/".join(task.accepts) + (f" systems producing {task.needs}" if task.needs else " systems")
            if not runnable:
                continue
            for name in runnable:
                registry.build(name, cfg)  # bad options fail here, before any work
            for name in runnable:
                failed += run_one(recipe, cfg, name, options, stages)
                ran += 1
            whole = args.stage == "all" and options.shard == (1, 1)
            if args.stage in ("merge", "leaderboard", "report") or whole:  # package and the per-item stages print none
                print(task.write_leaderboard(Path(cfg.path.exp_root) / recipe.task_id))
            if args.stage == "report" or whole:
                task.prepare_data()  # the item pages read the demo's audio
                site = report_site.build(task, Path(cfg.path.exp_root) / recipe.task_id)
                print(f"report: {site / 'index.html'}")
            if args.stage == "listening-test":
                listening_test(args, task, cfg, Path(cfg.path.exp_root) / recipe.task_id)
        if not ran and args.stage not in ("leaderboard", "report", "listening-test"):
            kinds = ", ".join(f"{t} takes {k}" for t, k in takes.items())
            raise HarnessError(f"none of {names} runs on {args.recipe!r} ({kinds}); run_recipe.py --list shows what each system produces")
        if failed:
            print(f"error: {failed} item(s) failed (recorded with their reasons in results/; finished items are kept)",
                  file=sys.stderr)
            return EXIT_ITEMS_FAILED
        return 0
    except IncompleteResults as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ITEMS_FAILED
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_ERROR


def submit_array(args, names: list[str], overrides: list[str]) -> int:
    """`--stage submit`: a train job, an array of enhance+evaluate shards and a merge job,
    chained with afterok, for each task of the recipe (`--dry-run` prints them)."""
    for recipe in select(args.recipe, args.task, args.recipes_dir):
        cfg = load_config(recipe, overrides, args.data_root)
        settings = OmegaConf.to_container(cfg.runner.slurm, resolve=True)
        task_dir = Path(cfg.path.exp_root) / recipe.task_id
        log_dir = Path(settings["log_dir"] or task_dir / "slurm" / "logs")
        argv = [recipe.task_id.split("/")[0], *(["--task", recipe.task_id.split("/")[1]] if "/" in recipe.task_id else []),
                *[a for n in names for a in ("--system", n)], *(["--alone"] if args.alone else []),
                "--jobs", str(args.jobs), "--recipes-dir", str(args.recipes_dir.resolve()),
                *[o for o in overrides if not o.startswith("path.exp_root=")],
                *(["--data-root", str(Path(args.data_root).resolve())] if args.data_root else []),
                f"path.exp_root={cfg.path.exp_root}"]
        plan = plan_array(argv, args.shards, settings, log_dir, Path.cwd())
        if args.dry_run:
            for name in ("train", "array", "merge"):
                print(f"# ---- {recipe.task_id}: {name}.sbatch\n{getattr(plan, name)}")
            continue
        log_dir.mkdir(parents=True, exist_ok=True)
        ids = submit(plan, task_dir / "slurm")
        print(f"[{recipe.task_id}] submitted: train {ids[0]}, array {ids[1]} ({args.shards} tasks), merge {ids[2]}; "
              f"logs in {log_dir}")
    return 0


def listening_test(args, task, cfg, exp_task_dir: Path) -> None:
    """`--stage listening-test`: write the MUSHRA test, or with --results summarise its ratings."""
    from harness.listening import build as listening

    if args.results:
        table = listening.results(exp_task_dir, args.results)
        print(table.to_string(index=False))
        print(f"listening-test results: {exp_task_dir / 'listening_test' / 'results.csv'}")
        return
    task.prepare_data()  # the trials read the demo's audio
    print(f"listening test: {listening.build(task, exp_task_dir)}")


def validate(args) -> int:
    """`--stage validate --submission PATH`: every problem listed; exit 1 if there is any."""
    if args.submission is None:
        raise HarnessError("--stage validate needs --submission PATH (a zip, a folder or a CSV)")
    if not args.submission.exists():
        raise HarnessError(f"--submission {args.submission}: not found")
    recipes = select(args.recipe, args.task, args.recipes_dir)
    if len(recipes) > 1:
        raise HarnessError(f"{args.recipe} has {len(recipes)} tasks; name one with --task")
    cfg = load_config(recipes[0], list(args.overrides), args.data_root)
    task = make_task(recipes[0], cfg)
    task.prepare_data()  # the demo's metadata is what the submission is checked against
    problems = task.validate_submission(args.submission)
    for problem in problems:
        print(f"  {problem}")
    verdict = f"{len(problems)} problem(s)" if problems else "valid"
    print(f"{args.submission}: {verdict} for {recipes[0].task_id} ({cfg.split} split)")
    return EXIT_ITEMS_FAILED if problems else 0


def run_one(recipe, cfg, system_name: str, options: RunOptions, stages) -> int:
    """Run the stages of one system; returns how many items failed."""
    run = Run(recipe, cfg, system_name, options)
    start = time.perf_counter()
    if set(stages) & {"train", "enhance", "evaluate"}:
        with local_jobs(options.local_jobs):  # a demo set renders its songs on the run's workers
            run.task.prepare_data()
        run.write_config()
    if "train" in stages:
        run.train()
    failed = 0
    for stage in ("enhance", "evaluate"):
        if stage in stages:
            failed += run.stage(stage)["failed"]
    if "merge" in stages:
        if options.shard != (1, 1) and len(stages) > 1:
            k, n = options.shard
            run._log(f"shard {k}/{n} done; merge with --stage merge once all {n} shards have finished")
        else:
            run.merge()
    if "package" in stages:
        run._log(f"submission written to {run.task.package(run.exp_dir)}")
    run._log(f"done in {time.perf_counter() - start:.1f} s" + (f", {failed} item(s) failed" if failed else ""))
    return failed
