"""`--stage validate --submission PATH`: a team checks what it will hand in; every problem is
listed and the exit code is non-zero. Zips are read safely."""

from __future__ import annotations

import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.cli import EXIT_ITEMS_FAILED
from submissions.archive import safe_extract
from submissions.validate import check_predictions_csv


@pytest.fixture
def packaged(run_cli, tmp_path):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "package", exp=exp) == 0
    return exp / "cad2/task2/mixture/submission_T000_noncausal.zip"


def test_a_packaged_zip_and_its_folder_are_valid(run_cli, packaged, capsys):
    assert run_cli("--stage", "validate", "--submission", str(packaged)) == 0
    assert run_cli("--stage", "validate", "--submission", str(packaged.parent / "enhanced")) == 0
    assert "valid for cad2/task2" in capsys.readouterr().out


def test_every_problem_is_listed(run_cli, packaged, tmp_path, capsys):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(packaged) as src, zipfile.ZipFile(broken, "w") as dst:
        names = src.namelist()
        for name in names[1:]:
            dst.writestr(name, src.read(name))
        dst.writestr("valid/extra.flac", src.read(names[1]))
    assert run_cli("--stage", "validate", "--submission", str(broken)) == EXIT_ITEMS_FAILED
    out = capsys.readouterr().out
    assert f"{names[0]}: missing" in out and "valid/extra.flac: not part of the submission" in out
    assert "2 problem(s)" in out


def _zip_with(path, name, data=b"x", mode=None, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as zf:
        info = zipfile.ZipInfo(name)
        info.compress_type = compress
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data)
    return path


@pytest.mark.parametrize("name, kwargs, words", [
    ("../evil.flac", {}, "leads outside"),
    ("/etc/evil.flac", {}, "absolute"),
    ("valid/link.flac", {"mode": stat.S_IFLNK | 0o777}, "symbolic link"),
    ("__MACOSX/valid/._a.flac", {}, "hidden or __MACOSX"),
    ("valid/.hidden.flac", {}, "hidden or __MACOSX"),
    ("valid/bomb.flac", {"data": bytes(20_000_000), "compress": zipfile.ZIP_DEFLATED}, "zip bomb"),
])
def test_unsafe_zips_are_refused_before_extraction(tmp_path, name, kwargs, words):
    archive = _zip_with(tmp_path / "a.zip", name, **kwargs)
    target = tmp_path / "out"
    problems = safe_extract(archive, target)
    assert any(words in p for p in problems), problems
    assert not target.exists() or not any(target.rglob("*"))


def test_a_member_larger_than_allowed_is_refused(tmp_path):
    archive = _zip_with(tmp_path / "a.zip", "valid/a.flac", data=bytes(5000))
    assert any("more than the 1000 allowed" in p for p in safe_extract(archive, tmp_path / "out", max_member_bytes=1000))


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.zip"
    path.write_text("hello")
    assert "not a readable zip" in safe_extract(path, tmp_path / "out")[0]


def test_predictions_csv_problems(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("signal_id,intelligibility_score\ns1,50\ns1,60\ns3,nan\ns4,120\ns9,10\n")
    problems = check_predictions_csv(path, ["s1", "s2", "s3", "s4"])
    assert "s1: listed 2 times" in problems and "s2: missing" in problems
    assert "s9: not a signal of this split" in problems
    assert any(p.startswith("s3:") and "not a finite number" in p for p in problems)
    assert "s4: intelligibility_score 120 outside [0, 100]" in problems
    path.write_text("signal_ID,score\ns1,50\n")
    assert "header signal_ID,score, expected signal_id,intelligibility_score" in check_predictions_csv(path, ["s1"])[0]


def test_the_validate_script_points_to_the_cli(tmp_path):
    run = subprocess.run([sys.executable, str(Path(__file__).resolve().parent.parent / "submissions/validate.py"), str(tmp_path / "any.zip")], capture_output=True, text=True)
    assert run.returncode != 0 and "--stage validate --submission" in run.stderr


def test_validate_needs_a_submission(run_cli, capsys):
    assert run_cli("--stage", "validate") == 2
    assert "--stage validate needs --submission" in capsys.readouterr().err
