"""Per-stage results as JSON lines, appended atomically; merging them with a completeness check.

`results/<stage>-<k>of<n>.jsonl` starts with a header line (resolved config, its hash, package
versions); every other line is one item's record with `key`, `status` ("ok" or "failed"),
`config_hash` and the stage's fields. A line is written with a single `write` on a file opened
for appending, then flushed to disk, so a run killed at any point keeps every finished line
and at worst loses a line in flight. The newest record of a key wins.
"""

from __future__ import annotations

import json
import math
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

PACKAGES = ("cadenza-harness", "pyclarity", "numpy", "scipy", "torch", "museval")


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def _clean(value):
    """JSON has no NaN/inf: write them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        return _clean(value.item())
    return value


class ResultsFile:
    def __init__(self, path: Path, header: dict):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.append({"header": header})
        else:
            self._end_torn_line()

    def _end_torn_line(self) -> None:
        """A kill in the middle of a write leaves a line without its newline: end it, so the
        next record starts on a line of its own (the torn fragment is then skipped on read)."""
        with self.path.open("rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        if torn:
            with self.path.open("ab") as f:
                f.write(b"\n")

    def append(self, record: dict) -> None:
        line = (json.dumps(_clean(record), sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def read_records(results_dir: Path, stage: str) -> list[dict]:
    """Every item record of a stage, from every shard's file, in file order. A torn last line
    (a kill in the middle of a write) is skipped."""
    records = []
    for path in sorted(Path(results_dir).glob(f"{stage}-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "header" not in record:
                records.append(record)
    return records


def latest(records: list[dict], config_hash: str) -> dict[str, dict]:
    """The newest record per key among those made with this config."""
    out = {}
    for r in records:
        if r.get("config_hash") == config_hash:
            out[r["key"]] = r
    return out


class IncompleteResults(HarnessError):
    """Merge refused: some expected items failed or are missing (the run's exit code is 1)."""


def merge(results_dir: Path, expected: list[str], columns: list[str], config_hash: str, allow_partial: bool = False) -> pd.DataFrame:
    """One row per expected key from the evaluate stage; refuses to drop any item silently."""
    records = latest(read_records(results_dir, "evaluate"), config_hash)
    failed = {k: r.get("error", "") for k, r in records.items() if r["status"] != "ok" and k in expected}
    # an item that failed at enhance never reached evaluate: name it as failed, with its reason
    enhanced = latest(read_records(results_dir, "enhance"), config_hash)
    failed.update({k: f"at enhance: {enhanced[k].get('error', '')}" for k in expected
                   if k not in records and enhanced.get(k, {}).get("status") == "failed"})
    missing = [k for k in expected if k not in records and k not in failed]
    if (failed or missing) and not allow_partial:
        lines = [f"  {k}: failed: {e}" for k, e in sorted(failed.items())[:20]]
        lines += [f"  {k}: missing" for k in missing[:20]]
        more = len(failed) + len(missing) - len(lines)
        raise IncompleteResults(
            f"{len(failed)} failed and {len(missing)} missing of {len(expected)} items in {results_dir}:\n"
            + "\n".join(lines) + (f"\n  ... and {more} more" if more > 0 else "")
            + "\nrerun the stages (finished items are kept), or merge with --allow-partial"
        )
    rows = [records[k] for k in sorted(expected) if k in records and records[k]["status"] == "ok"]
    return pd.DataFrame(rows, columns=columns)
