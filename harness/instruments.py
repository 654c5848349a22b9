"""The CAD2 task 2 instrument vocabulary: the eight instruments of the official metadata
(``music.<split>.json`` names tracks ``<Instrument>_<voice>``) and their families, which the
leaderboard breaks scores down by. Used for official and demo data alike."""

from __future__ import annotations

INSTRUMENTS = ("Bassoon", "Cello", "Clarinet", "Flute", "Oboe", "Sax", "Viola", "Violin")
STRINGS = ("Cello", "Viola", "Violin")
WINDS = ("Bassoon", "Clarinet", "Flute", "Oboe", "Sax")


def family(instrument: str) -> str:
    """``"strings"`` or ``"winds"``."""
    return "strings" if instrument in STRINGS else "winds"
