"""The verbs of chord models: ``chords`` (a melody → a lead sheet, optionally with an
accompaniment) and ``evaluate`` (chord accuracy against Bach's harmony and written lead
sheets, next to a key-aware rule and the most frequent chord)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Annotated, Any

import numpy as np

from museforge.core.artifact import LoadedModel
from museforge.core.verbs import Param
from museforge.errors import InputError
from museforge.music import instruments
from museforge.music.accompany import Accompany
from museforge.music.accompany import accompany as add_accompaniment
from museforge.music.chords import (
    RHYTHMS,
    beat_length,
    beats,
    choose,
    chord_labels,
    chord_tone_share,
    chords_by_rule,
    classes,
    figure,
    per_beat,
)
from museforge.music.corpus import training_split
from museforge.music.lead_sheets import lead_sheets
from museforge.music.render import key_speller
from museforge.music.result import MusicResult
from museforge.music.score import Chord, Piece
from museforge.music.verbs_chorale import (
    MUSIC_OR_CORPUS,
    highest_part,
    load_source,
    source_stem,
)

MAX_BEATS = 2000  # longest melody given chords (a few seconds on a CPU)
Rhythm = Annotated[
    str, Param("harmonic rhythm: a chord per beat, half bar or bar", choices=RHYTHMS)
]


def melody_of(piece: Piece, source: str) -> Piece:
    """The highest part of ``piece`` alone, as part 0 (InputError when it has no notes)."""
    if not piece.notes:
        raise InputError(f"melody '{source}' has no notes")
    return highest_part(piece)


def write_chords(model: Any, piece: Piece, rhythm: str, vocabulary: str | None = None) -> Piece:
    """``piece`` with chord symbols from ``model`` (a ChordNet, or None for the key-aware
    rule) at ``rhythm``."""
    if model is None:
        return chords_by_rule(piece, rhythm, vocabulary or "triads")
    scores = model.log_probs(piece, rhythm)
    return replace(piece, chords=choose(piece, scores, vocabulary or model.cfg.vocabulary, rhythm))


def chords(
    loaded: LoadedModel,
    melody: Annotated[str, Param(MUSIC_OR_CORPUS, input="music", corpus=True, positional=True)],
    rhythm: Rhythm = "half",
    accompany: Accompany = "",
    instrument: Annotated[str | None, Param(instruments.HELP)] = None,
) -> MusicResult:
    """A lead sheet: chord symbols over ``melody`` (the highest part of a MIDI/MusicXML/ABC
    file or a corpus piece), one per beat, half bar or bar, and with ``accompany`` a
    piano part playing them. Deterministic: the likeliest chord of each span."""
    source = load_source(melody, "melody")
    piece = melody_of(source, melody)
    if len(beats(piece)) > MAX_BEATS:
        raise InputError(f"melody '{melody}' is longer than {MAX_BEATS} beats")
    piece = write_chords(loaded.model, piece, rhythm)
    if accompany:
        piece = add_accompaniment(piece, accompany)
    piece = replace(piece, parts=instruments.assign(instrument, piece.parts))
    share = chord_tone_share(piece, piece.chords)
    spell = key_speller(piece.key)
    symbols = [figure(c, spell) for c in piece.chords]
    prov = loaded.provenance(
        "chords",
        modality="music",
        lineage={"content": {"source": melody, "fingerprint": source.fingerprint()}},
        key=piece.key.name,
        melody_part=f"{piece.parts[0].name} (the highest of {len(source.parts)})"
        if len(source.parts) > 1
        else piece.parts[0].name,
        chords=symbols,
        chord_tone_share=share,
    )
    name = f"chords-{source_stem(melody)}"
    data = {"chords": symbols, "chord_tone_share": share}
    return MusicResult(pieces=[(name, piece, prov)], data=data, stem=name)


# -- evaluation ---------------------------------------------------------------------------


def _most_frequent(train: list[Piece], vocabulary: str) -> dict[str, int]:
    """The commonest chord class in the training harmony, per mode."""
    counts: dict[str, Counter] = {"major": Counter(), "minor": Counter()}
    for piece in train:
        labels = chord_labels(piece, vocabulary)
        counts[piece.key.mode].update(int(x) for x in labels[labels >= 0])
    return {mode: (c.most_common(1)[0][0] if c else 0) for mode, c in counts.items()}


def _as_written(pieces: list[Piece], gold: list[np.ndarray], vocabulary: str) -> float:
    """The chord-tone share of the pieces' own harmony (the chords their parts sound)."""
    table = classes(vocabulary)
    shares = []
    for piece, labels in zip(pieces, gold, strict=True):
        step = beat_length(piece)
        chords = tuple(
            Chord(i * step, step, (table[k][0] + piece.key.tonic) % 12, table[k][1])
            for i, k in enumerate(labels)
            if k >= 0
        )
        share = chord_tone_share(piece, chords)
        if share is not None:
            shares.append(share)
    return float(np.mean(shares)) if shares else float("nan")


