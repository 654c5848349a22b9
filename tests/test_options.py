"""Every system's options: a typo is a one-line error before any work, naming the system and the key."""

from __future__ import annotations

import pytest

from harness.cli import main


@pytest.mark.parametrize(
    "recipe, system, override, named",
    [
        (["cad2", "--task", "task1"], "centre", "systems.centre.sharpnes=2", "'centre': unknown option(s) ['sharpnes']"),
        (["cad2", "--task", "task2"], "mixture", "systems.mixture.gain=2", "'mixture': unknown option(s) ['gain']"),
        (["cad2", "--task", "task2"], "convtasnet", "systems.convtasnet.model.XX=8", "'convtasnet' model: unknown option(s) ['XX']"),
        (["cad2", "--task", "task2"], "arunet", "systems.arunet.train.stepz=8", "'arunet' train: unknown option(s) ['stepz']"),
        (["cad2", "--task", "task2"], "ensemble", "systems.ensemble.learn.critrion=nnls", "'ensemble' learn: unknown option(s) ['critrion']"),
        (["cad2", "--task", "task2"], "ensemble", "systems.ensemble.weights=median", "'ensemble': unknown weights preset 'median'"),
        (["cad_icassp_2026"], "transient_boost+whisper", "systems.transient_boost.boost=3", "'transient_boost': unknown option(s) ['boost']"),
        (["cad_icassp_2026"], "whisper", "systems.whisper.beamsize=2", "'whisper': unknown option(s) ['beamsize']"),
        (["cad_icassp_2026"], "stoi", "systems.stoi.separatr=centre", "'stoi': unknown option(s) ['separatr']"),
    ],
)
def test_an_unknown_option_is_one_line_naming_it(recipe, system, override, named, tmp_path, capsys):
    code = main([*recipe, "--system", system, "--alone", "--stage", "merge", override, "--exp-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err and named in err, err
    assert not any(tmp_path.iterdir())  # nothing ran
