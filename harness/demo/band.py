"""Seeded band arrangements by genre for the 4-stem demo: drums, bass and "other" parts.

``band_score(rng, genre, seconds)`` returns a ``harness.demo.scores.Score`` in 4/4 whose parts
carry the stem they belong to (``Part.stem``: ``"drums"``, ``"bass"`` or ``"other"``):

* drums on the General MIDI percussion channel (10, i.e. channel index 9) with the genre's kit
  (GS drum-set programs, 1-based: standard 1, power 17, electronic 25, jazz 33, brush 41) and
  patterns on a sixteenth-note grid (GM percussion keys: kick 36, side stick 37, snare 38,
  clap 39, closed hat 42, pedal hat 44, open hat 46, crash 49, ride 51);
* a bass line (pattern of root, fifth and octave, or a walking line for jazz);
* two "other" parts: keys, guitars, strings, organ or pads, each with a comping style.

``GENRES`` lists the genres with their tempo range, swing and instruments (GM programs,
1-based). One chord per bar from the mode's progressions; phrases of 2 or 4 bars, each at its
own dynamic, a crash cymbal opening each phrase where the genre has one; small seeded timing
(+-4 ms) and velocity variation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.demo.scores import Note, Part, Score, chord_pitch_classes, nearest, phrases, progression, scale_pitches

KICK, STICK, SNARE, CLAP, HAT, PEDAL, OPEN, CRASH, RIDE = 36, 37, 38, 39, 42, 44, 46, 49, 51


@dataclass(frozen=True)
class Genre:
    tempo: tuple[float, float]  # quarter notes per minute
    swing: bool
    kit: int  # GS drum-set program, 1-based
    drums: dict[int, str]  # GM key -> 16 steps: x hit, g ghost (soft), . rest
    crash: bool
    bass: tuple[int, str]  # (GM program, 16 steps of r root / f fifth / o octave / . rest) or "walk"
    bass_gate: float
    other: tuple[tuple[int, str], ...]  # (GM program, style) for the two "other" parts


GENRES = {
    "pop": Genre((96, 124), False, 1, {KICK: "x.......x.x.....", SNARE: "....x.......x...",
                                       HAT: "x.x.x.x.x.x.x.x."}, True, (34, "r.r.r.r.r.r.r.r."), 0.8,
                 ((1, "block"), (49, "pad"))),
    "rock": Genre((110, 140), False, 17, {KICK: "x.....x.x.......", SNARE: "....x.......x...",
                                          HAT: "x.x.x.x.x.x.x.x."}, True, (35, "r.r.r.r.r.r.r.r."), 0.9,
                  ((30, "power"), (17, "pad"))),
    "funk": Genre((92, 110), False, 1, {KICK: "x..x...x..x.....", SNARE: "....x..g.g..x..g",
                                        HAT: "xxxxxxxxxxxxxxxx"}, False, (37, "r..o..r.f.r..o.r"), 0.45,
                  ((28, "stabs"), (5, "comp"))),
    "jazz": Genre((120, 168), True, 33, {RIDE: "x...x.x.x...x.x.", PEDAL: "....x.......x...",
                                         KICK: "g...g...g...g..."}, False, (33, "walk"), 0.9,
                  ((1, "comp"), (27, "block"))),
    "electronic": Genre((120, 128), False, 25, {KICK: "x...x...x...x...", CLAP: "....x.......x...",
                                                OPEN: "..x...x...x...x.", HAT: "x.x.x.x.x.x.x.x."}, True,
                        (39, "..r...r...r...r."), 0.6, ((91, "pad"), (81, "arp"))),
    "reggae": Genre((70, 88), False, 1, {KICK: "........x.......", STICK: "........x.......",
                                         HAT: "x.x.x.x.x.x.x.x."}, False, (34, "r...r.f.....r..."), 0.9,
                    ((28, "skank"), (17, "skank"))),
    "ballad": Genre((64, 80), False, 41, {KICK: "x.......x.......", SNARE: "....x.......x...",
                                          HAT: "x...x...x...x..."}, True, (36, "r.......f......."), 0.95,
                    ((1, "arp"), (49, "pad"))),
}
STEPS = 16  # sixteenth notes per 4/4 bar


def _step_beat(step: int, swing: bool) -> float:
    """Beat position of a sixteenth step in the bar; swung offbeat eighths fall at 2/3 of the beat."""
    beat = step / 4
    return beat + (1 / 6 if swing and step % 4 == 2 else 0.0)


def band_score(rng: np.random.Generator, genre: str, seconds: float) -> Score:
    """A band arrangement of `seconds` in `genre`: parts drums, bass, other_1, other_2."""
    if genre not in GENRES:
        raise KeyError(f"unknown genre {genre!r} (known: {', '.join(GENRES)})")
    g = GENRES[genre]
    mode = "minor" if rng.random() < 0.4 else "major"
    score = Score(int(rng.integers(0, 12)), mode, float(round(rng.uniform(*g.tempo), 1)), 4, [])
    n_bars = int(np.ceil(score.beats(seconds) / 4)) + 1
    chords = progression(rng, mode, n_bars)
    plan = phrases(rng, n_bars)
    level = {bar: int(rng.choice([-12, -4, 0, 6])) for bar0, bars in plan for bar in range(bar0, bar0 + bars)}
    starts = {bar0 for bar0, _ in plan}
    jitter = lambda: float(rng.uniform(-0.004, 0.004)) * score.tempo / 60  # noqa: E731  (seconds -> beats)

    drums = Part("drums", g.kit, channel=9, pan=0.0, stem="drums")
    for bar in range(n_bars):
        if g.crash and bar in starts and bar > 0:
            drums.notes.append(Note(bar * 4, 1.0, CRASH, int(np.clip(100 + level[bar], 1, 127))))
        for key, steps in g.drums.items():
            for s, c in enumerate(steps):
                if c == ".":
                    continue
                base = 45 if c == "g" else (100 if s % 4 == 0 else 84)
                t = max(0.0, bar * 4 + _step_beat(s, g.swing) + jitter())
                drums.notes.append(Note(t, 0.25, key, int(np.clip(base + level[bar] + rng.integers(-6, 7), 1, 127))))
    score.parts.append(drums)

    program, pattern = g.bass
    bass = Part("bass", program, channel=0, pan=0.0, stem="bass")
    bass.notes = (_walk(rng, score, chords, level) if pattern == "walk"
                  else _bass_pattern(rng, score, chords, level, pattern, g, jitter))
    score.parts.append(bass)

    pans = rng.permutation([-0.45, 0.45])
    for k, (program, style) in enumerate(g.other):
        part = Part(f"other_{k + 1}", program, channel=0, pan=float(pans[k]), stem="other")
        part.notes = _comp(rng, score, chords, level, style, g.swing, jitter)
        part.expression = [(0.0, 110 if style in ("pad", "block") and k == 1 else 120)]
        score.parts.append(part)
    return score


def _bass_pattern(rng, score: Score, chords, level, pattern: str, g: Genre, jitter) -> list[Note]:
    lo, hi = 28, 55  # E1..G3
    notes = []
    for bar, degree in enumerate(chords):
        root, _, fifth = chord_pitch_classes(score, degree)
        r = nearest([p for p in range(lo, hi - 12) if p % 12 == root], 38)
        choice = {"r": r, "o": r + 12, "f": nearest([p for p in range(lo, hi + 1) if p % 12 == fifth], r + 6)}
        hits = [s for s, c in enumerate(pattern) if c != "."] + [STEPS]
        for s, nxt in zip(hits, hits[1:]):
            length = (nxt - s) / 4 * g.bass_gate
            t = max(0.0, bar * 4 + _step_beat(s, g.swing) + jitter())
            notes.append(Note(t, length, choice[pattern[s]], int(np.clip(92 + level[bar] + rng.integers(-5, 6), 1, 127))))
    return notes


def _walk(rng, score: Score, chords, level) -> list[Note]:
    """A walking line: the root on beat 1, chord and scale tones after, a chromatic approach
    from a semitone away to the next bar's root on beat 4."""
    lo, hi = 28, 55
    scale = scale_pitches(score, lo, hi)
    notes, prev = [], 40.0
    for bar, degree in enumerate(chords):
        tones = chord_pitch_classes(score, degree, 4)
        r = nearest([p for p in range(lo, hi + 1) if p % 12 == tones[0]], prev)
        nxt_root = chord_pitch_classes(score, chords[(bar + 1) % len(chords)])[0]
        target = nearest([p for p in range(lo, hi + 1) if p % 12 == nxt_root], r)
        line = [r, nearest([p for p in range(lo, hi + 1) if p % 12 in tones[1:]], r + 4),
                nearest(scale, r + int(rng.choice([5, 7, -3]))), target + int(rng.choice([-1, 1]))]
        for beat, p in enumerate(line):
            notes.append(Note(bar * 4 + beat, 0.9, int(np.clip(p, lo, hi)), int(np.clip(88 + level[bar] + rng.integers(-6, 7), 1, 127))))
        prev = r
    return notes


