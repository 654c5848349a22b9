"""Submission packaging: a valid run is zipped as the challenge names it; a broken one is refused."""

from __future__ import annotations

import zipfile

import numpy as np
import soundfile as sf


def test_package_zips_every_expected_output(run_cli, tmp_path):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    assert run_cli("--system", "mixture", "--stage", "package", "submission.team_id=T042", exp=exp) == 0
    archive = exp / "cad2/task2/mixture/submission_T042_noncausal.zip"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert len(names) == 4 and all(n.startswith("valid/S5") and n.endswith("_remix.flac") for n in names)


def test_package_refuses_an_invalid_submission(run_cli, tmp_path, capsys):
    exp = tmp_path / "exp"
    assert run_cli("--system", "mixture", "--stage", "enhance", exp=exp) == 0
    enhanced = exp / "cad2/task2/mixture/enhanced/valid"
    files = sorted(enhanced.glob("*.flac"))
    files[0].unlink()
    sf.write(files[1], np.zeros((1000, 2)), 44100, subtype="PCM_24", format="FLAC")
    (enhanced / "notes.txt").write_text("hello")
    assert run_cli("--system", "mixture", "--stage", "package", exp=exp) == 2
    err = capsys.readouterr().err
    assert f"{files[0].name}: missing" in err
    assert "sample format PCM_24, expected PCM_16" in err and "sample rate 44100 Hz, expected 32000 Hz" in err
    assert "long, expected 1.500 s" in err and "notes.txt: not part of the submission" in err
    assert not list((exp / "cad2/task2/mixture").glob("*.zip"))
