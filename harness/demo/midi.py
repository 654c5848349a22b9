"""A minimal Standard MIDI File writer (format 0, one track) for the demo scores.

Events are ``(tick, status, data1, data2)`` tuples of channel messages (note on 0x9n, note
off 0x8n, control change 0xBn, program change 0xCn; n = channel 0..15, 9 = GM percussion),
written in tick order with note-offs before note-ons at the same tick, after a tempo meta
event. The layout follows the MIDI 1.0 Standard MIDI Files specification (MIDI Manufacturers
Association, 1996): header ``MThd`` (length 6, format, tracks, division), one ``MTrk`` chunk,
delta times as variable-length quantities, ending with the end-of-track meta event.
"""

from __future__ import annotations

import struct

PPQ = 480  # ticks per quarter note


def _varlen(value: int) -> bytes:
    """A variable-length quantity: 7 bits per byte, most significant first, high bit = more."""
    if value < 0:
        raise ValueError(f"negative MIDI delta time {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _order(event: tuple[int, int, int, int]) -> tuple[int, int]:
    tick, status, _, data2 = event
    kind = status & 0xF0
    # at one tick: programs and controllers first, then note-offs, then note-ons
    rank = {0xC0: 0, 0xB0: 1, 0x80: 2}.get(kind, 3 if kind == 0x90 and data2 else 2)
    return tick, rank


def smf_bytes(events: list[tuple[int, int, int, int]], tempo_bpm: float, end_tick: int) -> bytes:
    """The bytes of a format-0 MIDI file holding `events` at `tempo_bpm`, ending at `end_tick`."""
    track = bytearray()
    usec = int(round(60_000_000 / tempo_bpm))
    track += b"\x00\xff\x51\x03" + usec.to_bytes(3, "big")
    now = 0
    for tick, status, d1, d2 in sorted(events, key=_order):
        if not (0 <= d1 < 128 and 0 <= d2 < 128 and 0x80 <= status <= 0xEF):
            raise ValueError(f"bad MIDI event {(tick, status, d1, d2)}")
        track += _varlen(tick - now)
        track += bytes([status, d1]) if status & 0xF0 == 0xC0 else bytes([status, d1, d2])
        now = tick
    track += _varlen(max(0, end_tick - now)) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, PPQ)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)
