"""Why the taste model recommends an artwork: the liked artworks nearest to it as the
taste model sees them, and the words closest to the direction of the user's taste in a
text–image encoder's space.

The taste direction is the mean encoder vector of the liked pictures minus that of the
disliked ones; the words are labels (the screens pass the encoder's training captions)
ranked by their cosine with it. The direction belongs to the user's taste, not to one
picture: every recommendation shares its words, and the nearest liked pictures are what
sets one apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from museforge.gallery.meaning import Embedder, text_vectors
from museforge.gallery.recommend import features, fit_taste, rated
from museforge.gallery.store import ArtworkRecord, Gallery

NEAREST = 4  # liked artworks shown
WORDS = 5  # words shown
NO_ENCODER = "the words closest to your taste need a text–image encoder"
PICTURES_ONLY = "the words closest to your taste are found for pictures only"
NO_LABELS = "the encoder has no captions to name your taste with"
NO_DIRECTION = "your liked and disliked pictures look alike to the encoder: no words stand out"


@dataclass(frozen=True)
class Explanation:
    """What lies behind the taste score of one artwork."""

    record: ArtworkRecord
    score: float  # the taste model's probability that the user likes it
    encoder: bool  # whether the encoder's vectors were among the features
    nearest: list[tuple[ArtworkRecord, float]]  # liked artworks, nearest first, with cosines
    words: list[tuple[str, float]]  # labels closest to the taste direction, with cosines
    note: str | None  # why there are no words, in one line


def _cosines(rows: np.ndarray, target: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(target)
    return (rows @ target) / np.maximum(norms, 1e-12)


def taste_direction(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The mean of the liked rows of ``vectors`` minus the mean of the disliked ones
    (``labels`` 1 and 0), unnormalised; both kinds must be present."""
    return vectors[labels == 1].mean(axis=0) - vectors[labels == 0].mean(axis=0)


def closest_words(
    direction: np.ndarray, labels: Sequence[str], vectors: np.ndarray, top: int = WORDS
) -> list[tuple[str, float]]:
    """The ``top`` labels whose ``vectors`` (rows) have the highest cosine with
    ``direction``, best first (ties keep the order of ``labels``)."""
    scores = _cosines(vectors, direction)
    order = np.argsort(-scores, kind="stable")[:top]
    return [(labels[i], float(scores[i])) for i in order]


def explain(
    gallery: Gallery,
    record: ArtworkRecord,
    embedder: Embedder | None = None,
    labels: Sequence[str] = (),
    nearest: int = NEAREST,
    words: int = WORDS,
) -> Explanation:
    """Why the taste model (trained on the user's ratings of ``record``'s modality, with
    the embedder's picture vectors when one is given) scores ``record`` as it does.

    ``nearest``: the liked artworks closest to ``record`` by cosine of the features as the
    model sees them (standardised), the record itself left out. ``words``: the ``labels``
    closest to the taste direction (pictures with an embedder only; else a note says why
    there are none). An InputError when the ratings are too few or a file is unreadable.
    """
    modality = record.modality
    found, rating = rated(gallery, modality, embedder)
    model = fit_taste(found, rating, modality)
    target = features(gallery, [record], modality, embedder)
    score = float(model.score(target.matrix)[0])
    closeness = _cosines(model.standardise(found.matrix), model.standardise(target.matrix)[0])
    order = np.argsort(-closeness, kind="stable")
    others = [i for i in order if rating[i] == 1 and found.records[i].id != record.id]
    near = [(found.records[i], float(closeness[i])) for i in others[:nearest]]
    named, note = _words(gallery, found.encoder_vectors, rating, embedder, labels, words, modality)
    return Explanation(record, score, found.encoder is not None, near, named, note)


def _words(
    gallery: Gallery,
    vectors: np.ndarray | None,
    rating: np.ndarray,
    embedder: Embedder | None,
    labels: Sequence[str],
    top: int,
    modality: str,
) -> tuple[list[tuple[str, float]], str | None]:
    if vectors is None or embedder is None:
        return [], NO_ENCODER if modality == "image" else PICTURES_ONLY
    if not labels:
        return [], NO_LABELS
    direction = taste_direction(vectors, rating)
    if np.linalg.norm(direction) < 1e-6:
        return [], NO_DIRECTION
    label_vectors = text_vectors(gallery, embedder, list(labels))
    return closest_words(direction, labels, label_vectors, top), None
