"""Shared fixtures: a tiny CAD2 task 2 demo dataset and a CLI runner that writes under tmp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import harness  # noqa: F401  (pins the CPU numerics before torch loads: harness/numerics.py)
import torch  # noqa: E402

from harness.cli import main

# Synthetic notes decay towards zero; subnormal floats make CPU convolutions many times slower.
torch.set_flush_denormal(True)
# The test models are tiny: one thread is as fast, and immune to a busy machine's oversubscription.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent

TINY_DEMO = [
    "demo.train_songs=2", "demo.train_seconds=2.0", "demo.valid_songs=2", "demo.valid_seconds=3.0",
    "demo.segment_seconds=1.5", "demo.scenes_per_song=2", "demo.listeners_per_scene=1",
]


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory) -> Path:
    """A CAD2 task 2 demo small enough to score in seconds (4 scene-listener items)."""
    root = tmp_path_factory.mktemp("demo") / "cad2_task2"
    from harness.demo.cad2_task2 import make_demo

    make_demo(root, train_songs=2, train_seconds=2.0, valid_songs=2, valid_seconds=3.0, segment_seconds=1.5,
              scenes_per_song=2, listeners_per_scene=1)
    return root


@pytest.fixture
def demo_copy(tiny_demo, tmp_path) -> Path:
    """A private copy of the tiny demo that a test may break."""
    dest = tmp_path / "data"
    shutil.copytree(tiny_demo, dest)
    return dest


@pytest.fixture
def run_cli(tmp_path, tiny_demo):
    """run_cli(*args, data=None) runs run_recipe.py in-process on the tiny demo; returns the exit code."""

    def run(*args, data: Path | None = None, exp: Path | None = None) -> int:
        argv = ["cad2", "--task", "task2", *args, f"--exp-dir={exp or tmp_path / 'exp'}",
                "--data-root", str(data or tiny_demo), *TINY_DEMO]
        return main(argv)

    return run
