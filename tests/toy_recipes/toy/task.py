"""Toy vocal extraction: a centre-panned "voice" (a chirp) over side-panned noise; the
system's vocals are scored by SI-SDR (dB) against the voice. A test of the recipe API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.audio import read_audio, write_audio
from harness.data import WorkItem
from harness.demo.store import build, item_rng, write_flac
from harness.errors import InputError
from harness.systems import VOCALS
from harness.task import Task


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR in dB of a (n,) or (n, channels) estimate, channels flattened."""
    e, r = estimate.ravel().astype(np.float64), reference.ravel().astype(np.float64)
    target = (e @ r) / max(r @ r, 1e-20) * r
    return float(10 * np.log10(max(target @ target, 1e-20) / max((e - target) @ (e - target), 1e-20)))


class ToyVocals(Task):
    task_id = "toy"
    accepts = ("separator",)
    needs = VOCALS
    score_columns = ["si_sdr"]
    primary_metric = "si_sdr"

    def make_demo(self, root: Path) -> None:
        params = dict(self.cfg.demo)
        rate = int(self.cfg.sample_rate)

        def make(staging: Path) -> None:
            names = []
            for i in range(int(params["clips"])):
                rng = item_rng(int(params["seed"]), "toy", i)
                t = np.arange(int(params["seconds"] * rate)) / rate
                voice = 0.3 * np.sin(2 * np.pi * (300 + 200 * i) * t * (1 + t))
                noise = 0.1 * rng.standard_normal((len(t), 2))
                noise[:, 0] *= 0.2  # mostly on the right: not centre-panned
                name = f"clip{i}"
                write_flac(staging / f"{name}_voice.flac", np.stack([voice, voice], 1), rate)
                write_flac(staging / f"{name}_mix.flac", np.stack([voice, voice], 1) + noise, rate)
                names.append(name)
            (staging / "clips.json").write_text(json.dumps(names))

        build(Path(root), params, make)

    def work_items(self) -> list[WorkItem]:
        names = json.loads((Path(self.cfg.path.root) / "clips.json").read_text())
        return [WorkItem(name, {"clip": name}) for name in names]

    def _read(self, name: str) -> np.ndarray:
        return read_audio(Path(self.cfg.path.root) / name, int(self.cfg.sample_rate), channels=2)

    def enhance(self, item: WorkItem, system, out_dir: Path) -> dict:
        mixture = self._read(f"{item.key}_mix.flac")
        stems = system.separate(mixture, ["vocals", "accompaniment"])
        vocals = stems.get("vocals", stems.get("mixture"))
        if vocals is None:
            raise InputError(f"system {system.name!r}", f"returned {sorted(stems)}, expected vocals")
        path = Path(out_dir) / f"{item.key}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_audio(path, vocals, int(self.cfg.sample_rate), subtype="FLOAT")
        return {**item.fields, "output": str(path)}

    def evaluate(self, item: WorkItem, out_dir: Path, enhanced: dict) -> dict:
        estimate = read_audio(Path(out_dir) / f"{item.key}.wav", int(self.cfg.sample_rate), channels=2)
        return {**item.fields, "si_sdr": si_sdr(estimate, self._read(f"{item.key}_voice.flac"))}


TASK = ToyVocals
