"""A learned note held longer than it was drawn is sustained as a sampler does: a loop of
whole periods, crossfaded at each seam, then the note's own release."""

from __future__ import annotations

import numpy as np
import pytest

from museforge.sound.play import loop_points, sustain
from museforge.sound.verbs_play import sfz_text

RATE = 16000


def _note(pitch: int = 57, seconds: float = 1.0) -> np.ndarray:
    """A drawn-like note: a quick attack, a steady tone with a few partials, the key let go
    at ¾ of the clip and a fast decay after it."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    tone = sum(np.sin(2 * np.pi * k * f0 * t + k) / k for k in (1, 2, 3))
    envelope = np.minimum(1.0, t / 0.02)
    release = int(0.75 * n)
    envelope[release:] *= np.exp(-np.arange(n - release) / (0.05 * RATE))
    return (0.4 * tone * envelope).astype(np.float32)


@pytest.mark.parametrize("pitch", [36, 57, 60, 83])
def test_the_loop_is_whole_periods_inside_the_steady_part(pitch):
    start, end = loop_points(RATE, pitch, RATE)
    period = RATE / (440.0 * 2 ** ((pitch - 69) / 12))
    assert 0.3 * RATE <= start < end <= 0.65 * RATE
    assert abs((end - start) / period - round((end - start) / period)) * period <= 0.5


def test_a_held_note_sounds_as_long_as_it_is_held_without_clicks_or_dips():
    note = _note()
    held = int(3.2 * RATE)
    long = sustain(note, held, 57, RATE)
    key_off = int(0.75 * len(note))  # the drawn note's release starts when the key is let go
    assert len(long) == pytest.approx(held + len(note) - key_off, abs=RATE / 220)
    steady = note[int(0.3 * RATE) : int(0.7 * RATE)]
    # No click: no step between samples larger than the steady tone's own steepest.
    assert np.abs(np.diff(long[: held - RATE // 10])).max() <= 1.05 * np.abs(np.diff(steady)).max()
    # No dip where seams cross: the loudness in every 20 ms stays at the steady level.
    window = RATE // 50
    body = long[int(0.1 * RATE) : held]
    rms = np.sqrt((body[: len(body) // window * window].reshape(-1, window) ** 2).mean(1))
    level = np.sqrt((steady**2).mean())
    assert rms.min() > 0.9 * level and rms.max() < 1.1 * level
    # Then the note's own release: it dies away.
    assert np.abs(long[-RATE // 20 :]).max() < 0.05 * np.abs(steady).max()


def test_the_sfz_loops_each_sample_while_the_key_is_held():
    text = sfz_text(
        "horn",
        [(48, "p048.wav"), (60, "p060.wav")],
        {"model": "m", "timbre": "t"},
        {48: (100, 400)},
    )
    regions = [line for line in text.splitlines() if line.startswith("<region>")]
    assert "loop_mode=loop_sustain loop_start=100 loop_end=399" in regions[0]
    assert "loop" not in regions[1]
