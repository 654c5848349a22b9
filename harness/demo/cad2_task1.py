"""CAD2 task 1 demo data (lyric intelligibility): songs = committed lyric lines over synthetic
band accompaniment, with stems, metadata and listeners in the official layout, as
``recipes/cad2/task1/baseline`` (pyclarity 0.9.0) reads them. No labels. Deterministic in
``seed``; a README describing the layout and how it was made is written beside the data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.demo.accompaniment import pan, synth_accompaniment
from harness.demo.listeners import LISTENER_TEMPLATES, LYRIC_RULE, compressor_params, listener_record, template_listener
from harness.demo.lyric_clips import RATE, lyric_clips
from harness.demo.store import build, item_rng, write_flac, write_json

DEMO_VERSION = 2


CAD2_ALPHAS = {"alpha_0": 0.0, "alpha_3": 0.3, "alpha_5": 0.5, "alpha_7": 0.7, "alpha_10": 1.0}


def make_cad2_task1_demo(root: Path, seed: int = 0, n_songs: dict | None = None, listeners_per_scene: int = 2) -> Path:
    """A small CAD2 task 1 dataset in the official layout; returns ``root``.

    ``n_songs`` maps split to the number of songs (default ``{"train": 3, "valid": 3}``);
    each song makes one segment and one scene, heard by ``listeners_per_scene`` listeners.
    Each song has two lyric lines; the valid songs' lines are the last clips, never heard in
    another split while enough clips remain (``lyric_split``).
    """
    root = Path(root)
    n_songs = dict(n_songs or {"train": 3, "valid": 3})
    params = {"kind": "cad2_task1", "version": DEMO_VERSION, "seed": seed, "n_songs": n_songs, "listeners_per_scene": listeners_per_scene}
    return build(root, params, lambda folder: _write_cad2_task1(folder, seed, n_songs, listeners_per_scene))


LINES_PER_SONG = 2


def lyric_split(clip_ids: list[str], n_valid_songs: int) -> tuple[list[str], list[str]]:
    """(clips for the valid split, clips for the other splits): the valid songs' lines are the
    last ``2 * n_valid_songs`` clips, kept out of the other splits, which cycle through the
    rest; at least two clips are always left for them (more valid songs than that allows
    repeat lines among themselves)."""
    held = min(LINES_PER_SONG * n_valid_songs, len(clip_ids) - LINES_PER_SONG)
    if held <= 0:
        return list(clip_ids), list(clip_ids)
    return clip_ids[-held:], clip_ids[:-held]


def _write_cad2_task1(root: Path, seed: int, n_songs: dict, listeners_per_scene: int) -> None:
    clips = lyric_clips()
    valid_clips, other_clips = lyric_split(sorted(clips), int(n_songs.get("valid", 0)))
    write_json(root / "metadata" / "alpha.json", CAD2_ALPHAS)
    cursors = {"valid": 0, "other": 0}
    for s_idx, (split, count) in enumerate(sorted(n_songs.items())):
        pool_name = "valid" if split == "valid" else "other"
        pool = valid_clips if split == "valid" else other_clips
        listeners = {}
        params_out = {}
        for l_idx, template in enumerate(LISTENER_TEMPLATES):
            jit_l, jit_r = template_listener(template, item_rng(seed, "cad2-listener", split, l_idx))
            lid = f"L{'5' if split == 'valid' else '0'}{l_idx + 1:03d}"
            listeners[lid] = listener_record(lid, jit_l, jit_r)
            params_out[lid] = compressor_params(jit_l, jit_r, LYRIC_RULE)
        music, scenes, scene_listeners = {}, {}, {}
        lids = sorted(listeners)
        for i in range(count):
            rng = item_rng(seed, "cad2-song", split, i)
            picked = [pool[(cursors[pool_name] + j) % len(pool)] for j in range(LINES_PER_SONG)]
            cursors[pool_name] += LINES_PER_SONG
            lead, gap, tail = 0.8, 0.4, 0.8
            vocal_parts = [clips[c].signal for c in picked]
            n = int((lead + gap + tail) * RATE) + sum(v.size for v in vocal_parts)
            vocals = np.zeros(n)
            pos = int(lead * RATE)
            for v in vocal_parts:
                vocals[pos : pos + v.size] += v
                pos += v.size + int(gap * RATE)
            acc = synth_accompaniment(n, RATE, rng, varied=True)
            stems = {
                "vocals": pan(vocals * 10 ** (rng.uniform(-5, -1) / 20), rng.uniform(-0.1, 0.1)),
                "bass": pan(acc["bass"], 0.0),
                "drums": np.stack([acc["drums"], np.roll(acc["drums"], int(0.0004 * RATE))], axis=1),
                "other": pan(acc["other"], rng.uniform(-0.5, 0.5)),
            }
            mixture = sum(stems.values())
            peak = max(np.max(np.abs(x)) for x in (*stems.values(), mixture))
            if peak > 0.9:  # one common gain keeps mixture == sum of stems
                stems = {k: x * (0.9 / peak) for k, x in stems.items()}
                mixture = mixture * (0.9 / peak)
            track = f"Demo Artist {s_idx}{i:02d} - Lyric Song {i:02d}"
            path = f"{split}/{track}"
            for name, x in {**stems, "mixture": mixture}.items():
                write_flac(root / "audio" / path / f"{name}.flac", x, RATE)
            seg_id = f"{track}_0"
            start = round(lead - 0.3, 3)
            end = round((n / RATE) - tail + 0.3, 3)
            music[seg_id] = {
                "track_name": track,
                "path": path,
                "split": split,
                "start_time": start,
                "end_time": end,
                "text": " ".join(clips[c].text for c in picked),
            }
            scene_id = f"S{'5' if split == 'valid' else '1'}{i + 1:04d}"
            alpha_id = sorted(CAD2_ALPHAS)[int(rng.integers(0, len(CAD2_ALPHAS)))]
            scenes[scene_id] = {"segment_id": seg_id, "alpha": alpha_id}
            order = rng.permutation(len(lids))[:listeners_per_scene]
            scene_listeners[scene_id] = [lids[k] for k in sorted(order)]
        meta = root / "metadata"
        write_json(meta / f"music.{split}.json", music)
        write_json(meta / f"scene.{split}.json", scenes)
        write_json(meta / f"scene_listeners.{split}.json", scene_listeners)
        write_json(meta / f"listeners.{split}.json", listeners)
        write_json(meta / f"compressor_params.{split}.json", params_out)
    (root / "README.md").write_text(CAD2_README.format(seed=seed, n_songs=n_songs), encoding="utf-8")


CAD2_README = """# CAD2 task 1 demo data (synthetic)

