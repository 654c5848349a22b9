"""The lyric task's report pages: lyrics with each ear's transcription, words marked hit or missed."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluators.lyrics import score_words, word_hits
from harness.recipe import load_config, make_task, select
from harness.report import site


@pytest.mark.parametrize("ref, hyp", [
    ("The cat sat on the mat", "the cat sat on a mat"),
    ("Hello, world! It's 5 o'clock", "hello word it is five o'clock"),
    ("one two three", ""),
    ("a b c d e", "a x c e f"),
])
def test_word_hits_count_what_score_words_counts(ref, hyp):
    words = word_hits(ref, hyp)
    score = score_words(ref, hyp)
    assert [w for w, _ in words] == score.reference.split()
    assert sum(hit for _, hit in words) == score.hits


def test_lyric_item_page_marks_each_ears_words(tmp_path):
    from harness.demo.cad2_task1 import make_cad2_task1_demo

    root = tmp_path / "data"
    make_cad2_task1_demo(root, seed=3, n_songs={"train": 1, "valid": 1}, listeners_per_scene=1)
    recipe = select("cad2", "task1")[0]
    task = make_task(recipe, load_config(recipe, [], data_root=str(root), cwd=tmp_path))
    item = task.work_items()[0]
    lyrics = task._segments(task.cfg.split)[item.fields["song"]]["text"]
    words = lyrics.split()
    left, right = " ".join(words[: len(words) // 2]), "nothing like it"
    exp = tmp_path / "exp/cad2/task1"
    (exp / "centre").mkdir(parents=True)
    pd.DataFrame([{**item.fields, "lyrics": lyrics, "hypothesis_left": left, "hypothesis_right": right,
                   "whisper_left": score_words(lyrics, left).correctness, "whisper_right": 0.0,
                   "score": 0.5}]).to_csv(exp / "centre/scores.csv", index=False)
    media = task.item_media(item, {"centre": exp / "centre"})
    assert [c.label for c in media.clips] == ["mixture (input)", "reference (hearing aid)"]  # no output written
    assert media.reference_text == lyrics and len(media.transcripts) == 2
    assert sum(hit for _, hit in media.transcripts[0].words) == score_words(lyrics, left).hits > 0
    task.write_leaderboard(exp)
    report = site.build(task, exp)
    html = (report / "items/item-0.html").read_text()
    assert 'class="hit"' in html and 'class="miss"' in html and "centre, left ear" in html
