"""The CAD2 task 2 demo's metadata read the way the official baseline reads it.

pyclarity 0.9.0 ``recipes/cad2/task2/baseline/enhance.py`` (``enhance``, the loop over
scene-listener pairs) numbers a song's sources by their *position* in its ``music.<split>.json``
entry::

    source_list = {
        f"source_{idx}": s["instrument"].split("_")[0]
        for idx, s in enumerate(songs[song_name].values(), 1)
        if "Mixture" not in s["instrument"]
    }

then separates each ``source_list`` instrument and applies ``gains[scene["gain"]]`` by those
keys (``check_repeated_source``, ``apply_gains``). It cannot be imported here (it imports
torchaudio), so the indexing is replicated from its source. It is right only when the entry
lists ``source_1``..``source_N`` in order and the mixture last, as the official metadata does.
"""

from __future__ import annotations

import json

import pytest


def official_source_list(entry: dict) -> dict[str, str]:
    """``source_list`` exactly as enhance.py builds it from one song's entry."""
    return {
        f"source_{idx}": s["instrument"].split("_")[0]
        for idx, s in enumerate(entry.values(), 1)
        if "Mixture" not in s["instrument"]
    }


@pytest.mark.parametrize("split", ["train", "valid"])
def test_official_indexing_finds_each_source(tiny_demo, split):
    meta = tiny_demo / "metadata"
    music = json.loads((meta / f"music.{split}.json").read_text())
    gains = json.loads((meta / "gains.json").read_text())
    scenes = json.loads((meta / f"scenes.{split}.json").read_text())
    for song, entry in music.items():
        assert list(entry)[-1] == "mixture", song
        sources = [k for k in entry if k != "mixture"]
        assert sources == [f"source_{i}" for i in range(1, len(sources) + 1)], song
        official = official_source_list(entry)
        assert official == {k: entry[k]["instrument"].split("_")[0] for k in sources}, song
        for scene in (s for s in scenes.values() if s["music"] == song):
            assert set(gains[scene["gain"]]) == set(official), scene  # apply_gains finds every gain


def test_mixture_first_would_misnumber():
    """Why the order matters: with the mixture first, enhance.py shifts every source by one."""
    entry = {"mixture": {"instrument": "Mixture"}, "source_1": {"instrument": "Violin_1"},
             "source_2": {"instrument": "Cello_1"}}
    assert official_source_list(entry) == {"source_2": "Violin", "source_3": "Cello"}
