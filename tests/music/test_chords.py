"""Chord symbols for melodies: naming chords, the rule baseline, harmonic rhythm, lead
sheets, accompaniment patterns, and a tiny chord model trained and used as a user would."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import numpy as np
import pytest
from music21 import converter, harmony

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.music import render
from museforge.music.accompany import LOW, PATTERNS, accompanied, accompany, voice
from museforge.music.chord_model import span_targets
from museforge.music.chords import (
    RHYTHMS,
    choose,
    chord_labels,
    chord_tone_share,
    classes,
    melody_features,
    name_chord,
    rule_scores,
    spans,
)
from museforge.music.lead_sheets import read_lead_sheet
from museforge.music.score import Chord, Key, Note, Part, Piece
from tests.music.test_lm import tiny_loaded

# I – IV – V – I in C major, one chord a bar: soprano, alto, tenor, bass
PROGRESSION = [(72, 67, 64, 48), (72, 69, 65, 53), (71, 67, 62, 55), (72, 67, 64, 48)]


def hymn(shift: int = 0, mode: str = "major") -> Piece:
    notes = []
    for bar, chord in enumerate(PROGRESSION):
        for part, pitch in enumerate(chord):
            notes.append(Note(pitch + shift, bar * 4.0, 4.0, 80, part))
    parts = tuple(Part(n, 52) for n in ("soprano", "alto", "tenor", "bass"))
    return Piece(tuple(notes), parts, 100.0, (4, 4), Key(shift % 12, mode))


def weights(*pcs: int) -> np.ndarray:
    out = np.zeros(12)
    for pc in pcs:
        out[pc] += 1
    return out


def test_chords_are_named_from_the_notes_that_sound() -> None:
    assert name_chord(weights(0, 4, 7, 0), 0, "triads") == (0, "maj")
    assert name_chord(weights(9, 0, 4), 9, "triads") == (9, "min")  # A minor over A
    assert name_chord(weights(7, 11, 2, 5), 7, "sevenths") == (7, "dom7")
    assert name_chord(weights(7, 11, 2, 5), 7, "triads") == (7, "maj")  # G7 as its triad
    assert name_chord(weights(0, 4), 0, "triads") == (0, "maj")  # the fifth may be missing


def test_labels_follow_the_harmony_in_any_key() -> None:
    table = classes("triads")
    for shift in (0, 3, -5):
        labels = chord_labels(hymn(shift), "triads")
        named = [table[i] for i in labels[::4]]  # the first beat of each bar
        assert named == [(0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")]  # key-relative


def test_the_rule_chooses_diatonic_chords_the_melody_fits() -> None:
    melody = Piece(
        tuple(
            [Note(p, i * 1.0, 1.0) for i, p in enumerate((60, 64, 67, 64))]
            + [Note(p, 4 + i * 1.0, 1.0) for i, p in enumerate((67, 71, 74, 71))]
        ),
        key=Key(0),
    )
    chords = choose(melody, rule_scores(melody, "triads"), "triads", "bar")
    assert [(c.start, c.duration, c.root, c.quality) for c in chords] == [
        (0.0, 4.0, 0, "maj"),
        (4.0, 4.0, 7, "maj"),
    ]
    assert chord_tone_share(melody, chords) == 1.0
    pickup = Piece(tuple(replace(n, start=n.start + 3) for n in melody.notes), key=Key(0))
    late = choose(pickup, rule_scores(pickup, "triads"), "triads", "bar")
    assert late[0].start == 3.0  # nothing over the empty beats before the melody
    assert (late[0].root, late[0].quality) == (0, "maj")
    wrong = (Chord(0.0, 8.0, 1, "maj"),)  # C# major under C and G
    assert chord_tone_share(melody, wrong) == 0.0


def test_harmonic_rhythm_sets_how_often_chords_change() -> None:
    four = Piece((Note(60, 0.0, 8.0),), time_signature=(4, 4))
    assert spans(four, "beat")[:2] == [(0, 1), (1, 2)]
    assert spans(four, "half") == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert spans(four, "bar") == [(0, 4), (4, 8)]
    three = Piece((Note(60, 0.0, 6.0),), time_signature=(3, 4))
    assert spans(three, "half") == spans(three, "bar") == [(0, 3), (3, 6)]
    with pytest.raises(InputError, match="harmonic rhythm"):
        spans(four, "fortnight")
    features = melody_features(four)
    assert features.shape == (8, 30) and features[0, 0] == 1.0  # C sounds all through beat 1


def test_a_rhythm_aware_model_learns_one_chord_per_span() -> None:
    labels = np.array([-1, 3, 5, 5, 7, 7, 7, -1])
    bar, half = RHYTHMS.index("bar"), RHYTHMS.index("half")
    assert span_targets(labels, 4, bar).tolist() == [3, 3, 3, 3, 7, 7, 7, 7]
    assert span_targets(labels, 4, half).tolist() == [3, 3, 5, 5, 7, 7, 7, 7]
    assert span_targets(labels, 4, RHYTHMS.index("beat")).tolist() == labels.tolist()


def test_an_accompaniment_plays_the_chords_in_each_pattern() -> None:
    melody = Piece((Note(72, 0.0, 8.0),), key=Key(0))
    chords = (Chord(0.0, 4.0, 0, "maj"), Chord(4.0, 4.0, 5, "maj"))
    lead = Piece(melody.notes, key=Key(0), chords=chords)
    for pattern in PATTERNS:
        played = accompany(lead, pattern)
        assert played.parts[-1].name == "accompaniment" and len(played.parts) == 2
        notes = [n for n in played.notes if n.part == 1]
        assert notes, pattern
        for n in notes:
            chord = chords[0] if n.start < 4.0 else chords[1]
            assert n.pitch % 12 in chord.pitch_classes, (pattern, n)
            assert n.start + n.duration <= 8.0 + 1e-9
    with pytest.raises(InputError, match="pattern must be one of"):
        accompany(lead, "polka")
    with pytest.raises(InputError, match="no chord symbols"):
        accompany(melody, "block")


def test_voicings_move_as_little_as_they_can() -> None:
    c, f = Chord(0.0, 4.0, 0, "maj"), Chord(4.0, 4.0, 5, "maj")
    first, second = voice((c, f))
    assert all(p >= LOW for p in first + second)
    assert sum(min(abs(p - q) for q in first) for p in second) <= 3  # C-E-G → C-F-A


def test_a_lead_sheet_reads_chords_aligned_with_its_notes() -> None:
    abc = (
        'X:1\nT:t\nM:4/4\nL:1/8\nK:G\nD2|"G"G2B2 d2B2|"C"c2e2 "D7"d2A2|"G"G8|"Em"E4 "D"D4|"G"G6|]\n'
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        piece = read_lead_sheet(converter.parse(abc, format="abc"))
    assert piece.key == Key(7, "major") and len(piece.parts) == 1
    named = [(c.start, c.root, c.quality) for c in piece.chords[:3]]
    assert named == [(4.0, 7, "maj"), (8.0, 0, "maj"), (10.0, 2, "dom7")]
    first_bar = [n.pitch % 12 for n in piece.notes if 4.0 <= n.start < 8.0]
    assert set(first_bar) <= piece.chords[0].pitch_classes  # G B D under G


def test_chord_symbols_reach_the_musicxml(tmp_path) -> None:
    lead = Piece(
        (Note(66, 0.0, 4.0), Note(69, 4.0, 4.0)),
        key=Key(11),  # B major: the F# chord is spelt with a sharp
        chords=(Chord(0.0, 4.0, 11, "maj"), Chord(4.0, 4.0, 6, "dom7")),
    )
    written = render.write_musicxml(tmp_path / "lead.musicxml", lead)
    symbols = list(converter.parse(written).recurse().getElementsByClass(harmony.ChordSymbol))
    assert [(s.root().name, s.chordKind) for s in symbols] == [
        ("B", "major"),
        ("F#", "dominant-seventh"),
    ]


def test_compose_and_song_can_add_an_accompaniment() -> None:
    loaded = tiny_loaded()
    plain = call_verb(loaded, "sample", bars=2, seed=1, notes="c4 e g c'")
    played = call_verb(loaded, "sample", bars=2, seed=1, notes="c4 e g c'", accompany="waltz")
    melody = played.artworks[0].piece
    assert [n for n in melody.notes if n.part == 0] == list(plain.artworks[0].piece.notes)
    assert melody.chords and melody.parts[-1].name == "accompaniment"
    assert played.artworks[0].provenance["args"]["accompany"] == "waltz"
    song = call_verb(loaded, "lyrics", text="over the hills", seed=2, accompany="strum")
    assert len(song.artworks[0].piece.parts) == 2
    assert accompanied(plain.artworks[0].piece, "") == plain.artworks[0].piece


@pytest.fixture(scope="module")
def chord_model(tmp_path_factory):
    """A tiny chord model trained on a folder of four-part hymns in several keys."""
    root = tmp_path_factory.mktemp("hymns")
    for i, shift in enumerate((0, 2, 4, 5, 7, 9, -3, -1, 1, 3)):
        render.write_midi(root / "hymns" / f"hymn{i}.mid", hymn(shift))
    recipe = Recipe(
        kind="chord-model",
        data=f"folder:{root / 'hymns'}",
        model={"hidden": 16, "layers": 1},
        training={"lr": 1e-2, "eval_every": 20},
        run={"steps": 60, "batch_size": 4, "seed": 0, "log_every": 10},
    )
    out = root / "model"
    train_from_recipe(recipe, out=out, progress=False)
    return out


def test_a_chord_model_learns_the_harmony_and_writes_a_lead_sheet(chord_model, tmp_path) -> None:
    rows = [json.loads(line) for line in (chord_model / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses[-1] < losses[0] * 0.5
    loaded = load_artifact(chord_model)
    melody = tmp_path / "melody.mid"
    tune = hymn(2)
    render.write_midi(melody, Piece(tuple(n for n in tune.notes if n.part == 0), key=tune.key))
    result = call_verb(loaded, "chords", melody=str(melody), rhythm="bar", accompany="block")
    [art] = result.artworks
    assert art.provenance["chords"] == ["D", "G", "A", "D"]  # I IV V I in D major
    assert "highest" not in art.provenance["melody_part"]  # one part given: no choice made
    assert art.piece.parts[-1].name == "accompaniment"
    assert art.provenance["lineage"]["content"]["source"] == str(melody)
    evaluation = call_verb(loaded, "evaluate").data
    held = evaluation["held_out"]
    assert held["model_exact"] >= held["most_frequent_exact"]
    assert 0 <= held["rule_root"] <= 1


def test_a_melody_without_notes_is_one_line(chord_model, tmp_path) -> None:
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"MThd not really")
    with pytest.raises(InputError, match=r"empty\.mid"):
        call_verb(load_artifact(chord_model), "chords", melody=str(empty))
