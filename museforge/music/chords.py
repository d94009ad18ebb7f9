"""Chord symbols for melodies: the vocabulary, chords named from sounding notes, a melody's
features per beat, and the two baselines a chord model must beat.

Chords are kept relative to the piece's key (a class is the root's distance from the tonic
and a quality), so a model learns harmony once for every key. Harmonic rhythm — one chord
per beat, half bar or bar — is chosen when chords are written, from per-beat scores.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from museforge.errors import InputError
from museforge.music.score import QUALITIES, Chord, Piece

VOCABULARIES = {
    "triads": ("maj", "min", "dim", "aug"),
    "sevenths": tuple(QUALITIES),
}
RHYTHMS = ("beat", "half", "bar")
# a seventh chord's triad, for scoring written sevenths against a triad vocabulary
TRIAD_OF = {"dom7": "maj", "maj7": "maj", "min7": "min", "hdim7": "dim", "dim7": "dim"}
FEATURES = 12 + 12 + 4 + 2  # sounding pitch classes, pitch class at the beat, beat of bar, mode/end
# The rule baseline's preference among diatonic chords when the melody fits several:
# degree (semitones above the tonic) → prior, per mode.
_DIATONIC = {
    "major": {0: ("maj", 1.0), 7: ("maj", 0.8), 5: ("maj", 0.7), 9: ("min", 0.5), 2: ("min", 0.4),
              4: ("min", 0.3), 11: ("dim", 0.1)},
    "minor": {0: ("min", 1.0), 7: ("maj", 0.8), 5: ("min", 0.7), 8: ("maj", 0.5), 3: ("maj", 0.4),
              10: ("maj", 0.3), 2: ("dim", 0.1)},
}  # fmt: skip


def classes(vocabulary: str) -> list[tuple[int, str]]:
    """The key-relative chord classes of a vocabulary: (degree, quality), degree 0..11."""
    if vocabulary not in VOCABULARIES:
        raise InputError(f"chord vocabulary must be one of {', '.join(VOCABULARIES)}")
    return [(d, q) for d in range(12) for q in VOCABULARIES[vocabulary]]


def name_chord(weights: np.ndarray, bass: int | None, vocabulary: str) -> tuple[int, str]:
    """The (root, quality) of the vocabulary that best explains sounding pitch classes
    (``weights``: 12 values, e.g. voices per class), the ``bass`` preferred as root."""
    best, best_score = (0, "maj"), -np.inf
    for root in range(12):
        for quality in VOCABULARIES[vocabulary]:
            tones = {(root + i) % 12 for i in QUALITIES[quality][0]}
            inside = sum(weights[pc] for pc in tones)
            outside = weights.sum() - inside
            missing = sum(1 for i in QUALITIES[quality][0] if weights[(root + i) % 12] == 0)
            # a missing fifth is common; a missing third or seventh is not this chord
            missing -= int(weights[(root + 7) % 12] == 0 and 7 in QUALITIES[quality][0])
            score = inside - outside - 0.8 * missing + 0.5 * (bass == root)
            score -= 0.05 * len(tones)  # the simpler chord when both fit
            if score > best_score:
                best, best_score = (root, quality), score
    return best


def beat_length(piece: Piece) -> float:
    """The beat in quarter notes: a dotted crotchet in compound metres (6/8, 9/8, 12/8)."""
    num, den = piece.time_signature
    return 1.5 if den == 8 and num % 3 == 0 and num > 3 else 4 / den


def beats(piece: Piece) -> np.ndarray:
    """Onsets of every beat from 0 to the piece's end (bar lines fall on multiples of the
    bar's length, as the piece's notes are placed)."""
    step = beat_length(piece)
    return np.arange(0.0, max(piece.end, step) - 1e-9, step)


def _sounding(piece: Piece, part: int | None, at: float) -> list:
    return [
        n
        for n in piece.notes
        if (part is None or n.part == part) and n.start <= at < n.start + n.duration
    ]


def melody_features(piece: Piece) -> np.ndarray:
    """Per beat of the top part: the key-relative pitch classes sounding during the beat
    (share of the beat), the one sounding at its onset, the beat's place in the bar, the
    mode, and whether it is the last beat. beats × FEATURES, float32."""
    onsets = beats(piece)
    step = beat_length(piece)
    per_bar = beats_per_bar(piece)
    tonic = piece.key.tonic
    out = np.zeros((len(onsets), FEATURES), np.float32)
    melody = [n for n in piece.notes if n.part == 0]
    for i, t in enumerate(onsets):
        for n in melody:
            overlap = min(n.start + n.duration, t + step) - max(n.start, t)
            if overlap > 0:
                out[i, (n.pitch - tonic) % 12] += overlap / step
        for n in _sounding(piece, 0, t):
            out[i, 12 + (n.pitch - tonic) % 12] = 1.0
        out[i, 24 + min(3, round(t / step) % per_bar)] = 1.0
    out[:, 28] = piece.key.mode == "minor"
    if len(out):
        out[-1, 29] = 1.0
    return out


def chord_labels(piece: Piece, vocabulary: str) -> np.ndarray:
    """The class (index into :func:`classes`) of the chord all parts sound at each beat
    onset, or -1 where nothing sounds: the targets a chord model learns from harmony."""
    index = {c: i for i, c in enumerate(classes(vocabulary))}
    tonic = piece.key.tonic
    onsets = beats(piece)
    out = np.full(len(onsets), -1, np.int64)
    for i, t in enumerate(onsets):
        notes = _sounding(piece, None, t)
        if len({n.pitch % 12 for n in notes}) < 2:
            continue  # one pitch class names no chord
        weights = np.zeros(12)
        for n in notes:
            weights[n.pitch % 12] += 1
        bass = min(notes, key=lambda n: n.pitch).pitch % 12
        root, quality = name_chord(weights, bass, vocabulary)
        out[i] = index[((root - tonic) % 12, quality)]
    return out


def rule_scores(piece: Piece, vocabulary: str) -> np.ndarray:
    """The key-aware rule baseline as per-beat scores over the classes: each diatonic chord
    scores the melody's time on its tones (the note at the beat counting double), plus
    its prior (tonic, dominant, subdominant first)."""
    features = melody_features(piece)
    table = classes(vocabulary)
    scores = np.full((len(features), len(table)), -1e3, np.float32)
    for k, (degree, quality) in enumerate(table):
        prior = _DIATONIC[piece.key.mode].get(degree)
        if prior is None or prior[0] != quality:
            continue
        tones = [(degree + i) % 12 for i in QUALITIES[quality][0]]
        scores[:, k] = features[:, tones].sum(1) + 2 * features[:, [12 + t for t in tones]].sum(1)
        scores[:, k] -= features[:, :12].sum(1) - features[:, tones].sum(1)  # time off it
        scores[:, k] += prior[1]
    return scores


def spans(piece: Piece, rhythm: str) -> list[tuple[int, int]]:
    """Beat index ranges [a, b) of one chord each: every beat, half bar (a whole bar in
    metres of three beats) or bar."""
    if rhythm not in RHYTHMS:
        raise InputError(f"harmonic rhythm must be one of {', '.join(RHYTHMS)}")
    n = len(beats(piece))
    size = span_size(beats_per_bar(piece), rhythm)
    return [(a, min(n, a + size)) for a in range(0, n, size)]


def beats_per_bar(piece: Piece) -> int:
    return max(1, round(piece.bar_quarters / beat_length(piece)))


def span_size(per_bar: int, rhythm: str) -> int:
    """Beats per chord at a harmonic rhythm (a half bar of three beats is the bar)."""
    half = per_bar // 2 if per_bar % 2 == 0 else per_bar
    return {"beat": 1, "half": half, "bar": per_bar}[rhythm]


def choose(piece: Piece, log_probs: np.ndarray, vocabulary: str, rhythm: str) -> tuple[Chord, ...]:
    """Chord symbols from per-beat log-probabilities over the classes: one per span of the
    harmonic rhythm (the class likeliest over all its beats), repeats merged, none before
    the melody's first note (a pickup's chord starts with it)."""
    table = classes(vocabulary)
    step = beat_length(piece)
    first = min((n.start for n in piece.notes if n.part == 0), default=0.0)
    chords: list[Chord] = []
    for a, b in spans(piece, rhythm):
        if b * step <= first + 1e-9:
            continue  # before the melody begins (a pickup's empty beats): no chord
        degree, quality = table[int(log_probs[a:b].sum(0).argmax())]
        root = (degree + piece.key.tonic) % 12
        start = max(a * step, first)
        length = b * step - start
        if chords and (chords[-1].root, chords[-1].quality) == (root, quality):
            last = chords.pop()
            chords.append(Chord(last.start, last.duration + length, root, quality))
        else:
            chords.append(Chord(start, length, root, quality))
    return tuple(chords)


def per_beat(piece: Piece, chords: tuple[Chord, ...], vocabulary: str) -> np.ndarray:
    """Class per beat of written ``chords`` (-1 where none is active)."""
    index = {c: i for i, c in enumerate(classes(vocabulary))}
    known = VOCABULARIES[vocabulary]
    onsets = beats(piece)
    out = np.full(len(onsets), -1, np.int64)
    for i, t in enumerate(onsets):
        c = chord_at(chords, t)
        if c is not None:
            quality = c.quality if c.quality in known else TRIAD_OF.get(c.quality, "")
            out[i] = index.get(((c.root - piece.key.tonic) % 12, quality), -1)
    return out


def chord_at(chords: tuple[Chord, ...], t: float) -> Chord | None:
    """The chord sounding at time ``t`` (None between or outside them)."""
    return next((c for c in chords if c.start <= t + 1e-9 < c.start + c.duration), None)


def chord_tone_share(piece: Piece, chords: tuple[Chord, ...]) -> float | None:
    """Share of strong beats (the first of a bar and, in 4/4-like metres, its middle)
    whose sounding melody note is a tone of the chord written there."""
    per_bar = beats_per_bar(piece)
    strong = {0} | ({per_bar // 2} if per_bar >= 4 and per_bar % 2 == 0 else set())
    hits = total = 0
    for i, t in enumerate(beats(piece)):
        if i % per_bar not in strong:
            continue
        melody = _sounding(piece, 0, t)
        chord = chord_at(chords, t)
        if not melody or chord is None:
            continue
        total += 1
        hits += melody[0].pitch % 12 in chord.pitch_classes
    return hits / total if total else None


def figure(chord: Chord, spell) -> str:
    """The symbol a musician reads (``F#m``, ``Bb7``), the root spelt by ``spell`` (MIDI
    number → music21 Pitch, spelt for the key)."""
    name = spell(60 + chord.root).name.replace("-", "b")
    return name + QUALITIES[chord.quality][1]


def chords_by_rule(piece: Piece, rhythm: str = "half", vocabulary: str = "triads") -> Piece:
    """``piece`` with chord symbols from the key-aware rule (no model needed): what
    ``compose --accompany`` and ``song --accompany`` play from."""
    scores = rule_scores(piece, vocabulary)
    return replace(piece, chords=choose(piece, scores, vocabulary, rhythm))
