"""The music LM: event encoding round trips, training lowers the loss, sampling obeys the
grammar, bar counts, note counts and seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from museforge.core.artifact import LoadedModel
from museforge.core.registry import call_verb
from museforge.errors import InputError
from museforge.music import tokens
from museforge.music.generate import MusicSampling, sample_tokens
from museforge.music.lm import MusicLM, MusicLMConfig, MusicLMTask, encode_all
from museforge.music.lyrics import syllables_of
from museforge.music.priming import parse_meter
from museforge.music.score import Key, Note, Part, Piece, parse_key
from museforge.nn.lm_training import SequenceLMTraining


def scale_piece(tonic: int = 60, bars: int = 2, meter=(4, 4)) -> Piece:
    steps = [0, 2, 4, 5, 7, 9, 11, 12]
    notes = [Note(tonic + steps[i % 8], i * 1.0, 1.0) for i in range(bars * 4)]
    return Piece(tuple(notes), (Part(),), 100.0, meter, Key(tonic % 12))


def chorale_piece() -> Piece:
    chords = [(72, 67, 64, 48), (71, 67, 62, 55), (72, 67, 64, 48), (74, 69, 65, 53)]
    notes = [
        Note(p, i * 1.0, 1.0, part=v) for i, chord in enumerate(chords) for v, p in enumerate(chord)
    ]
    parts = tuple(Part(v) for v in ("soprano", "alto", "tenor", "bass"))
    return Piece(tuple(notes), parts)


def test_encoding_round_trips_melodies_and_parts():
    for piece in (scale_piece(), scale_piece(62, 3, (3, 4)), chorale_piece()):
        ids = tokens.encode(piece)
        back = tokens.decode(ids)
        assert back.sorted_notes() == piece.sorted_notes()
        assert back.time_signature == piece.time_signature and back.key == piece.key
        grammar = tokens.Grammar(polyphonic=len(piece.parts) > 1)
        for token in ids[1:]:
            assert token in grammar.allowed(), tokens.VOCAB[token]
            grammar.feed(token)


def test_an_onset_holds_at_most_max_parts_notes_so_every_bar_fits_the_budget():
    grammar = tokens.Grammar()
    for token in tokens.encode(scale_piece(), end=False)[1:4]:  # meter, key, BAR
        grammar.feed(token)
    grammar.feed(tokens.INDEX["POS_0"])
    for n in range(tokens.MAX_PARTS):
        assert tokens.INDEX["PITCH_60"] in grammar.allowed(), f"note {n + 1} refused"
        grammar.feed(tokens.INDEX["PITCH_60"])
        grammar.feed(tokens.INDEX["DUR_4"])
    allowed = grammar.allowed()
    assert not set(allowed) & set(tokens.PITCH_IDS)  # the onset is full
    assert tokens.INDEX["POS_1"] in allowed  # the bar goes on


def test_keys_parse_and_bad_ones_are_named():
    assert parse_key("f# minor") == Key(6, "minor")
    assert parse_key("Bb") == Key(10, "major") and parse_key("a") == Key(9, "minor")
    with pytest.raises(InputError, match="H major"):
        parse_key("H major")


def tiny_task(pieces, polyphonic=False, seed=0) -> MusicLMTask:
    cfg = MusicLMConfig(polyphonic=polyphonic, context=32, n_layer=1, n_head=2, n_embd=32)
    train = SequenceLMTraining(lr=3e-3, warmup=0, schedule="constant", eval_every=0, patience=0)
    ids = encode_all(pieces, polyphonic)
    return MusicLMTask(cfg, train, ids, ids, seed)


def test_training_lowers_the_loss():
    task = tiny_task([scale_piece(t) for t in range(55, 67)])
    gen = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(40):
        idx = torch.randint(task.num_examples, (16,), generator=gen)
        losses.append(task.train_step(idx, gen)["loss"])
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


@pytest.mark.parametrize("polyphonic", [False, True])
def test_samples_are_well_formed_with_the_bars_asked_for(polyphonic):
    torch.manual_seed(0)
    model = MusicLM(MusicLMConfig(polyphonic=polyphonic, context=32, n_layer=1, n_embd=32))
    prime = [tokens.BOS, tokens.meter_token((3, 4)), tokens.key_token(Key(2, "minor"))]
    rows = sample_tokens(model, prime, 3, seed=5, s=MusicSampling(bars=4))
    again = sample_tokens(model, prime, 1, seed=5, s=MusicSampling(bars=4))
    assert rows[0] == again[0]  # row 0 does not depend on how many rows were drawn
    for row in rows:
        assert row[-1] == tokens.EOS and row.count(tokens.BAR) == 4  # exactly the bars asked
        piece = tokens.decode(prime + row)
        assert piece.time_signature == (3, 4) and piece.key == Key(2, "minor")
        assert max(n.start for n in piece.notes) < 4 * piece.bar_quarters


def test_a_melody_gets_exactly_one_note_per_syllable():
    torch.manual_seed(0)
    model = MusicLM(MusicLMConfig(context=32, n_layer=1, n_embd=32))
    for count in (1, 7, 13):
        [row] = sample_tokens(
            model, [tokens.BOS], 1, seed=count, s=MusicSampling(bars=30), note_count=count
        )
        piece = tokens.decode([tokens.BOS, *row])
        assert len(piece.notes) == count
        assert len({n.start for n in piece.notes}) == count  # one note per onset


def test_syllables_follow_the_text_prosody():
    assert syllables_of("床前明月光") == list("床前明月光")
    assert syllables_of("Shall I compare thee") == ["Shall", "I", "compare", "_", "thee"]
    assert syllables_of("!!!") == []


def test_key_pull_keeps_samples_in_their_key():
    """A random model wanders off any key; a strong pull keeps every pitch in the scale of
    the key token (the last bar in its tonic triad), whether the key was primed or
    sampled, and 0 leaves sampling alone."""
    from museforge.music.generate import SCALES, TRIADS

    torch.manual_seed(0)
    model = MusicLM(MusicLMConfig(context=32, n_layer=1, n_embd=32))

    def outside(prime: list[int], pull: float) -> tuple[int, int]:
        rows = sample_tokens(model, prime, 4, seed=1, s=MusicSampling(bars=4, key_pull=pull))
        wrong = total = 0
        for row in rows:
            piece = tokens.decode(prime + row)
            scale = {(piece.key.tonic + s) % 12 for s in SCALES[piece.key.mode]}
            triad = {(piece.key.tonic + s) % 12 for s in TRIADS[piece.key.mode]}
            last_bar = 3 * piece.bar_quarters
            wrong += sum(
                n.pitch % 12 not in (triad if n.start >= last_bar else scale) for n in piece.notes
            )
            total += len(piece.notes)
        return wrong, total

    d_minor = [tokens.BOS, tokens.meter_token((4, 4)), tokens.key_token(Key(2, "minor"))]
    for prime in (d_minor, [tokens.BOS]):
        wrong_free, total = outside(prime, 0.0)
        assert total > 20 and wrong_free > 0
        assert outside(prime, 20.0)[0] == 0
    # A song closes on its last syllable: that note is pulled into the tonic triad.
    song = MusicSampling(bars=30, key_pull=20.0)
    for row in sample_tokens(model, d_minor, 4, seed=2, s=song, note_count=7):
        notes = tokens.decode(d_minor + row).sorted_notes()
        assert len(notes) == 7
        assert all((n.pitch - 2) % 12 in SCALES["minor"] for n in notes[:-1])  # D minor
        assert (notes[-1].pitch - 2) % 12 in TRIADS["minor"]  # D, F or A
    plain = sample_tokens(model, d_minor, 2, seed=3, s=MusicSampling(bars=2))
    assert plain == sample_tokens(model, d_minor, 2, seed=3, s=MusicSampling(bars=2, key_pull=0))
    with pytest.raises(InputError, match=r"^key pull must be 0 to 20"):
        MusicSampling(key_pull=-1)


def tiny_loaded(polyphonic: bool = False) -> LoadedModel:
    torch.manual_seed(0)
    model = MusicLM(MusicLMConfig(polyphonic=polyphonic, context=32, n_layer=1, n_embd=32))
    manifest = {"kind": "music-lm", "weights": {"sha256": "0" * 64}, "versions": {}}
    return LoadedModel(model=model.eval(), manifest=manifest, path=Path("tiny-lm"))


def test_compose_records_its_arguments_once_and_follows_the_prime():
    loaded = tiny_loaded()
    notes = "c4 d8 e f g2"
    result = call_verb(loaded, "sample", n=2, bars=2, seed=3, notes=notes, time_signature="3/4")
    assert len(result.artworks) == 2
    prov = result.artworks[1].provenance
    assert prov["args"]["notes"] == notes and prov["args"]["time_signature"] == "3/4"
    assert prov["args"]["prime_file"] is None and prov["args"]["bars"] == 2
    assert "settings" not in prov and prov["lineage"] == {"content": {"source": f"notes:{notes}"}}
    assert prov["seed"] == 3 and prov["index"] == 1 and prov["tokens"] > 0
    piece = result.artworks[0].piece
    assert piece.time_signature == (3, 4)
    assert [n.pitch for n in piece.sorted_notes()[:4]] == [60, 62, 64, 65]  # the prime
    again = call_verb(loaded, "sample", n=1, bars=2, seed=3, notes=notes, time_signature="3/4")
    assert again.artworks[0].piece.notes == piece.notes


def test_lm_settings_are_checked_by_their_names():
    loaded = tiny_loaded()
    with pytest.raises(InputError, match=r"^time signature must be one of 2/4, 3/4"):
        call_verb(loaded, "sample", time_signature="7/8")
    with pytest.raises(InputError, match=r"^time signature '7/8' is not one of"):
        parse_meter("7/8")
    with pytest.raises(InputError, match=r"^tempo must be 20\.\.300 \(got 400"):
        call_verb(loaded, "sample", tempo=400)
    with pytest.raises(InputError, match=r"^continue needs a melody"):
        call_verb(loaded, "continue_", bars=2)
    with pytest.raises(InputError, match=r"^priming file .* does not exist"):
        call_verb(loaded, "continue_", prime_file="nowhere.mid")


def test_a_song_has_a_note_per_syllable_and_records_its_words():
    loaded = tiny_loaded()
    result = call_verb(loaded, "lyrics", text="Shall I compare thee", seed=2)
    [art] = result.artworks
    assert len(art.piece.notes) == 5 and art.lyrics == ["Shall", "I", "compare", "_", "thee"]
    assert art.provenance["args"]["text"] == "Shall I compare thee"
    assert art.provenance["syllables"] == 5 and art.provenance["verb"] == "lyrics"
    with pytest.raises(InputError, match="melody model"):
        call_verb(tiny_loaded(polyphonic=True), "lyrics", text="la la")
