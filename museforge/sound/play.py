"""A learned instrument: one timbre of a sound model, played at any pitch.

An :class:`Instrument` is a sound model with a fixed latent and class; it draws each pitch
once and keeps it. :func:`midi_notes` reads the notes of a MIDI file (mido; the drum
channel is left out), and :func:`perform` lays the instrument's notes at their times:
each note is cut at its release with a short fade (or left to ring to the end of the
drawn clip when it is held longer) and scaled by its velocity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np
import torch

from museforge.core.instruments import NoteEvent
from museforge.errors import InputError

DRUMS = 9  # General MIDI's percussion channel
MAX_MIDI_BYTES = 5_000_000
MAX_NOTES = 20_000
MAX_SECONDS = 600.0
FADE_SECONDS = 0.06
PEAK = 0.9


def midi_notes(path: str | Path) -> list[NoteEvent]:
    """The notes of the MIDI file at ``path`` (every channel but the drums), in time
    order; a one-line InputError naming the file when it is not a usable MIDI file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as err:
        raise InputError(f"MIDI file '{path}' cannot be read ({err.strerror})") from None
    if size > MAX_MIDI_BYTES:
        raise InputError(
            f"MIDI file '{path}' is too large ({size:,} bytes, limit {MAX_MIDI_BYTES:,})"
        )
    try:
        midi = mido.MidiFile(str(path))
        messages = list(midi)  # merged tracks, times in seconds (tempo applied)
    except (OSError, ValueError, EOFError, KeyError, IndexError) as err:
        why = " ".join(str(err).split())[:120] or type(err).__name__
        raise InputError(f"MIDI file '{path}' cannot be read ({why})") from None
    now, sounding, notes = 0.0, {}, []
    for msg in messages:
        now += msg.time
        if now > MAX_SECONDS:
            raise InputError(f"MIDI file '{path}' is longer than {MAX_SECONDS:g} s")
        if msg.type not in ("note_on", "note_off") or msg.channel == DRUMS:
            continue
        key = (msg.channel, msg.note)
        if msg.type == "note_on" and msg.velocity > 0:
            if key in sounding:  # the same key again: the first ends here
                start, velocity = sounding.pop(key)
                notes.append(NoteEvent(start, now, msg.note, velocity))
            sounding[key] = (now, msg.velocity)
        elif key in sounding:
            start, velocity = sounding.pop(key)
            notes.append(NoteEvent(start, now, msg.note, velocity))
        if len(notes) > MAX_NOTES:
            raise InputError(f"MIDI file '{path}' has more than {MAX_NOTES:,} notes")
    notes += [NoteEvent(s, now, key[1], v) for key, (s, v) in sounding.items()]
    notes = [n for n in notes if n.end > n.start]
    if not notes:
        raise InputError(f"MIDI file '{path}' has no notes to play (drums are left out)")
    return sorted(notes, key=lambda n: (n.start, n.pitch))


@dataclass
class Instrument:
    """A sound model at one latent ``z`` and class ``label``: its note at any pitch."""

    model: torch.nn.Module
    z: torch.Tensor
    label: int
    griffin_lim: int = 0
    _notes: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def rate(self) -> int:
        return self.model.spectral.rate

    def prepare(self, pitches: list[int]) -> None:
        """Draw every pitch not drawn yet, in one batch."""
        todo = sorted({int(p) for p in pitches} - set(self._notes))
        if not todo:
            return
        n = len(todo)
        with torch.inference_mode():
            waves = (
                self.model.eval()
                .render(
                    self.z.expand(n, -1),
                    torch.full((n,), self.label, dtype=torch.long),
                    torch.tensor(todo, dtype=torch.long),
                    self.griffin_lim,
                )
                .numpy()
            )
        self._notes.update(zip(todo, waves, strict=True))

    def note(self, pitch: int) -> np.ndarray:
        """The instrument's note at MIDI ``pitch`` (as drawn: the model's clip length)."""
        self.prepare([pitch])
        return self._notes[int(pitch)]


def perform(instrument: Instrument, notes: list[NoteEvent]) -> np.ndarray:
    """The notes played on ``instrument``: mono samples, peak at most :data:`PEAK`."""
    rate = instrument.rate
    instrument.prepare([n.pitch for n in notes])
    clip = len(instrument.note(notes[0].pitch))
    total = int(max(n.end for n in notes) * rate) + clip
    out = np.zeros(total, dtype=np.float32)
    fade = max(1, int(FADE_SECONDS * rate))
    for n in notes:
        wave = instrument.note(n.pitch).copy()
        held = int((n.end - n.start) * rate)
        if held < len(wave):  # released before the drawn note ends: fade out there
            stop = min(len(wave), held + fade)
            wave[held:stop] *= np.linspace(1, 0, stop - held, dtype=np.float32)
            wave[stop:] = 0
        start = int(n.start * rate)
        out[start : start + len(wave)] += wave * (n.velocity / 100)
    loud = np.flatnonzero(np.abs(out) > 1e-4)
    out = out[: loud[-1] + 1] if loud.size else out
    peak = float(np.abs(out).max()) if out.size else 0.0
    return out * (PEAK / peak) if peak > PEAK else out
