"""Demo scores and their FluidSynth renders: MIDI bytes, determinism, registers, stems that sum."""

from __future__ import annotations

import shutil
import subprocess
import struct

import numpy as np
import pytest
import soundfile as sf

from harness.demo import synth
from harness.demo.midi import PPQ, _varlen, smf_bytes
from harness.demo.render import Room, render_parts
from harness.demo.scores import REGISTERS, SAXOPHONES, ensemble_score, part_midi


def test_smf_layout():
    data = smf_bytes([(0, 0xC0, 40, 0), (0, 0x90, 60, 100), (PPQ, 0x80, 60, 0)], 120.0, 2 * PPQ)
    assert data[:4] == b"MThd" and struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, PPQ)
    assert data[14:18] == b"MTrk" and struct.unpack(">I", data[18:22])[0] == len(data) - 22
    assert data[22:29] == b"\x00\xff\x51\x03" + (500000).to_bytes(3, "big")  # 120 bpm
    assert data.endswith(b"\xff\x2f\x00")
    assert [_varlen(v) for v in (0, 127, 128, 0x3FFF)] == [b"\x00", b"\x7f", b"\x81\x00", b"\xff\x7f"]
    with pytest.raises(ValueError, match="bad MIDI event"):
        smf_bytes([(0, 0x90, 128, 1)], 120.0, 10)


def test_scores_are_seeded_and_in_register():
    a = ensemble_score(np.random.default_rng(5), ["Violin", "Cello", "Sax", "Violin"], 6.0)
    b = ensemble_score(np.random.default_rng(5), ["Violin", "Cello", "Sax", "Violin"], 6.0)
    assert [part_midi(a, p, 6.0) for p in a.parts] == [part_midi(b, p, 6.0) for p in b.parts]
    assert [p.name for p in a.parts] == ["Violin_1", "Cello_1", "Sax_1", "Violin_2"]
    for part, inst in zip(a.parts, ["Violin", "Cello", "Sax", "Violin"]):
        program, lo, hi = (part.program, *SAXOPHONES[part.program]) if inst == "Sax" else REGISTERS[inst]
        assert part.program == program and all(lo <= n.pitch <= hi for n in part.notes), part.name
        assert part.notes and all(1 <= n.velocity <= 127 for n in part.notes)


def test_render_is_deterministic_and_matches_the_command(tmp_path):
    score = ensemble_score(np.random.default_rng(11), ["Flute", "Bassoon"], 3.0)
    first = render_parts(score, 3.0)
    again = render_parts(ensemble_score(np.random.default_rng(11), ["Flute", "Bassoon"], 3.0), 3.0)
    for name in first:
        assert first[name].shape == (3 * 44100, 2)
        assert first[name].tobytes() == again[name].tobytes(), name
        assert np.sqrt(np.mean(first[name] ** 2)) > 1e-3, f"{name} is silent"
    if shutil.which("fluidsynth") is None:
        pytest.skip("the fluidsynth command is not installed (apt-get install fluidsynth)")
    part = score.parts[0]
    (tmp_path / "part.mid").write_bytes(part_midi(score, part, 3.0))
    subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-o", "audio.file.format=float",
                    "-F", str(tmp_path / "out.wav"), "-r", "44100", "-g", str(synth.GAIN),
                    str(synth.SOUNDFONT), str(tmp_path / "part.mid")], check=True, capture_output=True)
    cli, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    n = min(len(cli), 3 * 44100)
    assert rate == 44100 and np.array_equal(cli[:n], first[part.name][:n].astype(np.float32))


def _centroid(x: np.ndarray, rate: int = 44100) -> float:
    spec = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(np.sum(freqs * spec) / np.sum(spec))


def test_registers_differ_as_the_instruments_do():
    """Each instrument alone (the melody role), same seed: cello below violin, bassoon below
    flute, in mean pitch and in spectral centroid."""
    pitch, centroid = {}, {}
    for inst in ("Violin", "Cello", "Flute", "Bassoon"):
        score = ensemble_score(np.random.default_rng(3), [inst], 4.0)
        pitch[inst] = np.mean([n.pitch for n in score.parts[0].notes])
        centroid[inst] = _centroid(render_parts(score, 4.0)[f"{inst}_1"])
    assert pitch["Cello"] < pitch["Violin"] and pitch["Bassoon"] < pitch["Flute"]
    assert centroid["Cello"] < centroid["Violin"] and centroid["Bassoon"] < centroid["Flute"], centroid


def test_room_is_linear_and_seeded():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4410, 2)), rng.standard_normal((4410, 2))
    room = Room.make(np.random.default_rng(1), rt60=0.5, wet=0.3)
    assert np.array_equal(room.ir, Room.make(np.random.default_rng(1), rt60=0.5, wet=0.3).ir)
    np.testing.assert_allclose(room.apply(a) + room.apply(b), room.apply(a + b), atol=1e-12)
    assert room.apply(a).shape == a.shape


def test_missing_soundfont_names_the_package(tmp_path):
    with pytest.raises(synth.SynthUnavailable, match=r"^\S+nothere.sf2: soundfont not found \(apt-get install fluid-soundfont-gm\)$"):
        synth.render_midi(b"", 10, soundfont=tmp_path / "nothere.sf2")


def test_missing_library_names_the_package(monkeypatch):
    monkeypatch.setattr(synth, "_STATE", {})
    monkeypatch.setattr(synth.ctypes.util, "find_library", lambda name: "libfluidsynth-not-here.so")
    with pytest.raises(synth.SynthUnavailable, match=r"FluidSynth library not found \(apt-get install fluidsynth\)$"):
        synth.check_available()


def test_cad2_demo_stems_sum_to_mixture(tiny_demo):
    import json

    music = json.loads((tiny_demo / "metadata" / "music.valid.json").read_text())
    for song, entry in music.items():
        mix, _ = sf.read(tiny_demo / "audio" / entry["mixture"]["track"], dtype="int16")
        stems = [sf.read(tiny_demo / "audio" / t["track"], dtype="int16")[0].astype(np.int32)
                 for k, t in entry.items() if k != "mixture"]
        assert np.array_equal(np.sum(stems, axis=0), mix), song


def test_cli_reports_a_missing_soundfont_in_one_line(monkeypatch, tmp_path, capsys):
    from harness.cli import main

    monkeypatch.setattr(synth, "SOUNDFONT", tmp_path / "FluidR3_GM.sf2")
    code = main(["cad2", "--task", "task2", "--system", "mixture", f"--exp-dir={tmp_path / 'exp'}",
                 f"path.demo_root={tmp_path / 'demo'}", "demo.train_songs=1", "demo.valid_songs=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and err[0].endswith("soundfont not found (apt-get install fluid-soundfont-gm)")
    assert not any((tmp_path / "demo").rglob("*.flac"))  # no half-written set left behind


def test_cad2_demo_bytes_do_not_depend_on_the_workers(tiny_demo, tmp_path):
    """Every random draw is made before the songs are rendered, so two rendering processes
    write the very files one does (the session's tiny demo was built in-process)."""
    from harness.demo.cad2_task2 import make_demo
    from harness.parallel import local_jobs

    with local_jobs(2):
        again = make_demo(tmp_path / "two", train_songs=2, train_seconds=2.0, valid_songs=2, valid_seconds=3.0,
                          segment_seconds=1.5, scenes_per_song=2, listeners_per_scene=1)
    files = sorted(p.relative_to(tiny_demo) for p in tiny_demo.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in files:
        assert (tiny_demo / name).read_bytes() == (again / name).read_bytes(), name
