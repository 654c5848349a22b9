"""Lyric normalisation and word correctness (evaluators/lyrics.py)."""

import pytest

from evaluators.lyrics import (
    better_ear,
    correctness,
    load_contractions,
    normalise_lyrics,
    score_words,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm gonna sing, Mr. Smith!", "I AM GOING TO SING MR SMITH"),
        ("Don’t you know", "DO NOT YOU KNOW"),  # curly apostrophe still a contraction
        ("we'd wanna stay 'til dawn", "WE HAD WANT TO STAY UNTIL DAWN"),  # first expansion
        ("walkin' down", "WALKIN DOWN"),
        ("well-known   words; (really)?", "WELL KNOWN WORDS REALLY"),
        ("hello [laughs] <unk> world", "HELLO WORLD"),
    ],
)
def test_contractions_and_punctuation(text, expected):
    assert normalise_lyrics(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2 songs", "TWO SONGS"),
        ("21 guns", "TWENTY ONE GUNS"),
        ("1,000 miles", "ONE THOUSAND MILES"),
        ("2.45 am", "TWO POINT FOUR FIVE AM"),
        ("the 3rd time", "THE THIRD TIME"),
        ("1999", "ONE THOUSAND NINE HUNDRED NINETY NINE"),
        ("4ever", "FOUR EVER"),
        ("I'm 7", "I AM SEVEN"),
    ],
)
def test_digits_are_spelled_out_not_dropped(text, expected):
    assert normalise_lyrics(text) == expected


def test_digit_versus_word_is_a_hit():
    # the official CLIP1 scorer drops the digit and scores 0.5 here
    assert correctness("seven roads", "7 roads") == 1.0
    assert correctness("I've got 2 hearts", "I have got two hearts") == 1.0


def test_contraction_table_is_the_clip_table():
    table = load_contractions()
    assert table["don't"] == "do not"
    assert table["gonna"] == "going to"
    assert table["you'd"] == "you had"  # first of two listed expansions
    assert len(table) > 70


def test_known_counts():
    s = score_words("the quick brown fox jumps", "the quick brown cat jumps high")
    assert (s.hits, s.substitutions, s.deletions, s.insertions) == (4, 1, 0, 1)
    assert s.n_words == 5
    assert s.correctness == pytest.approx(0.8)  # insertions do not lower correctness
    s = score_words("one two three four", "one three")
    assert (s.hits, s.substitutions, s.deletions) == (2, 0, 2)
    assert s.correctness == 0.5
    assert set(s.as_dict()) >= {"correctness", "hits", "n_words", "reference", "hypothesis"}


def test_case_and_punctuation_do_not_count():
    assert correctness("Hello, World!", "hello world") == 1.0


def test_alternative_forms_keep_most_hits():
    assert correctness("hi there you", ["hi you", "hi there"]) == pytest.approx(2 / 3)
    assert correctness(["a b c", "a b d"], "a b d") == 1.0


def test_empty_hypothesis_scores_zero():
    s = score_words("hello world", "")
    assert s.correctness == 0.0 and s.deletions == 2
    assert correctness("hello world", " ... ") == 0.0


def test_empty_reference_is_an_error():
    with pytest.raises(ValueError, match="empty reference"):
        correctness("", "hello")
    with pytest.raises(ValueError, match="empty reference"):
        correctness("?!", "hello")
    with pytest.raises(TypeError):
        normalise_lyrics(None)  # type: ignore[arg-type]


def test_better_ear_is_max():
    assert better_ear(0.2, 0.7) == 0.7
    assert better_ear(1, 0) == 1.0


PARITY_CASES = [
    "I can't stop thinking about the summer rain",
    "You're the only song I want to hear, aren't you",
    "We'd wanna stay till the morning comes (yeah)",
    "Gonna hold you tight; she's gotta go!",
    "Let's dance, y'all. It's late.",
]


def test_same_words_as_the_official_scorer_when_no_digits_or_odd_punctuation():
    """Where the official CLIP1 chain has no fault to trip on, both normalisers agree."""
    pytest.importorskip("inflect")
    try:
        import recipes.cad_icassp_2026.baseline as official_pkg
        from recipes.cad_icassp_2026.baseline.transcription_scorer import SentenceScorer
    except ImportError:
        pytest.skip("pyclarity recipes not installed")
    from pathlib import Path

    scorer = SentenceScorer(str(Path(official_pkg.__file__).parent / "contractions.csv"))
    for text in PARITY_CASES:
        assert normalise_lyrics(text) == scorer.get_word_sequence(text), text
    ref, hyp = PARITY_CASES[0], "I can stop thinking of the summer rain"
    official = scorer.score([ref], [hyp])
    ours = score_words(ref, hyp)
    assert (ours.hits, ours.substitutions, ours.deletions, ours.insertions) == (
        official.hits, official.substitutions, official.deletions, official.insertions)
