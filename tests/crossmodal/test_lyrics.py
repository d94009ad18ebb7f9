"""Lyrics timed to music: LRC files, plain text spread evenly, a MIDI file's own words."""

from __future__ import annotations

import mido
import pytest

from museforge.crossmodal.lyrics import Cue, read_lyrics, timed
from museforge.errors import InputError


def test_an_lrc_file_times_each_line(tmp_path):
    lrc = tmp_path / "song.lrc"
    lrc.write_text(
        "[ar:Someone]\n[ti:A song]\n\n[00:01.50]red sun rising\n"
        "[00:12.00][00:04]blue sea\n[00:07.25] green hills\n",
        encoding="utf-8",
    )
    cues = read_lyrics(lrc)
    assert cues == [
        Cue(1.5, "red sun rising"),
        Cue(4.0, "blue sea"),
        Cue(7.25, "green hills"),
        Cue(12.0, "blue sea"),  # a line sung twice carries both times
    ]
    assert timed(cues, 60.0) == cues


def test_plain_text_is_spread_evenly(tmp_path):
    text = tmp_path / "words.txt"
    text.write_text("a cat\n\n  a   dog \na bird\n", encoding="utf-8")
    cues = read_lyrics(text)
    assert [c.text for c in cues] == ["a cat", "a dog", "a bird"]
    assert all(c.time is None for c in cues)
    assert [c.time for c in timed(cues, 9.0)] == [0.0, 3.0, 6.0]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("", "hold no words"),
        ("[00:01]one\nuntimed after\n", "line 2: no \\[mm:ss\\] time"),
    ],
)
def test_unusable_lyrics_are_refused_naming_the_file(tmp_path, body, words):
    path = tmp_path / "bad.lrc"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=words) as err:
        read_lyrics(path)
    assert "bad.lrc" in str(err.value)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_lyrics(latin)


def _midi_with(path, events: list[tuple[str, str]], ticks: int = 480):
    """A MIDI file at 120 bpm: each (type, text) event a beat (0.5 s) after the last."""
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    for i, (kind, text) in enumerate(events):
        track.append(mido.MetaMessage(kind, text=text, time=0 if i == 0 else ticks))
    midi.save(str(path))
    return path


def test_a_midi_files_lyric_events_become_timed_lines(tmp_path):
    events = [("lyrics", s) for s in ("Twin", "kle ", "twin", "kle\r", "lit", "tle ", "star")]
    cues = read_lyrics(_midi_with(tmp_path / "song.mid", events))
    assert cues == [Cue(0.0, "Twinkle twinkle"), Cue(2.0, "little star")]


def test_a_karaoke_files_text_events_break_lines_at_slashes(tmp_path):
    events = [("text", "@TTitle"), ("text", "\\Row "), ("text", "row"), ("text", "/your boat")]
    cues = read_lyrics(_midi_with(tmp_path / "song.mid", events))
    assert cues == [Cue(0.5, "Row row"), Cue(1.5, "your boat")]
    with pytest.raises(InputError, match="has no lyrics"):
        read_lyrics(_midi_with(tmp_path / "none.mid", [("marker", "verse")]))
