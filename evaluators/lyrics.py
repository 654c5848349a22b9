"""Lyric text normalisation and word correctness (CAD2 task 1, CLIP1).

Correctness is the share of reference words a listener (or Whisper) got right::

    correctness = hits / (substitutions + deletions + hits)      # = hits / reference words

computed by ``jiwer.process_words`` on normalised text, as the official CLIP1 baseline does
(pyclarity 0.9.0 ``recipes/cad_icassp_2026/baseline/transcription_scorer.py``). Insertions do
not lower it. The better ear is the max over ears (:func:`better_ear`).

Normalisation (:func:`normalise_lyrics`), in this order:

1. lower case; typographic apostrophes (’ ‘ ′ `) become ``'``;
2. numbers to words with ``inflect`` (no "and", hyphens to spaces): thousands separators
   are dropped (``1,000`` -> ``1000``), decimals read digit by digit (``2.45`` -> "two point
   four five"), ordinals (``3rd`` -> "third"), integers (``21`` -> "twenty one"); digits
   glued to letters are split first (``4ever`` -> "four ever");
3. punctuation removed: every character that is not a letter, a digit, an apostrophe or a
   space becomes a space (so ``well-known`` -> "well known"); apostrophes are kept only
   inside words;
4. contractions expanded with the CLIP1 table (``evaluators/data/contractions.csv``, copied
   from pyclarity, MIT): each token becomes the first listed expansion (``don't`` -> "do
   not", ``gonna`` -> "going to", ``we'd`` -> "we had"); leading or trailing apostrophes
   left after that are stripped (``walkin'`` -> "walkin");
5. upper case; runs of white space collapsed; bracketed non-words (``[laughs]``,
   ``<unk>``) removed before step 3, as jiwer's ``RemoveKaldiNonWords`` does.

Differences from the official CLIP1 scorer, on purpose:

* **Digits are kept.** Upstream runs its contraction tokeniser (regex
  ``[a-z]+(?:'[a-z]+)*'?|'[a-z]+|[^\\w\\s]``) *before* number normalisation; that regex
  matches no digits, so every numeral ("2", "1999") is silently deleted and never spelled
  out. Here numbers are normalised first. Example (measured with the installed upstream
  scorer): reference "seven roads", Whisper hypothesis "7 roads" scores 0.5 upstream (the
  hypothesis becomes "ROADS") and 1.0 here; reference "I've got 2 hearts" becomes
  "I HAVE GOT HEARTS" upstream, so a reference numeral is never counted as a word.
* Curly apostrophes are mapped to ``'`` (upstream deletes them, so ``don’t`` became "dont"
  and missed the contraction table).
* All punctuation is removed (upstream keeps ``? : " -`` etc. as stand-alone "words"
  that can count as hits or errors).
* ``ReduceToSingleSentence`` / ``Strip`` are implicit (one string in, one word list out).

Empty reference (nothing left after normalisation) raises ``ValueError``: correctness is
undefined. An empty hypothesis scores 0.0 (all reference words deleted).
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CONTRACTIONS_FILE = Path(__file__).parent / "data" / "contractions.csv"

_APOSTROPHES = re.compile(r"[\u2019\u2018\u2032`\u00b4]")
_NON_WORDS = re.compile(r"\[[^\]]*\]|<[^>]*>")  # [noise], <unk> (jiwer RemoveKaldiNonWords)
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])(?!(?:st|nd|rd|th)\b)|(?<=[a-z])(?=\d)")
_DECIMAL = re.compile(r"\d+\.\d+")
_ORDINAL = re.compile(r"\b\d+(?:st|nd|rd|th)\b")
_INTEGER = re.compile(r"\d+")
_PUNCTUATION = re.compile(r"[^\w\s']|_")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=1)
def _inflect():
    import inflect  # deferred: the import is slow-ish and only text scoring needs it

    return inflect.engine()


def _spoken(number: str) -> str:
    return _inflect().number_to_words(number, andword="").replace("-", " ").replace(",", "")


def normalise_numbers(text: str) -> str:
    """Spell out the numbers in lower-case ``text`` (see module docstring, step 2)."""
    text = _THOUSANDS.sub("", text)
    text = _DIGIT_LETTER.sub(" ", text)

    def decimal(m: re.Match) -> str:
        whole, frac = m.group(0).split(".")
        return f" {_spoken(whole)} point {' '.join(_spoken(d) for d in frac)} "

    text = _DECIMAL.sub(decimal, text)
    text = _ORDINAL.sub(lambda m: f" {_spoken(m.group(0))} ", text)
    return _INTEGER.sub(lambda m: f" {_spoken(m.group(0))} ", text)


@functools.lru_cache(maxsize=4)
def load_contractions(path: str | Path = CONTRACTIONS_FILE) -> dict[str, str]:
    """token -> expansion (first listed expansion wins); ``#`` lines are comments."""
    table: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.reader(line for line in fh if line.strip() and not line.startswith("#")):
            key = row[0].strip().lower()
            value = ",".join(row[1:]).strip().lower()
            table.setdefault(key, value)
    return table


