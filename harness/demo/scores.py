"""Seeded multi-part scores for the demo sets, and one part of a score as a MIDI file.

A ``Score`` has a key (tonic pitch class 0..11 and mode), a tempo (quarter notes per minute), a
meter (beats per bar) and ``Part``s; a part is one General MIDI program on one channel (9 =
percussion) with a pan position (-1 left .. +1 right), its notes (times in beats) and
expression (MIDI CC 11, 0..127) changes. ``part_midi(score, part, seconds)`` is that part
*alone* as a Standard MIDI File, so every part renders to its own stem.

``ensemble_score`` writes the classical ensembles of the CAD2 task 2 demo: a chord progression
in the key, phrases of 2 or 4 bars that end on a held chord tone and a breath, a dynamic
(p..f) and a hairpin per phrase (velocities and CC 11 ramps), an articulation per phrase
(legato, tenuto or staccato: the sounding fraction of each note), and one role per voice by
register: the highest instrument has the melody, the lowest the bass line, the others
sustained inner harmony (a second voice of one instrument harmonises a third or sixth below).
Each instrument plays inside its own written range (``REGISTERS``, MIDI note numbers), the
bass role in its lower part and the melody in its upper part.

General MIDI programs are 1-based as the GM 1 sound set lists them (violin 41, viola 42,
cello 43, soprano to baritone sax 65..68, oboe 69, bassoon 71, clarinet 72, flute 74); the
MIDI program change carries program - 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.demo.midi import PPQ, smf_bytes

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor: the raised seventh makes V major
# progressions as scale degrees (0 = tonic) of the chord roots, one chord per bar
PROGRESSIONS = {
    "major": ((0, 3, 4, 0), (0, 5, 3, 4), (0, 1, 4, 0), (0, 4, 5, 3), (0, 3, 1, 4)),
    "minor": ((0, 3, 4, 0), (0, 5, 3, 4), (0, 3, 6, 2), (0, 1, 4, 0)),
}
DYNAMICS = {"p": 48, "mp": 62, "mf": 78, "f": 96}  # note-on velocities
ARTICULATIONS = {"legato": 0.98, "tenuto": 0.85, "staccato": 0.4}  # sounding fraction of a note

# CAD2 instrument -> (GM program, lowest, highest MIDI note it plays here)
REGISTERS = {
    "Violin": (41, 55, 88),    # G3..E6
    "Viola": (42, 48, 79),     # C3..G5
    "Cello": (43, 36, 67),     # C2..G4
    "Flute": (74, 60, 93),     # C4..A6
    "Oboe": (69, 58, 86),      # Bb3..D6
    "Clarinet": (72, 50, 84),  # D3..C6
    "Bassoon": (71, 34, 65),   # Bb1..F4
}
SAXOPHONES = {65: (56, 87), 66: (49, 80), 67: (44, 75), 68: (36, 68)}  # soprano, alto, tenor, baritone


@dataclass(frozen=True)
class Note:
    start: float  # beats
    length: float  # beats, as sounded
    pitch: int  # MIDI note number
    velocity: int  # 1..127


@dataclass
class Part:
    name: str
    program: int  # General MIDI, 1-based (on the percussion channel: the GS drum set, 1 = standard)
    channel: int = 0  # 0..15; 9 is GM percussion
    pan: float = 0.0  # -1 left .. +1 right
    notes: list[Note] = field(default_factory=list)
    expression: list[tuple[float, int]] = field(default_factory=list)  # (beat, CC 11 value)
    stem: str = ""  # the stem the part belongs to, where parts are grouped (e.g. "drums")


@dataclass
class Score:
    tonic: int  # pitch class 0..11 (0 = C)
    mode: str  # "major" | "minor"
    tempo: float  # quarter notes per minute
    beats_per_bar: int
    parts: list[Part]

    def beats(self, seconds: float) -> float:
        return seconds * self.tempo / 60.0

    def scale(self) -> tuple[int, ...]:
        return MAJOR if self.mode == "major" else MINOR


def part_midi(score: Score, part: Part, seconds: float) -> bytes:
    """`part` alone as a format-0 MIDI file: program, pan, expression, notes up to `seconds`."""
    ch = part.channel
    end = score.beats(seconds)
    tick = lambda beat: int(round(beat * PPQ))  # noqa: E731
    events = [(0, 0xB0 | ch, 7, 100), (0, 0xB0 | ch, 10, int(round(64 + 63 * np.clip(part.pan, -1, 1)))),
              (0, 0xC0 | ch, part.program - 1, 0)]  # on channel 9 the program picks the drum kit
    events += [(tick(b), 0xB0 | ch, 11, int(v)) for b, v in part.expression if b < end]
    for n in part.notes:
        if n.start >= end:
            continue
        on, off = tick(n.start), tick(min(n.start + n.length, end))
        if off > on:
            events += [(on, 0x90 | ch, n.pitch, n.velocity), (off, 0x80 | ch, n.pitch, 0)]
    return smf_bytes(events, score.tempo, tick(end))


# -- harmony helpers ------------------------------------------------------------------------

def chord_pitch_classes(score: Score, degree: int, size: int = 3) -> list[int]:
    """Pitch classes of the triad (or seventh chord, `size` 4) on scale `degree`."""
    scale = score.scale()
    return [(score.tonic + scale[(degree + 2 * k) % 7]) % 12 for k in range(size)]


def scale_pitches(score: Score, low: int, high: int) -> list[int]:
    """The key's scale notes between MIDI notes `low` and `high` inclusive."""
    pcs = {(score.tonic + s) % 12 for s in score.scale()}
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def nearest(pitches: list[int], target: float) -> int:
    return min(pitches, key=lambda p: (abs(p - target), p))


