"""Bad inputs, one after another, on a tiny CAD2 task 2 demo: what each run says and keeps.

    python benchmarks/bad_inputs.py [--keep DIR]

Each case copies a fresh tiny demo, breaks one thing, runs `run_recipe.py cad2 --task task2
--system mixture` in-process, and reports the first line of the error (or the first failed
item's reason), the exit code (0 ok, 1 items failed, 2 error) and how many items were kept
(ok enhance + evaluate records). The tests in tests/test_defects.py and tests/test_bad_input.py
check the same behaviour case by case; this prints it as one table.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.cli import main  # noqa: E402
from harness.demo.cad2_task2 import make_demo  # noqa: E402
from harness.results import read_records  # noqa: E402

TINY = ["demo.train_songs=2", "demo.train_seconds=2.0", "demo.valid_songs=2", "demo.valid_seconds=3.0",
        "demo.segment_seconds=1.5", "demo.scenes_per_song=2", "demo.listeners_per_scene=1"]


def edit_json(path: Path, edit) -> None:
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def first_mixture(data: Path) -> Path:
    music = json.loads((data / "metadata/music.valid.json").read_text())
    return data / "audio" / music[sorted(music)[0]]["mixture"]["track"]


def meta(name):
    return lambda data: data / "metadata" / name


CASES = [
    ("clean run", None, []),
    ("metadata file truncated", lambda d: meta("gains.json")(d).write_text(meta("gains.json")(d).read_text()[:-10]), []),
    ("duplicate scene key", lambda d: meta("scenes.valid.json")(d).write_text(
        meta("scenes.valid.json")(d).read_text().replace("{", '{"S50001": {"music": "x", "gain": "y"}, ', 1)), []),
    ("listener listed twice", lambda d: edit_json(meta("scene_listeners.valid.json")(d),
                                                  lambda j: {k: v * 2 for k, v in j.items()}), []),
    ("music.json is a string", lambda d: meta("music.valid.json")(d).write_text('"x"'), []),
    ("listeners.json is a list", lambda d: meta("listeners.valid.json")(d).write_text("[]"), []),
    ("audiogram level 'a'", lambda d: edit_json(meta("listeners.valid.json")(d), lambda j: {
        k: {**v, "audiogram_levels_l": ["a"] + v["audiogram_levels_l"][1:]} for k, v in j.items()}), []),
    ("compression ratio 0", lambda d: edit_json(meta("compressor_params.valid.json")(d), lambda j: {
        k: {**v, "cr_l": [0] + v["cr_l"][1:]} for k, v in j.items()}), []),
    ("gain 'abc'", lambda d: edit_json(meta("gains.json")(d), lambda j: {k: {**v, "source_1": "abc"} for k, v in j.items()}), []),
    ("gain +200 dB", lambda d: edit_json(meta("gains.json")(d), lambda j: {k: {**v, "source_1": 200} for k, v in j.items()}), []),
    ("truncated FLAC", lambda d: first_mixture(d).write_bytes(first_mixture(d).read_bytes()[:2000]), []),
    ("missing FLAC", lambda d: first_mixture(d).unlink(), []),
    ("every item fails (input_sample_rate=22050)", None, ["input_sample_rate=22050"]),
    ("impossible demo size", None, ["demo.valid_songs=-3"]),
    ("--jobs 0", None, ["--jobs", "0"]),
    ("unknown setting", None, ["enhancer.atack=[1]"]),
    ("unknown system option", None, ["systems.mixture.gain=2"]),
]


def run_case(root: Path, demo: Path, name: str, breaker, extra: list[str]) -> tuple[str, int, int]:
    data, exp = root / "data", root / "exp"
    shutil.copytree(demo, data)
    if breaker is not None:
        breaker(data)
    uses_demo_defaults = any(a.startswith("demo.") for a in extra)
    args = ["cad2", "--task", "task2", "--system", "mixture", f"--exp-dir={exp}", *TINY, *extra]
    if not uses_demo_defaults:
        args += ["--data-root", str(data)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    records = [r for stage in ("enhance", "evaluate") for r in read_records(exp / "cad2/task2/mixture/results", stage)]
    kept = sum(r["status"] == "ok" for r in records)
    failed = [r["error"] for r in records if r["status"] == "failed"]
    message = (err.getvalue().strip().splitlines() or [""])[0]
    if failed:
        message = f"{message} | first item: {failed[0]}" if message else f"item: {failed[0]}"
    return message.replace(str(root), "<tmp>"), code, kept


def main_(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = p.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    demo = base / "demo"
    make_demo(demo, train_songs=2, train_seconds=2.0, valid_songs=2, valid_seconds=3.0, segment_seconds=1.5,
              scenes_per_song=2, listeners_per_scene=1)
    print("| case | exit | items kept | message |\n|---|---|---|---|")
    for i, (name, breaker, extra) in enumerate(CASES):
        message, code, kept = run_case(base / f"case{i:02d}", demo, name, breaker, extra)
        print(f"| {name} | {code} | {kept} | {message[:160].replace('|', '/')} |", flush=True)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main_()