def normalise_lyrics(text: str, contractions: str | Path = CONTRACTIONS_FILE) -> str:
    """Normalised upper-case word string for scoring (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"lyrics must be a string, got {type(text).__name__}")
    table = load_contractions(contractions)
    text = _APOSTROPHES.sub("'", text.lower())
    text = _NON_WORDS.sub(" ", text)
    text = normalise_numbers(text)
    text = _PUNCTUATION.sub(" ", text)
    words = []
    for token in text.split():
        if token not in table:
            token = token.strip("'")  # 'til -> til, walkin' -> walkin
        token = table.get(token, token)
        words.extend(w.strip("'") for w in token.split())
    return _SPACES.sub(" ", " ".join(w for w in words if w)).strip().upper()


@dataclass(frozen=True)
class WordScore:
    """Counts of one reference/hypothesis alignment (for CSVs) and the correctness."""

    correctness: float
    hits: int
    substitutions: int
    deletions: int
    insertions: int
    n_words: int  # reference words = hits + substitutions + deletions
    reference: str  # normalised
    hypothesis: str  # normalised

    def as_dict(self) -> dict:
        return asdict(self)


def score_words(
    reference: str | Sequence[str],
    hypothesis: str | Sequence[str],
    contractions: str | Path = CONTRACTIONS_FILE,
) -> WordScore:
    """Align normalised hypothesis to normalised reference and count words.

    ``reference`` and ``hypothesis`` may each be a list of alternative forms; the pair
    with the most hits is kept (as the official scorer does; ties keep the first pair).
    """
    import jiwer

    refs = [reference] if isinstance(reference, str) else list(reference)
    hyps = [hypothesis] if isinstance(hypothesis, str) else list(hypothesis)
    if not refs or not hyps:
        raise ValueError("score_words needs at least one reference and one hypothesis form")
    best: WordScore | None = None
    for ref_text in refs:
        ref = normalise_lyrics(ref_text, contractions)
        if not ref:
            raise ValueError(f"empty reference lyrics after normalisation: {ref_text!r}")
        n_ref = len(ref.split())
        for hyp_text in hyps:
            hyp = normalise_lyrics(hyp_text, contractions)
            if hyp:
                out = jiwer.process_words(ref, hyp)
                counts = (out.hits, out.substitutions, out.deletions, out.insertions)
            else:
                counts = (0, 0, n_ref, 0)
            hits, subs, dels, ins = counts
            score = WordScore(hits / (hits + subs + dels), hits, subs, dels, ins, n_ref, ref, hyp)
            if best is None or score.hits > best.hits:
                best = score
    assert best is not None
    return best


def word_hits(reference: str, hypothesis: str, contractions: str | Path = CONTRACTIONS_FILE) -> list[tuple[str, bool]]:
    """Each word of the normalised `reference`, in order, with whether the alignment that
    `score_words` counts (jiwer's minimum-edit alignment of the normalised texts) makes it a
    hit; the number of True values equals `score_words(reference, hypothesis).hits`."""
    import jiwer

    ref = normalise_lyrics(reference, contractions).split()
    hyp = normalise_lyrics(hypothesis, contractions)
    hit = [False] * len(ref)
    if ref and hyp:
        for chunk in jiwer.process_words(" ".join(ref), hyp).alignments[0]:
            if chunk.type == "equal":
                hit[chunk.ref_start_idx : chunk.ref_end_idx] = [True] * (chunk.ref_end_idx - chunk.ref_start_idx)
    return list(zip(ref, hit))


def correctness(
    reference: str | Sequence[str],
    hypothesis: str | Sequence[str],
    contractions: str | Path = CONTRACTIONS_FILE,
) -> float:
    """hits / (substitutions + deletions + hits) on normalised text, in [0, 1]."""
    return score_words(reference, hypothesis, contractions).correctness


def better_ear(left: float, right: float) -> float:
    """The better ear's score: max(left, right), as CAD2 task 1 and CLIP1 do."""
    return max(float(left), float(right))
