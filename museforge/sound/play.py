"""A learned instrument: one timbre of a sound model, played at any pitch.

An :class:`Instrument` is a sound model with a fixed latent and class; it draws each pitch
once and keeps it. :func:`midi_notes` reads the notes of a MIDI file (mido; the drum
channel is left out), and :func:`perform` lays the instrument's notes at their times:
each note is cut at its release with a short fade, or, when it is held longer than the
drawn clip sustains, sustained as a sampler does: a stretch of whole periods in the middle
of the note (:func:`loop_points`) repeats, crossfaded, until the key is let go, and the
rest of the drawn note (its release) follows. Each note is scaled by its velocity.
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
# The sustain loop: inside this span of the clip (training notes hold the key for ¾ of it),
# a whole number of the pitch's periods, crossfaded over LOOP_FADE_SECONDS at each seam.
LOOP_SPAN = (0.3, 0.65)
HOLD_SHARE = 0.75  # a note held past this share of the drawn clip is sustained
LOOP_FADE_SECONDS = 0.015


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


def loop_points(samples: int, pitch: int, rate: int) -> tuple[int, int]:
    """(start, end) of the sustain loop of a drawn note of ``samples`` at MIDI ``pitch``:
    inside :data:`LOOP_SPAN`, as many whole periods as fit, so each seam meets the wave
    in the same phase (the harmonic decoder's partials are exact multiples of the pitch)."""
    start, most = int(LOOP_SPAN[0] * samples), int(LOOP_SPAN[1] * samples)
    period = rate / (440.0 * 2 ** ((pitch - 69) / 12))
    periods = max(1, int((most - start) / period))
    return start, min(most, start + max(1, round(periods * period)))


def _crossfade(head: np.ndarray, tail: np.ndarray, overlap: int) -> np.ndarray:
    """``head`` then ``tail``, the last ``overlap`` samples of one faded into the first of
    the other (equal gain: the two are the same wave in the same phase, so equal power
    would swell the seam by up to √2)."""
    overlap = min(overlap, len(head), len(tail))
    if overlap == 0:
        return np.concatenate([head, tail])
    t = np.linspace(0, 1, overlap, dtype=np.float32)
    seam = head[-overlap:] * (1 - t) + tail[:overlap] * t
    return np.concatenate([head[:-overlap], seam, tail[overlap:]])


def sustain(wave: np.ndarray, held: int, pitch: int, rate: int) -> np.ndarray:
    """The drawn note ``wave`` held for ``held`` samples: its loop repeated (crossfaded)
    until then, then the note's own release, taken from its key-off (HOLD_SHARE) moved to
    the loop's phase, so the release starts when the key is let go."""
    start, end = loop_points(len(wave), pitch, rate)
    if held <= end:
        return wave
    fade = min(max(1, int(LOOP_FADE_SECONDS * rate)), start, (end - start) // 2)
    length = end - start
    out = wave[:end]
    loop = wave[start - fade : end]
    while len(out) < held:  # each pass adds one loop: out[p] is wave[start + (p - end) % length]
        out = _crossfade(out, loop, fade)
    here = start + (held - end) % length
    period = rate / (440.0 * 2 ** ((pitch - 69) / 12))
    key_off = int(HOLD_SHARE * len(wave))
    release = here + round(round((key_off - here) / period) * period)
    release = min(max(release, fade), len(wave) - 1)
    return _crossfade(out[:held], wave[release - fade :], fade)


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
        if held > HOLD_SHARE * len(wave):  # held past the drawn key-off: sustain it
            wave = sustain(wave, held, n.pitch, rate)
        elif held < len(wave):  # released before the drawn note ends: fade out there
            stop = min(len(wave), held + fade)
            wave[held:stop] *= np.linspace(1, 0, stop - held, dtype=np.float32)
            wave[stop:] = 0
        start = int(n.start * rate)
        out[start : start + len(wave)] += wave * (n.velocity / 100)
    loud = np.flatnonzero(np.abs(out) > 1e-4)
    out = out[: loud[-1] + 1] if loud.size else out
    peak = float(np.abs(out).max()) if out.size else 0.0
    return out * (PEAK / peak) if peak > PEAK else out
