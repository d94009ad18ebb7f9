"""Music corpora: real chorales and folk tunes (a handful), folders, files, cache, split."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import pytest

from museforge.core import data
from museforge.errors import DataError, InputError
from museforge.music import corpus, readers, tokens
from museforge.music.corpus import (
    MusicCorpus,
    augment_transpositions,
    corpus_fingerprint,
    load_music,
    read_music_file,
    split_pieces,
)
from museforge.music.score import MAX_PITCH, MIN_PITCH, STEP, Key, Note, Piece

CHORALE_FILES = 4  # the first four corpus files: bwv1.6 (with a horn part) and three chorales


@pytest.fixture(scope="module")
def chorale_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def chorales(chorale_cache) -> MusicCorpus:
    calls = []
    found = load_music(
        "chorales",
        cache_dir=chorale_cache,
        limit=CHORALE_FILES,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (CHORALE_FILES, CHORALE_FILES)
    return found


def test_chorales_have_four_voices_key_meter_and_grid(chorales):
    # bwv1.6 also has a horn part: its four named voices are kept, the horn dropped.
    assert len(chorales) == 4 and chorales.skipped == []
    assert "bwv1.6" in {piece.title for piece in chorales.pieces}
    for piece in chorales.pieces:
        assert [p.name for p in piece.parts] == ["soprano", "alto", "tenor", "bass"]
        assert piece.time_signature in tokens.METERS
        assert piece.key.mode in ("major", "minor")
        assert {n.part for n in piece.notes} == {0, 1, 2, 3}
        assert all(MIN_PITCH <= n.pitch <= MAX_PITCH for n in piece.notes)
        assert all(n.start / STEP == round(n.start / STEP) for n in piece.notes)
        # Voices in order: the soprano sits above the bass on average.
        mean = [
            sum(n.pitch for n in piece.part_notes(i)) / len(piece.part_notes(i)) for i in (0, 3)
        ]
        assert mean[0] > mean[1] + 12
    assert chorales.fingerprint == corpus_fingerprint(chorales.pieces)


def test_pickup_is_shifted_so_downbeats_fall_on_bar_lines(chorales):
    from music21 import converter, stream

    piece = next(p for p in chorales.pieces if p.title == "bwv101.7")
    bar = piece.bar_quarters
    soprano = piece.part_notes(0)
    # A one-beat pickup ends bar 0; the first full bar starts exactly on the bar line.
    assert soprano[0].start == bar - 1.0
    score = converter.parse(corpus.chorale_files()[2], forceSource=True)
    first_full = score.parts[0].getElementsByClass(stream.Measure)[1]
    first_note = first_full.notes[0]
    assert [n.pitch for n in soprano if n.start == bar] == [first_note.pitch.midi]
    # Later bars line up too: the soprano's first note of bar 3 starts on its bar line.
    third = score.parts[0].getElementsByClass(stream.Measure)[3].notes[0]
    assert float(third.offset) == 0.0
    assert [n.pitch for n in soprano if n.start == 3 * bar] == [third.pitch.midi]


def test_cache_is_used_and_a_corrupt_cache_is_rebuilt(chorales, chorale_cache, monkeypatch):
    def fail(*args):
        raise AssertionError("parsed again instead of reading the cache")

    with monkeypatch.context() as m:
        m.setattr(corpus, "_parse_chorales", fail)
        again = load_music("chorales", cache_dir=chorale_cache, limit=CHORALE_FILES)
    assert again.pieces == chorales.pieces
    assert again.skipped == chorales.skipped
    assert again.fingerprint == chorales.fingerprint

    (cache,) = chorale_cache.glob("chorales-first4-*.json")
    cache.write_text('{"schema": 1, "pieces": [[', encoding="utf-8")
    rebuilt = load_music("chorales", cache_dir=chorale_cache, limit=CHORALE_FILES)
    assert rebuilt.pieces == chorales.pieces
    assert json.loads(cache.read_text(encoding="utf-8"))["schema"] == corpus.SCHEMA


def test_tokens_round_trip_a_real_chorale_exactly(chorales):
    piece = chorales.pieces[0]
    back = tokens.decode(tokens.encode(piece))
    assert back.time_signature == piece.time_signature and back.key == piece.key

    def rows(p: Piece) -> list[tuple]:
        # Tokens cut notes at MAX_DUR sixteenths (bwv10.7 ends on a four-bar tied note).
        longest = tokens.MAX_DUR * STEP
        return [(n.pitch, n.start, min(n.duration, longest), n.part) for n in p.sorted_notes()]

    assert rows(back) == rows(piece)


def test_folk_tunes_are_single_melodies(tmp_path):
    folk = load_music("folk", cache_dir=tmp_path, limit=6)
    assert len(folk) + len(folk.skipped) == 6 and len(folk) >= 3
    for piece in folk.pieces:
        assert len(piece.parts) == 1 and piece.parts[0].name == "melody"
        assert piece.time_signature in tokens.METERS and piece.title
        assert {n.part for n in piece.notes} == {0}


# --- files and folders ---------------------------------------------------------------------


def _write_midi(path: Path) -> None:
    """Two parts: a violin melody with a re-struck note and a cello note, in D minor 3/4."""
    mid = mido.MidiFile(ticks_per_beat=480)
    meta = mido.MidiTrack()
    meta += [
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(90)),
        mido.MetaMessage("time_signature", numerator=3, denominator=4),
        mido.MetaMessage("key_signature", key="Dm"),
    ]
    melody = mido.MidiTrack()
    melody += [
        mido.MetaMessage("track_name", name="Violin"),
        mido.Message("program_change", channel=0, program=40),
        mido.Message("note_on", channel=0, note=62, velocity=90, time=0),
        mido.Message("note_on", channel=0, note=62, velocity=0, time=480),  # velocity 0 = off
        mido.Message("note_on", channel=0, note=65, velocity=70, time=0),
        mido.Message("note_on", channel=0, note=65, velocity=60, time=240),  # struck again
        mido.Message("note_off", channel=0, note=65, time=720),
        mido.Message("note_on", channel=9, note=36, velocity=100, time=0),  # drums: dropped
        mido.Message("note_off", channel=9, note=36, time=120),
    ]
    bass = mido.MidiTrack()
    bass += [
        mido.Message("program_change", channel=1, program=42),
        mido.Message("note_on", channel=1, note=38, velocity=80, time=0),
        mido.Message("note_off", channel=1, note=38, time=1440),
    ]
    mid.tracks += [meta, melody, bass]
    mid.save(path)


def test_midi_file_reads_parts_timing_tempo_meter_and_key(tmp_path):
    path = tmp_path / "tune.mid"
    _write_midi(path)
    piece = read_music_file(path)
    assert piece.tempo == pytest.approx(90)
    assert piece.time_signature == (3, 4)
    assert piece.key == Key(2, "minor")
    assert [(p.name, p.program) for p in piece.parts] == [("Violin", 40), ("channel 2", 42)]
    assert piece.sorted_notes() == [
        Note(62, 0.0, 1.0, 90, 0),
        Note(38, 0.0, 3.0, 80, 1),
        Note(65, 1.0, 0.5, 70, 0),
        Note(65, 1.5, 1.5, 60, 0),
    ]


def _write_bad_files(folder: Path) -> None:
    (folder / "empty.mid").write_bytes(b"")
    (folder / "notes.txt").write_text("a shopping list\n")
    (folder / "fake.mid").write_text("this is text, not MIDI\n")
    good = folder / "spare.mid"
    _write_midi(good)
    (folder / "broken.mid").write_bytes(good.read_bytes()[:40])  # cut off mid-track


def test_folder_keeps_good_music_and_says_why_it_skipped_the_rest(tmp_path):
    _write_bad_files(tmp_path)
    (tmp_path / "spare.mid").unlink()
    (tmp_path / "sub").mkdir()
    _write_midi(tmp_path / "sub" / "good.mid")
    (tmp_path / "tunes.abc").write_text(
        "X:1\nT:Two\nM:2/4\nL:1/8\nK:G\nGA Bc|d2 d2|\n\nX:2\nT:Odd\nM:7/8\nL:1/8\nK:G\nGABcdef|\n"
    )
    found = load_music(f"folder:{tmp_path}")
    assert [p.title for p in found.pieces] == ["good", "tunes #1"]
    alone = read_music_file(tmp_path / "sub" / "good.mid")
    assert found.pieces[0].sorted_notes() == alone.quantised().sorted_notes()
    reasons = dict(s.split(": ", 1) for s in found.skipped)
    assert reasons["empty.mid"] == "is empty"
    assert reasons["fake.mid"].startswith("is not a MIDI file")
    assert reasons["broken.mid"].startswith("is a corrupt MIDI file")
    assert reasons["notes.txt"].startswith("not a music file")
    assert any("tunes #2" in s and "7/8 is not supported" in s for s in found.skipped)
    assert found.source == f"folder:{tmp_path.resolve()}"


def test_folder_with_nothing_usable_lists_the_reasons(tmp_path):
    _write_bad_files(tmp_path)
    (tmp_path / "spare.mid").unlink()
    with pytest.raises(DataError, match=r"no usable music in .*\(4 skipped: broken.mid: is a"):
        load_music(f"folder:{tmp_path}")
    with pytest.raises(DataError, match="does not exist"):
        load_music(f"folder:{tmp_path / 'nowhere'}")


def test_bad_single_files_name_the_file_and_the_problem(tmp_path, monkeypatch):
    _write_bad_files(tmp_path)
    cases = {"empty.mid": "is empty", "fake.mid": "not a MIDI file", "broken.mid": "corrupt"}
    for name, problem in cases.items():
        with pytest.raises(InputError, match=f"{name}.*{problem}"):
            read_music_file(tmp_path / name)
    drums = mido.MidiFile()
    drums.tracks.append(mido.MidiTrack([mido.Message("note_on", channel=9, note=36, time=0)]))
    drums.save(tmp_path / "drums.mid")
    with pytest.raises(InputError, match=r"drums.mid' has no notes \(only percussion"):
        read_music_file(tmp_path / "drums.mid")
    long = mido.MidiFile(ticks_per_beat=96)  # one note lasting 31 minutes at 120 bpm
    long.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, time=0),
                mido.Message("note_off", note=60, time=96 * 2 * 60 * 31),
            ]
        )
    )
    long.save(tmp_path / "long.mid")
    with pytest.raises(InputError, match=r"long.mid' lasts 31 minutes, over the 30-minute limit"):
        read_music_file(tmp_path / "long.mid")
    monkeypatch.setattr(readers, "MAX_NOTES", 3)
    with pytest.raises(InputError, match=r"spare.mid' has over 3 notes"):
        read_music_file(tmp_path / "spare.mid")


def test_unknown_source_is_a_data_error_naming_the_choices(tmp_path):
    with pytest.raises(
        DataError, match="unknown music data set 'bach': use chorales, folk, folder"
    ):
        load_music("bach")
    _write_midi(tmp_path / "one.mid")
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_music(f"folder:{tmp_path / 'one.mid'}")


def test_the_built_in_sets_are_registered_with_size_and_licence():
    sets = {d.name: d for d in data.datasets("music")}
    assert sorted(sets) == ["chorales", "folk"]
    assert all(d.size and "music21" in d.licence for d in sets.values())
    assert sets["folk"].loader is corpus.load_folk
    assert [u.prefix for u in data.user_sources("music")] == ["folder"]
    assert data.resolve("chorales", "music") is sets["chorales"]


# --- augmentation and split ------------------------------------------------------------------


def _piece(top: int, n: int = 0) -> Piece:
    return Piece((Note(60 + n % 7, 0.0, 1.0), Note(top, 1.0, 1.0)), key=Key(0, "major"))


def test_transpositions_leave_out_pieces_past_the_piano():
    high = _piece(105)  # +4 would reach 109, above the piano's top C (108)
    out = augment_transpositions([high], range(-5, 7))
    assert sorted(p.notes[1].pitch - 105 for p in out) == [-5, -4, -3, -2, -1, 0, 1, 2, 3]
    assert all(p.in_range() for p in out)
    assert {p.key.tonic for p in out} == {(s % 12) for s in range(-5, 4)}


def test_split_is_deterministic_disjoint_and_independent_of_order():
    pieces = [_piece(72 + i % 20, i) for i in range(40)]
    pieces = list({p.fingerprint(): p for p in pieces}.values())
    data = MusicCorpus(pieces, "test", [], corpus_fingerprint(pieces))
    train, val = split_pieces(data, holdout=0.25, seed=0)
    assert len(val) == round(0.25 * len(pieces)) and len(train) + len(val) == len(pieces)
    assert not {p.fingerprint() for p in train} & {p.fingerprint() for p in val}
    assert split_pieces(data, 0.25, 0) == (train, val)
    flipped = MusicCorpus(pieces[::-1], "test", [], "")
    assert {p.fingerprint() for p in split_pieces(flipped, 0.25, 0)[1]} == {
        p.fingerprint() for p in val
    }
    assert split_pieces(data, 0.25, 1)[1] != val
    with pytest.raises(DataError, match="too few to split"):
        split_pieces(MusicCorpus(pieces[:1], "one", [], ""))
    with pytest.raises(InputError, match="holdout"):
        split_pieces(data, holdout=1.0)


def test_choir_parts_are_picked_from_a_score_with_instruments_only_when_unambiguous():
    from music21 import stream

    from museforge.music.corpus import _vocal_parts

    def score(*names: str) -> stream.Score:
        parts = []
        for name in names:
            part = stream.Part()
            part.partName = name
            parts.append(part)
        return stream.Score(parts)

    horns = score("Horn 1", "Soprano", "Alto", "Tenor\rViola", "Bass", "Continuo")
    assert [p.partName for p in _vocal_parts(horns)] == ["Soprano", "Alto", "Tenor\rViola", "Bass"]
    assert _vocal_parts(score("Soprano 1", "Soprano 2", "Alto", "Tenor", "Bass")) is None
    assert _vocal_parts(score("Oboe", "Alto", "Tenor", "Bass")) is None


def test_time_signatures_music21_would_stall_on_are_refused_first(tmp_path):
    tune = "X:{n}\nT:t{n}\nM:{meter}\nL:1/8\nK:D\nA|dfa afd|e2c A2G|FAd gec|d3 d2:|\n\n"
    abc = tmp_path / "set.abc"
    abc.write_text("".join(tune.format(n=n, meter=m) for n, m in ((1, "1000/4"), (2, "6/8"))))
    pieces, notes = readers.read_pieces(abc)  # music21 took ~2 minutes over 1000/4
    assert [p.title for p in pieces] == ["set #2"] and pieces[0].time_signature == (6, 8)
    assert notes == ["set #1: has an unusable time signature 1000/4"]
    abc.write_text(tune.format(n=1, meter="9+9+9/8"))  # music21 reads it as 999/8
    with pytest.raises(InputError, match=r"set.abc' has an unusable time signature 9\+9\+9/8$"):
        readers.read_pieces(abc)
    xml = tmp_path / "score.musicxml"
    xml.write_text(
        '<score-partwise version="4.0"><part-list><score-part id="P1"/></part-list>'
        '<part id="P1"><measure number="1"><attributes><divisions>1</divisions>'
        "<time><beats>6</beats><beat-type>100</beat-type></time></attributes>"
        "<note><pitch><step>C</step><octave>4</octave></pitch><duration>1</duration></note>"
        "</measure></part></score-partwise>"
    )
    with pytest.raises(InputError, match=r"score.musicxml' has an unusable time signature 6/100"):
        readers.read_pieces(xml)
