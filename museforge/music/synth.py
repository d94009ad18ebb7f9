"""A small additive synthesizer: the WAV fallback when FluidSynth is not installed.

Each note is a few sine harmonics under an ADSR envelope; the harmonic mix and envelope
follow the part's General MIDI family, so a choir, an organ and a guitar still sound
apart. Pure NumPy, mono, 22.05 kHz, 16-bit.
"""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np

from museforge.music.score import Piece

SYNTH_RATE = 22050

# Timbre per GM family (program // 8): harmonic amplitudes and attack, decay, sustain
# level, release in seconds. Plucked and struck families decay; bowed and blown sustain.
_PLUCKED = ((1.0, 0.5, 0.25, 0.12), 0.005, 0.6, 0.0, 0.15)
_SUSTAINED = ((1.0, 0.35, 0.2, 0.1, 0.05), 0.04, 0.1, 0.8, 0.12)
_TIMBRES = {
    0: ((1.0, 0.45, 0.2, 0.1, 0.05), 0.005, 0.9, 0.15, 0.2),  # piano
    1: ((1.0, 0.1, 0.3, 0.0, 0.1), 0.002, 0.5, 0.0, 0.2),  # chromatic percussion
    2: ((1.0, 0.8, 0.6, 0.4, 0.3, 0.2), 0.01, 0.05, 1.0, 0.05),  # organ
    3: _PLUCKED,  # guitar
    4: ((1.0, 0.3, 0.08), 0.01, 0.4, 0.3, 0.1),  # bass
    5: ((1.0, 0.5, 0.33, 0.25, 0.2, 0.16), 0.08, 0.1, 0.85, 0.2),  # strings
    6: ((1.0, 0.3, 0.12, 0.05), 0.12, 0.1, 0.9, 0.3),  # ensemble, choir
    7: ((1.0, 0.7, 0.5, 0.35, 0.25), 0.03, 0.1, 0.8, 0.1),  # brass
    8: ((1.0, 0.05, 0.4, 0.05, 0.25), 0.03, 0.1, 0.8, 0.08),  # reed: odd harmonics
    9: ((1.0, 0.12, 0.04), 0.04, 0.1, 0.85, 0.1),  # pipe, flute
}


def synthesize(piece: Piece, rate: int = SYNTH_RATE) -> np.ndarray:
    """The piece as mono float32 samples, peak 0.8 (silence for no notes), ``rate`` per second."""
    seconds_per_quarter = 60.0 / piece.tempo
    release_max = max(t[4] for t in _TIMBRES.values())
    total = math.ceil((piece.seconds + release_max) * rate) + 1
    out = np.zeros(total, dtype=np.float64)
    for note in piece.notes:
        program = piece.parts[note.part].program if note.part < len(piece.parts) else 0
        harmonics, attack, decay, sustain, release = _TIMBRES.get(program // 8, _SUSTAINED)
        held = max(note.duration * seconds_per_quarter, 0.01)
        n = int((held + release) * rate)
        t = np.arange(n) / rate
        freq = 440.0 * 2.0 ** ((note.pitch - 69) / 12.0)
        tone = np.zeros(n)
        for k, amp in enumerate(harmonics, start=1):
            if amp and k * freq < rate / 2:  # drop partials above Nyquist (they would alias)
                tone += amp * np.sin(2 * np.pi * k * freq * t)
        # Attack ramp, then exponential fall toward the sustain level, then a linear release.
        env = sustain + (1 - sustain) * np.exp(-np.maximum(t - attack, 0) / decay)
        env = np.minimum(env, t / attack)
        level_at_release = float(np.interp(held, t, env)) if n else 0.0
        after = t >= held
        env[after] = level_at_release * np.maximum(0, 1 - (t[after] - held) / release)
        start = int(note.start * seconds_per_quarter * rate)
        out[start : start + n] += (note.velocity / 127) * env * tone / sum(harmonics)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return (out * (0.8 / peak) if peak > 0 else out).astype(np.float32)


def write_wav(path: Path, frames: np.ndarray, rate: int) -> None:
    """16-bit PCM ``frames`` (samples × channels, or mono samples) as a WAV file."""
    with wave.open(str(path), "wb") as dst:
        dst.setnchannels(1 if frames.ndim == 1 else frames.shape[1])
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(np.ascontiguousarray(frames, dtype="<i2").tobytes())