def _voicing(score: Score, degree: int, lo: int, hi: int, size: int = 3) -> list[int]:
    pcs = chord_pitch_classes(score, degree, size)
    return [nearest([p for p in range(lo, hi + 1) if p % 12 == pc], (lo + hi) / 2 + 3 * k) for k, pc in enumerate(pcs)]


def _comp(rng, score: Score, chords, level, style: str, swing: bool, jitter) -> list[Note]:
    notes = []

    def add(t, length, pitches, velocity):
        for p in pitches:
            notes.append(Note(max(0.0, t + jitter()), length, int(p), int(np.clip(velocity, 1, 127))))

    for bar, degree in enumerate(chords):
        v = 78 + level[bar]
        t0 = bar * 4
        if style == "pad":  # the chord held across the bar
            add(t0, 3.95, _voicing(score, degree, 55, 76), v - 10)
        elif style == "block":  # chords on the beats
            for beat in range(4):
                add(t0 + beat, 0.85, _voicing(score, degree, 55, 74), v + (6 if beat == 0 else 0))
        elif style == "power":  # root, fifth and octave in eighths
            root = nearest([p for p in range(40, 53) if p % 12 == chord_pitch_classes(score, degree)[0]], 46)
            for e in range(8):
                add(t0 + e / 2, 0.45, (root, root + 7, root + 12), v + (8 if e % 2 == 0 else 0))
        elif style == "stabs":  # short syncopated chords on sixteenths
            for s, c in enumerate("x..x..x...x.x..."):
                if c == "x":
                    add(t0 + s / 4, 0.12, _voicing(score, degree, 60, 79), v + rng.integers(-6, 7))
        elif style == "skank":  # offbeat chords
            for beat in range(4):
                add(t0 + beat + 0.5, 0.2, _voicing(score, degree, 58, 77), v)
        elif style == "comp":  # seventh chords at a few syncopated places
            for s in sorted(rng.choice([0, 3, 6, 8, 10, 14], size=3, replace=False)):
                add(t0 + _step_beat(int(s), swing), 0.6, _voicing(score, degree, 52, 72, 4), v - 4)
        elif style == "arp":  # broken chord in eighths
            pitches = _voicing(score, degree, 57, 81)
            pitches = pitches + [pitches[1] + 12 if pitches[1] + 12 <= 84 else pitches[1]]
            for e in range(8):
                add(t0 + _step_beat(2 * e, swing), 0.5, (pitches[e % len(pitches)],), v - 2 + (6 if e == 0 else 0))
        else:
            raise KeyError(f"unknown comping style {style!r}")
    return notes