def score_methods(
    model: Any,
    pieces: list[Piece],
    gold: list[np.ndarray],
    vocabulary: str,
    frequent: dict[str, int],
    rhythm: str,
) -> dict[str, float | None]:
    """Exact and root accuracy per labelled beat, and the chord-tone share of strong beats,
    for the model, the key-aware rule and the most frequent chord at ``rhythm``
    (``model_exact``, ``rule_root``, ``most_frequent_chord_tones``, …)."""
    roots = np.array([d for d, _ in classes(vocabulary)])
    out: dict[str, float | None] = {}
    for method in ("model", "rule", "most_frequent"):
        exact = root = total = 0
        shares = []
        for piece, labels in zip(pieces, gold, strict=True):
            if method == "most_frequent":
                scores = np.full((len(labels), len(roots)), -1.0)
                scores[:, frequent[piece.key.mode]] = 0.0
                written = replace(piece, chords=choose(piece, scores, vocabulary, rhythm))
            else:
                written = write_chords(
                    model if method == "model" else None, piece, rhythm, vocabulary
                )
            guess = per_beat(written, written.chords, vocabulary)
            known = (labels >= 0) & (guess >= 0)
            total += int((labels >= 0).sum())
            exact += int((guess[known] == labels[known]).sum())
            root += int((roots[guess[known]] == roots[labels[known]]).sum())
            share = chord_tone_share(written, written.chords)
            if share is not None:
                shares.append(share)
        out[f"{method}_exact"] = exact / total if total else None
        out[f"{method}_root"] = root / total if total else None
        out[f"{method}_chord_tones"] = float(np.mean(shares)) if shares else None
    return out


def evaluate(
    loaded: LoadedModel,
    rhythm: Rhythm = "beat",
    out_dir: Any = None,
) -> MusicResult:
    """Chord accuracy (exact, and by root) per beat on the held-out pieces of the model's
    training data — against the chords their parts sound — and on the chord-annotated
    lead sheets of the music21 corpus (at half bars, as they are written), for the model,
    the key-aware rule and the most frequent chord; with the share of strong beats whose
    melody note is a tone of the chord written there."""
    model = loaded.model
    vocabulary = model.cfg.vocabulary
    train, val = training_split(loaded.manifest, loaded.path)
    frequent = _most_frequent(train, vocabulary)
    melodies = [melody_of(p, "held-out piece") for p in val]
    gold = [chord_labels(p, vocabulary) for p in val]
    data: dict[str, Any] = {
        "vocabulary": vocabulary,
        "held_out": {
            "pieces": len(val),
            "rhythm": rhythm,
            "as_written_chord_tones": _as_written(melodies, gold, vocabulary),
            **score_methods(model, melodies, gold, vocabulary, frequent, rhythm),
        },
    }
    sheets = lead_sheets()
    if sheets:
        pieces = [p for _, p in sheets]
        written = [per_beat(p, p.chords, vocabulary) for p in pieces]
        data["lead_sheets"] = {
            "pieces": len(pieces),
            "names": [n for n, _ in sheets],
            "rhythm": "half",
            "as_written_chord_tones": float(
                np.mean([chord_tone_share(p, p.chords) or 0.0 for p in pieces])
            ),
            **score_methods(model, pieces, written, vocabulary, frequent, "half"),
        }
    return MusicResult(data=data, stem="evaluate-chords")
