"""Finding recipes, resolving their config and loading their `task.py` by path.

A recipe is a folder `recipes/<challenge>[/<task>]/` with `recipe.yaml` and `task.py`. It is
never imported as `recipes.*`: pyclarity installs a top-level package of that name.
"""

from __future__ import annotations

import hashlib
import json
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from harness import slurm
from harness.errors import HarnessError

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"
# keys that change how a run is executed or presented, never what it computes
RUNNER_KEYS = ("runner", "leaderboard", "report", "listening_test")


@dataclass(frozen=True)
class Recipe:
    task_id: str  # "cad2/task2", or "cad_icassp_2026" for a challenge with one task
    directory: Path

    @property
    def challenge(self) -> str:
        return self.task_id.split("/")[0]


def discover(root: Path = RECIPES_DIR) -> dict[str, Recipe]:
    if not Path(root).is_dir():
        raise HarnessError(f"recipes folder {root} does not exist")
    found = {}
    for yaml in sorted(root.glob("**/recipe.yaml")):
        task_id = yaml.parent.relative_to(root).as_posix()
        found[task_id] = Recipe(task_id, yaml.parent)
    return found


def select(name: str, task: str | None = None, root: Path = RECIPES_DIR) -> list[Recipe]:
    """Recipes matching `name` (a challenge or `challenge/task`), narrowed by `task`."""
    recipes = discover(root)
    wanted = f"{name}/{task}" if task else name
    chosen = [r for tid, r in recipes.items() if tid == wanted or (task is None and tid.startswith(name + "/"))]
    if not chosen:
        raise HarnessError(f"unknown recipe {wanted!r}; known: {', '.join(recipes)}")
    return chosen


def load_config(recipe: Recipe, overrides: list[str] = (), data_root: str | None = None, cwd: Path | None = None) -> DictConfig:
    """recipe.yaml + `key=value` overrides, with paths made absolute against `cwd`."""
    # the runner's settings (where work runs; never part of the config hash) exist for every recipe
    cfg = OmegaConf.merge({"runner": {"slurm": slurm.DEFAULTS}}, OmegaConf.load(recipe.directory / "recipe.yaml"))
    OmegaConf.set_struct(cfg, False)
    for item in overrides:
        key = item.split("=", 1)[0]
        if "=" not in item or not key:
            raise HarnessError(f"bad override {item!r}: write key=value (e.g. evaluate.haaqi.backend=fast)")
        # a typo must not pass silently; systems.<name>.* is open for any system's options
        if not key.startswith("systems.") and OmegaConf.select(cfg, key, default="__missing__") == "__missing__":
            raise HarnessError(f"bad override {item!r}: {recipe.task_id} has no setting {key!r}")
    try:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    except Exception as err:
        raise HarnessError(f"bad override in {list(overrides)}: {err}") from None
    cwd = Path(cwd or Path.cwd())
    if data_root is not None:
        cfg.path.root = data_root
    cfg.path.is_demo = cfg.path.root is None
    if cfg.path.root is None:
        # each demo size lives in its own folder, so runs of other sizes never rebuild it under a reader
        demo = OmegaConf.to_container(cfg.get("demo", {}), resolve=True) or {}
        check_demo_sizes(recipe.task_id, demo)
        cfg.path.root = str(Path(str(cfg.path.demo_root)) / demo_key(demo))
    for key in ("root", "exp_root"):
        cfg.path[key] = str((cwd / str(cfg.path[key])).resolve())
    return cfg


def demo_key(params: dict) -> str:
    """The folder name of a demo set: a digest of its parameters."""
    return "set-" + hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def check_demo_sizes(task_id: str, params: dict, prefix: str = "demo") -> None:
    """Every number of `demo.*` is a size, a duration or a count and must be positive (the
    seed: zero or more); anything else would build an empty or impossible set."""
    for key, value in params.items():
        name = f"{prefix}.{key}"
        if isinstance(value, dict):
            check_demo_sizes(task_id, value, name)
        elif isinstance(value, bool) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, (int, float)):
            if (key == "seed" and value < 0) or (key != "seed" and not value > 0):
                raise HarnessError(f"{task_id}: {name}={value} is not a possible demo size (it must be positive)")


def config_hash(cfg: DictConfig) -> str:
    """Hash of what determines the results: runner and presentation settings
    (`leaderboard.*`, `report.*`) and where files live (`path.*`,
    but for `path.is_demo`) are left out, so a finished experiment folder copied or mounted
    elsewhere, or data moved to another disk, resumes where it was."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    for key in RUNNER_KEYS:
        plain.pop(key, None)
    plain["path"] = {"is_demo": bool(plain.get("path", {}).get("is_demo", False))}
    return hashlib.sha1(OmegaConf.to_yaml(OmegaConf.create(plain)).encode()).hexdigest()[:12]


def load_task_module(recipe_dir: Path):
    """Import `<recipe_dir>/task.py` under a private module name (once per process)."""
    recipe_dir = Path(recipe_dir).resolve()
    name = "cadenza_recipe_" + hashlib.sha1(str(recipe_dir).encode()).hexdigest()[:10]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, recipe_dir / "task.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_task(recipe: Recipe, cfg: DictConfig):
    return load_task_module(recipe.directory).TASK(cfg, recipe.directory)
