"""Packaging a system's outputs as the challenge asks, after validating them."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from harness.errors import HarnessError, InputError
from harness.files import atomic_write
from submissions.archive import safe_extract
from submissions.validate import check_audio


class AudioSubmission:
    """Mixin of a task whose submission is its enhanced audio, zipped as the challenge names
    it: ``submission_name()`` (default ``submission_<team_id>_<variant>.zip``) of every file
    ``expected_outputs()`` lists (``ExpectedAudio``, paths relative to the system's
    ``enhanced/`` folder, with their scale companions). The task's config holds
    ``submission.team_id`` (and ``submission.variant`` for the default name)."""

    def expected_outputs(self) -> list:
        raise NotImplementedError

    def submission_name(self) -> str:
        """The zip's file name (CAD2: ``submission_<team_id>_<variant>.zip``)."""
        sub = self.cfg.submission
        return f"submission_{sub.team_id}_{sub.variant}.zip"

    def package(self, exp_dir: Path) -> Path:
        exp_dir = Path(exp_dir)
        return package_audio(self, exp_dir / "enhanced", exp_dir / self.submission_name())

    def validate_submission(self, path: Path) -> list[str]:
        """Every problem of a submission zip (read safely) or folder; [] when it is valid."""
        path = Path(path)
        if path.is_dir():
            return check_audio(path, self.expected_outputs())
        if path.suffix.lower() != ".zip":
            return [f"{path}: expected a .zip or a folder of the enhanced outputs"]
        with tempfile.TemporaryDirectory(prefix="cadenza-validate-") as tmp:
            problems = safe_extract(path, Path(tmp))
            return problems or check_audio(Path(tmp), self.expected_outputs())


class PredictionsSubmission:
    """Mixin of a task whose submission is the predictions CSV its merge stage writes
    (``submission_path(exp_dir)``), checked by its ``validate_submission``."""

    def submission_path(self, exp_dir: Path) -> Path:
        raise NotImplementedError

    def package(self, exp_dir: Path) -> Path:
        path = self.submission_path(exp_dir)
        if not path.is_file():
            raise InputError(path, "no predictions yet: run the merge stage first")
        problems = self.validate_submission(path)
        if problems:
            raise HarnessError(f"the submission {path} is not valid ({len(problems)} problem(s)):\n  "
                               + "\n  ".join(problems[:20]))
        return path


def package_audio(task, enhanced_dir: Path, destination: Path, max_problems: int = 20) -> Path:
    """Validate `enhanced_dir` against the task's expected outputs and zip it to `destination`."""
    expected = task.expected_outputs()
    problems = check_audio(enhanced_dir, expected)
    if problems:
        shown = "\n  ".join(problems[:max_problems])
        more = f"\n  ... and {len(problems) - max_problems} more" if len(problems) > max_problems else ""
        raise HarnessError(f"the submission in {enhanced_dir} is not valid ({len(problems)} problem(s)):\n  {shown}{more}")
    def write(tmp: str) -> None:
        # FLAC is already compressed: store, don't deflate again
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for e in sorted(expected, key=lambda e: e.relative_path):
                zf.write(enhanced_dir / e.relative_path, e.relative_path)
                if e.scale_file:
                    zf.write(enhanced_dir / e.scale_file, e.scale_file)

    atomic_write(destination, write)
    return destination