def progression(rng: np.random.Generator, mode: str, n_bars: int) -> list[int]:
    """One chord degree per bar: a progression of the mode, repeated."""
    options = PROGRESSIONS[mode]
    prog = options[int(rng.integers(0, len(options)))]
    return [prog[b % len(prog)] for b in range(n_bars)]


def phrases(rng: np.random.Generator, n_bars: int) -> list[tuple[int, int]]:
    """(first bar, bars) of consecutive phrases of 2 or 4 bars covering `n_bars`."""
    out, bar = [], 0
    while bar < n_bars:
        length = int(rng.choice([2, 4, 4]))
        out.append((bar, length))
        bar += length
    return out


# -- the classical ensembles of CAD2 task 2 --------------------------------------------------

RHYTHMS = {  # note lengths in beats filling one bar
    4: ((1, 1, 1, 1), (2, 1, 1), (1.5, 0.5, 1, 1), (0.5, 0.5, 1, 2), (1, 0.5, 0.5, 2), (2, 2), (3, 1)),
    3: ((1, 1, 1), (2, 1), (1.5, 0.5, 1), (0.5, 0.5, 1, 1), (3,)),
}


def register(instrument: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """(GM program, lowest, highest note) of a CAD2 instrument; "Sax" draws one of the four."""
    if instrument == "Sax":
        program = int(rng.choice(list(SAXOPHONES)))
        return (program, *SAXOPHONES[program])
    if instrument not in REGISTERS:
        raise KeyError(f"no register for instrument {instrument!r}")
    return REGISTERS[instrument]


def _phrase_shapes(rng: np.random.Generator, plan: list[tuple[int, int]]):
    """Per phrase: (velocity, hairpin start and end CC 11, articulation gate)."""
    shapes = []
    for _ in plan:
        velocity = DYNAMICS[str(rng.choice(list(DYNAMICS)))]
        hairpin = str(rng.choice(["cresc", "dim", "arch", "flat"]))
        a, b = {"cresc": (80, 120), "dim": (120, 80), "arch": (90, 90), "flat": (105, 105)}[hairpin]
        gate = ARTICULATIONS[str(rng.choice(list(ARTICULATIONS), p=[0.5, 0.3, 0.2]))]
        shapes.append((velocity, a, b, hairpin == "arch", gate))
    return shapes


def _expression(plan, shapes, bpb: int) -> list[tuple[float, int]]:
    """CC 11 ramps, four steps a beat, following each phrase's hairpin."""
    out = []
    for (bar, bars), (_, a, b, arch, _) in zip(plan, shapes):
        span = bars * bpb
        for k in range(int(span * 4)):
            x = k / (span * 4)
            value = a + (b - a) * x + (30 * np.sin(np.pi * x) if arch else 0)
            out.append((bar * bpb + k / 4, int(np.clip(round(value), 0, 127))))
    return out


def ensemble_score(rng: np.random.Generator, instruments: list[str], seconds: float) -> Score:
    """A classical ensemble piece of `seconds` for `instruments` (CAD2 names; a name twice is
    two voices of it). Parts are named ``<Instrument>_<voice>`` in the order given."""
    mode = "major" if rng.random() < 0.6 else "minor"
    bpb = int(rng.choice([3, 4, 4]))
    score = Score(int(rng.integers(0, 12)), mode, float(round(rng.uniform(66, 120), 1)), bpb, [])
    n_bars = int(np.ceil(score.beats(seconds) / bpb)) + 1
    chords = progression(rng, mode, n_bars)
    plan = phrases(rng, n_bars)
    shapes = _phrase_shapes(rng, plan)
    expression = _expression(plan, shapes, bpb)
    regs = [register(i, rng) for i in instruments]
    centre = [(lo + hi) / 2 for _, lo, hi in regs]
    order = sorted(range(len(instruments)), key=lambda i: (centre[i], i))
    melody_idx, bass_idx = order[-1], order[0]
    pans = np.linspace(-0.7, 0.7, len(instruments)) + rng.uniform(-0.15, 0.15, len(instruments))
    pan_order = rng.permutation(len(instruments))
    parts: list[Part | None] = [None] * len(instruments)
    melody_notes: list[Note] = []
    for i in [melody_idx] + [j for j in range(len(instruments)) if j != melody_idx]:
        program, lo, hi = regs[i]
        if i == melody_idx:
            notes = melody_notes = _melody(rng, score, chords, plan, shapes, lo + (hi - lo) // 3, hi)
        elif i == bass_idx:
            notes = _bass(rng, score, chords, plan, shapes, lo, lo + 2 * (hi - lo) // 3)
        elif instruments[i] == instruments[melody_idx]:
            notes = _harmonise(score, melody_notes, lo, hi)
        else:
            notes = _inner(rng, score, chords, plan, shapes, lo + (hi - lo) // 4, lo + 3 * (hi - lo) // 4)
        parts[i] = Part("", program, pan=float(pans[pan_order[i]]), notes=notes, expression=expression)
    voices: dict[str, int] = {}
    for part, inst in zip(parts, instruments):
        voices[inst] = voices.get(inst, 0) + 1
        part.name = f"{inst}_{voices[inst]}"
        score.parts.append(part)
    return score


def _velocity(rng, shape, beat_in_bar: float) -> int:
    accent = 6 if beat_in_bar == 0 else 0
    return int(np.clip(shape[0] + accent + rng.integers(-4, 5), 1, 127))


def _melody(rng, score: Score, chords, plan, shapes, lo: int, hi: int) -> list[Note]:
    pitches = scale_pitches(score, lo, hi)
    idx = int(rng.integers(len(pitches) // 4, max(len(pitches) // 4 + 1, 3 * len(pitches) // 4)))
    notes = []
    bpb = score.beats_per_bar
    for (bar0, bars), shape in zip(plan, shapes):
        for bar in range(bar0, bar0 + bars):
            chord = chord_pitch_classes(score, chords[bar % len(chords)])
            last = bar == bar0 + bars - 1
            rhythm = (bpb - 0.5, 0.5) if last else RHYTHMS[bpb][int(rng.integers(0, len(RHYTHMS[bpb])))]
            t = 0.0
            for k, length in enumerate(rhythm):
                if last and k == len(rhythm) - 1:
                    break  # the breath at the end of the phrase
                step = int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
                idx = int(np.clip(idx + step, 0, len(pitches) - 1))
                if t == 0 or last:  # chord tones on the downbeat and at the cadence
                    tones = [j for j, p in enumerate(pitches) if p % 12 in chord]
                    idx = min(tones, key=lambda j: (abs(j - idx), j))
                notes.append(Note(bar * bpb + t, length * shape[4], pitches[idx], _velocity(rng, shape, t)))
                t += length
    return notes


def _bass(rng, score: Score, chords, plan, shapes, lo: int, hi: int) -> list[Note]:
    notes, prev = [], (lo + hi) / 2
    bpb = score.beats_per_bar
    scale = scale_pitches(score, lo, hi)
    for (bar0, bars), shape in zip(plan, shapes):
        for bar in range(bar0, bar0 + bars):
            root, _, fifth = chord_pitch_classes(score, chords[bar % len(chords)])
            roots = [p for p in range(lo, hi + 1) if p % 12 == root]
            r = nearest(roots, prev)
            style = int(rng.integers(0, 3))
            if style == 0 or bar == bar0 + bars - 1:  # one long note
                notes.append(Note(bar * bpb, bpb * shape[4], r, _velocity(rng, shape, 0)))
            elif style == 1:  # root then fifth
                f = nearest([p for p in range(lo, hi + 1) if p % 12 == fifth], r + 4)
                half = bpb / 2 if bpb == 4 else 2
                notes.append(Note(bar * bpb, half * shape[4], r, _velocity(rng, shape, 0)))
                notes.append(Note(bar * bpb + half, (bpb - half) * shape[4], f, _velocity(rng, shape, half)))
            else:  # walking on the beats
                p = r
                for beat in range(bpb):
                    notes.append(Note(bar * bpb + beat, shape[4], p, _velocity(rng, shape, beat)))
                    p = nearest(scale, p + int(rng.choice([-2, 2, 3])))
            prev = r
    return notes


def _inner(rng, score: Score, chords, plan, shapes, lo: int, hi: int) -> list[Note]:
    notes, prev = [], (lo + hi) / 2
    bpb = score.beats_per_bar
    for (bar0, bars), shape in zip(plan, shapes):
        figure = int(rng.integers(0, 3))
        for bar in range(bar0, bar0 + bars):
            chord = chord_pitch_classes(score, chords[bar % len(chords)])
            tones = [p for p in range(lo, hi + 1) if p % 12 in chord]
            p = nearest(tones, prev)  # voice leading: the closest chord tone
            if figure == 0 or bar == bar0 + bars - 1:
                notes.append(Note(bar * bpb, bpb * 0.98, p, _velocity(rng, shape, 0)))
            elif figure == 1:
                for beat in range(bpb):
                    notes.append(Note(bar * bpb + beat, shape[4], p, _velocity(rng, shape, beat)))
            else:  # broken chord in eighths
                up = [q for q in tones if q >= p][:3] or [p]
                for k in range(2 * bpb):
                    notes.append(Note(bar * bpb + k / 2, 0.5 * shape[4], up[k % len(up)], _velocity(rng, shape, k / 2)))
            prev = p
    return notes


def _harmonise(score: Score, melody: list[Note], lo: int, hi: int) -> list[Note]:
    """A second voice of the melody's instrument: a diatonic third below (moved by octaves into
    the range, so a sixth above where a third below leaves it), same rhythm, slightly softer."""
    pitches = scale_pitches(score, lo - 24, hi + 24)
    out = []
    for n in melody:
        below = [p for p in pitches if p < n.pitch]
        p = below[-2] if len(below) >= 2 else n.pitch
        while p < lo:
            p += 12
        while p > hi:
            p -= 12
        out.append(Note(n.start, n.length, p, max(1, n.velocity - 8)))
    return out