Made by `harness.demo.cad2_task1.make_cad2_task1_demo(root, seed={seed})`, songs per split {n_songs}.
Layout as `recipes/cad2/task1/baseline/{{enhance,evaluate}}.py` (pyclarity 0.9.0) read it:

```
metadata/alpha.json                      {{alpha_id: alpha}}            (scene["alpha"] is an alpha_id)
metadata/music.<split>.json              {{segment_id: {{track_name, path, split, start_time, end_time, text}}}}
metadata/scene.<split>.json              {{scene_id: {{segment_id, alpha}}}}
metadata/scene_listeners.<split>.json    {{scene_id: [listener_id, ...]}}
metadata/listeners.<split>.json          {{listener_id: {{name, audiogram_cfs, audiogram_levels_l, audiogram_levels_r}}}}
metadata/compressor_params.<split>.json  {{listener_id: {{cr_l, cr_r, gain_l, gain_r}}}}  (6 bands each)
audio/<path>/{{mixture,vocals,bass,drums,other}}.flac   stereo, 44.1 kHz, 16-bit
```

How it is made:
* vocals: two committed espeak-ng lyric lines (harness/demo/assets/lyrics), resampled to 44.1 kHz,
  placed after a 0.8 s lead-in with a 0.4 s gap, near the centre, at -5..-1 dB; `text` is the
  two lines joined. The valid songs' lines are not used by the other splits (while enough clips remain).
* accompaniment: deterministic numpy synthesis, a random arrangement per song
  (harness/demo/accompaniment.py, `varied=True`: one of four chord progressions as a sustained
  or arpeggiated pad of random brightness = `other`, with a lead line in the voice's register in
  about half the songs; bass on beats or eighths = `bass`; kick/snare and hats on eighths or
  sixteenths = `drums`; levels within +-4 dB); mixture = vocals + bass + drums + other, all
  scaled by one gain when needed so that no file peaks above 0.9.
* segment: `start_time`/`end_time` (seconds) cover the sung part with 0.3 s margins.
* listeners: 4 per split from no loss to moderately severe, with 5 dB jitter; compressor
  parameters from the half-gain rule (gain = loss/2 at the band centres 250..8000 Hz, max 24 dB;
  CR = 1 + max(loss-20, 0)/40, max 3) -- not the official CAMFIT values.
"""
