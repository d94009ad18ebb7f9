"""The taste model over a gallery: learn from the user's ratings, rank fresh artworks.

Embeddings are cached per file hash under ``.museforge/embeddings`` so repeated training
does not re-run the feature network on every rated picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from museforge.core.artwork import Artwork
from museforge.errors import InputError
from museforge.gallery.store import Gallery
from museforge.gallery.taste import (
    MODALITIES,
    TasteModel,
    embed,
    embed_image,
    embed_text,
    evaluate_taste,
    label_from_rating,
    rank,
)

MAX_RATED = 5000


def _embedding(gallery: Gallery, sha256: str, path: Path, modality: str) -> np.ndarray:
    cache = gallery.root / ".museforge" / "embeddings" / modality / f"{sha256}.npy"
    if cache.is_file():
        try:
            return np.load(cache, allow_pickle=False)
        except (OSError, ValueError):
            pass  # a damaged cache entry is simply recomputed
    vec = embed(path, modality)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.stem}.tmp.npy")
    np.save(tmp, vec, allow_pickle=False)
    tmp.replace(cache)
    return vec


def rated_examples(gallery: Gallery, modality: str) -> list[tuple[np.ndarray, int]]:
    """(embedding, 1 liked / 0 disliked) for every rated artwork of ``modality``."""
    if modality not in MODALITIES:
        raise InputError(f"the taste model handles {' and '.join(MODALITIES)}, not '{modality}'")
    examples = []
    for record in gallery.list(modality=modality, frames=True, limit=MAX_RATED):
        label = label_from_rating(record.stars, record.like)
        if label is not None:
            path = gallery.root / record.path
            examples.append((_embedding(gallery, record.sha256, path, modality), label))
    return examples


def train_taste(gallery: Gallery, modality: str) -> TasteModel:
    """A taste model fitted on all of the user's ratings of one modality."""
    examples = rated_examples(gallery, modality)
    model = TasteModel(modality)
    model.fit([v for v, _ in examples], [label for _, label in examples])
    return model


def evaluate_gallery_taste(gallery: Gallery, seed: int = 0) -> dict[str, Any]:
    """Held-out accuracy per modality (or why it cannot be measured yet)."""
    report: dict[str, Any] = {}
    for modality in MODALITIES:
        try:
            report[modality] = evaluate_taste(
                rated_examples(gallery, modality), seed=seed, modality=modality
            )
        except InputError as err:
            report[modality] = {"modality": modality, "error": str(err)}
    return report


def artwork_embedding(art: Artwork) -> np.ndarray:
    """The embedding of an artwork still in memory (fresh samples, before saving)."""
    if art.image is not None:
        return embed_image(art.image)
    return embed_text(art.text or "")


def rank_artworks(model: TasteModel, artworks: list[Artwork]) -> list[tuple[Artwork, float]]:
    """``artworks`` with their taste scores, the most likely to be liked first."""
    vectors = [artwork_embedding(a) for a in artworks]
    scores = model.score(np.stack(vectors)) if vectors else np.zeros(0)
    return [(artworks[i], float(scores[i])) for i in rank(model, vectors)]
