"""Music metrics and baselines: n-gram likelihoods, feature overlap, keys, copying."""

from __future__ import annotations

import math
import random

import numpy as np

from museforge.music import metrics
from museforge.music.ngram import NGramModel
from museforge.music.score import Key, Note, Part, Piece


def melody(pitches, durations=None, key: Key | None = None) -> Piece:
    durations = durations or [1.0] * len(pitches)
    notes, t = [], 0.0
    for p, d in zip(pitches, durations, strict=True):
        notes.append(Note(p, t, d))
        t += d
    return Piece(tuple(notes), (Part(),), key=key or Key())


def test_ngram_distributions_are_normalised_and_context_helps():
    seq = [1, 2, 3, 4] * 200
    uni, tri = NGramModel(1, 8).fit(seq), NGramModel(3, 8).fit(seq)
    for model in (uni, tri):
        assert math.isclose(model.distribution([1, 2]).sum(), 1.0, rel_tol=1e-9)
        assert model.distribution([7, 7]).min() > 0  # unseen history: backs off, never zero
    assert tri.nll(seq[:100]) < 0.2 < uni.nll(seq[:100])
    assert math.isclose(uni.nll(seq[:100]), math.log(4), rel_tol=0.05)
    assert tri.nll(seq[:100], order=1) == uni.nll(seq[:100])  # one fit serves lower orders


def test_feature_overlap_separates_alike_from_unlike_sets():
    rng = random.Random(0)
    calm = [melody([rng.randint(60, 64) for _ in range(8)], [2.0] * 8) for _ in range(12)]
    calm2 = [melody([rng.randint(60, 64) for _ in range(8)], [2.0] * 8) for _ in range(12)]
    busy = [melody([rng.randint(40, 90) for _ in range(32)], [0.25] * 32) for _ in range(12)]
    alike = metrics.mean_overlap(metrics.feature_overlap(calm2, calm))
    unlike = metrics.mean_overlap(metrics.feature_overlap(busy, calm))
    assert alike > 0.5 > unlike


def test_key_consistency_checks_the_declared_key():
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60]
    assert metrics.key_consistency([melody(scale, key=Key(0, "major"))]) == 1.0
    assert metrics.key_consistency([melody(scale, key=Key(6, "major"))]) == 0.0


def test_copies_are_found_in_any_key():
    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 71, 69, 67]
    training = [melody(tune)]
    copied = metrics.originality([melody([p + 5 for p in tune])], training)
    assert copied["longest_copied_notes"] == len(tune)
    rng = np.random.default_rng(1)
    fresh = melody([int(p) for p in rng.integers(50, 80, 14)])
    assert metrics.originality([fresh], training)["longest_copied_notes"] <= 3
