"""The music commands as a user meets them: a tiny model trained on a folder of MIDI files,
then compose, song and their one-line errors on bad input."""

from __future__ import annotations

import json
import sys

import mido
import pytest

from museforge.cli import main
from museforge.gallery.store import Gallery, companions
from museforge.music.render import write_midi
from museforge.music.score import Key, Note, Part, Piece
from tests.test_cli import assert_one_line_error, run


def tune(shift: int) -> Piece:
    steps = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 12, 7, 4, 2, 0]
    notes = tuple(Note(60 + shift + s, i * 0.5, 0.5) for i, s in enumerate(steps))
    return Piece(notes, (Part(),), 120.0, (4, 4), Key(shift % 12))


@pytest.fixture(scope="module")
def music_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("music")
    for i in range(6):
        write_midi(root / "tunes" / f"tune{i}.mid", tune(i - 2))
    (root / "tunes" / "broken.mid").write_bytes(b"MThd not really")
    out = root / "model"
    mp = pytest.MonkeyPatch()  # module-scoped fixture: no monkeypatch/capsys fixtures
    mp.setattr(
        sys,
        "argv",
        [
            "museforge",
            "train",
            "music-lm",
            "--data",
            f"folder:{root / 'tunes'}",
            "--steps",
            "3",
            "--out",
            str(out),
            "--quiet",
            "--set",
            "model.n_layer=1",
            "--set",
            "model.n_embd=32",
            "--set",
            "model.context=32",
        ],
    )
    with pytest.raises(SystemExit) as info:
        main()
    mp.undo()
    assert (info.value.code or 0) == 0
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["data"]["skipped_files"] == 1  # the broken file, with its reason
    return out


@pytest.fixture
def gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSEFORGE_GALLERY", str(tmp_path / "gallery"))
    return tmp_path / "gallery"


def test_compose_writes_one_music_artwork_with_its_companions(
    music_model, gallery, monkeypatch, capsys
):
    code, _, err = run(
        monkeypatch,
        capsys,
        "compose",
        music_model,
        *("--bars", "2", "--key", "G major", "--instrument", "violin"),
    )
    assert code == 0, err
    g = Gallery(gallery)
    g.sync()
    [record] = g.list()
    assert record.modality == "music" and record.path.endswith(".mid")
    assert record.provenance["args"]["key"] == "G major"
    assert set(companions(gallery / record.path)) == {"audio", "roll", "score"}
    midi = mido.MidiFile(gallery / record.path)
    assert any(m.type == "key_signature" and m.key == "G" for m in midi.tracks[0])
    changes = [m.program for t in midi.tracks for m in t if m.type == "program_change"]
    assert changes == [40]  # the violin asked for, not the flute of melody models


def test_a_song_has_one_note_per_syllable(music_model, gallery, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "song", music_model, "Shall I compare thee")
    assert code == 0, err
    g = Gallery(gallery)
    g.sync()
    [record] = g.list()
    assert record.provenance["syllables"] == 5
    midi = mido.MidiFile(gallery / record.path)
    onsets = sum(1 for t in midi.tracks[1:] for m in t if m.type == "note_on" and m.velocity)
    assert onsets == 5
    xml = (gallery / record.path).with_suffix(".musicxml").read_text()
    assert "compare" in xml and "Shall" in xml


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--key", "H major"), ("H major",)),
        (("--time-signature", "7/8"), ("7/8",)),
        (("--notes", "zz9 qq"), ("typed notes",)),
        (("--instrument", "200"), ("instrument",)),
        (("--instrument", "melody=kazoo"), ("unknown instrument 'kazoo'",)),
    ],
)
def test_bad_settings_give_one_line_errors(
    music_model, gallery, monkeypatch, capsys, args, needles
):
    code, _, err = run(monkeypatch, capsys, "compose", music_model, *args)
    assert_one_line_error(code, err, *needles)
    assert not gallery.exists() or not list(gallery.rglob("*.mid"))


def test_bad_priming_files_are_named(music_model, gallery, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty.mid"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mid"
    text.write_text("just some words")
    silent = write_midi(tmp_path / "silent.mid", Piece(()))
    long_one = write_midi(tmp_path / "long.mid", Piece((Note(60, 0, 1), Note(62, 14400, 1))))
    for path, words in (
        (empty, "empty"),
        (text, "not a MIDI file"),
        (silent, "no notes"),
        (long_one, "minutes"),
        ("C4 D4 E4", "notes setting"),  # typed notes given as a file: point at notes
    ):
        code, _, err = run(monkeypatch, capsys, "compose", music_model, "--prime", path)
        assert_one_line_error(code, err, str(path), words)


def test_kinds_are_checked(music_model, gallery, monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "harmonise", music_model, "bwv66.6")
    assert_one_line_error(code, err, "music-lm", "chorale-coconet")
