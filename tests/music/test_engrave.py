"""Engraved scores: LilyPond's PDF, PNG and SVG beside a piece, and what happens without it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from music21 import converter, key

from museforge.gallery.provenance import read_png_provenance
from museforge.gallery.store import Gallery, companions
from museforge.music import engrave, render
from museforge.music.score import Key, Note, Piece
from tests.music.test_render import PROVENANCE, duet

needs_lilypond = pytest.mark.skipif(
    engrave.engraving_missing() is not None, reason="LilyPond is not installed"
)


@needs_lilypond
def test_a_piece_gets_an_engraved_score_as_companions(tmp_path, monkeypatch):
    monkeypatch.setenv(engrave.ENGRAVE_ENV, "1")
    folder = tmp_path / "gallery" / "music"
    paths = render.save_piece(folder, "duet-7", duet(), PROVENANCE, wav=False, lyrics=["la"] * 3)
    names = [p.name for p in paths]
    assert names[-3:] == ["duet-7.score.pdf", "duet-7.score.png", "duet-7.score.svg"]
    assert (folder / "duet-7.score.pdf").read_bytes().startswith(b"%PDF")
    svg = ET.parse(folder / "duet-7.score.svg").getroot()
    assert svg.tag.endswith("svg")
    text = (folder / "duet-7.score.svg").read_text()
    assert "duet-7" in text and "flute" in text and "strings" in text  # title, parts
    sheet = read_png_provenance(folder / "duet-7.score.png")
    assert sheet["modality"] == "music" and sheet["renderer"] == "lilypond"
    gallery = Gallery(tmp_path / "gallery")
    try:  # still one artwork, the MIDI, with the engraving among its companions
        assert gallery.reindex() == 1
        found = companions(folder / "duet-7.mid")
        assert {"pdf", "sheet", "svg", "score", "roll"} <= set(found)
    finally:
        gallery.close()


def test_without_lilypond_the_other_files_are_written_and_it_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(engrave.ENGRAVE_ENV, "1")
    monkeypatch.setattr(engrave.shutil, "which", lambda _tool: None)
    told: list[str] = []
    paths = render.save_piece(tmp_path, "duet", duet(), PROVENANCE, wav=False, notify=told.append)
    assert [p.name for p in paths] == ["duet.mid", "duet.png", "duet.musicxml"]
    assert len(told) == 1 and "score not engraved" in told[0] and "apt install lilypond" in told[0]
    assert "\n" not in told[0]


@needs_lilypond
def test_a_failing_engraving_is_one_line_and_keeps_the_piece(tmp_path, monkeypatch):
    monkeypatch.setenv(engrave.ENGRAVE_ENV, "1")
    broken = tmp_path / "broken.musicxml"
    broken.write_text("<score-partwise><part-list>")
    with pytest.raises(engrave.EngraveError) as err:
        engrave.engrave(broken, "broken")
    assert "musicxml2ly failed" in str(err.value) and "\n" not in str(err.value)


def test_engraving_is_off_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv(engrave.ENGRAVE_ENV, "0")
    paths = render.save_piece(tmp_path, "duet", duet(), PROVENANCE, wav=False)
    assert not any(".score." in p.name for p in paths)


def test_notes_are_spelt_for_the_key(tmp_path):
    spell = render.speller(key.Key("B"))
    assert [spell(m).nameWithOctave for m in (63, 66, 70)] == ["D#4", "F#4", "A#4"]
    assert render.speller(key.Key("E-"))(61).nameWithOctave == "D-4"  # flat keys: flats
    assert render.speller(key.Key("c#", "minor"))(72).nameWithOctave == "B#4"  # leading tone
    leading = Piece((Note(75, 0.0, 1.0), Note(76, 1.0, 1.0)), key=Key(4, "minor"))
    written = render.write_musicxml(tmp_path / "d.musicxml", leading)  # E minor: D#, not Eb
    assert [p.name for p in converter.parse(written).pitches] == ["D#", "E"]
