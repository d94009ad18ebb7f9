"""The taste model over a gallery: learn from the user's ratings, rank fresh artworks.

Descriptors are cached per file hash under ``.museforge/embeddings`` so repeated training
does not re-run the feature network on every rated picture. Given an embedder (a
text–image encoder, wired in by the CLI and the studio), a picture's features are its
descriptor followed by the encoder's vector of it, kept in the meaning cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from museforge.core.artwork import Artwork
from museforge.errors import InputError
from museforge.gallery.meaning import Embedder, as_rows, picture_vectors
from museforge.gallery.store import ArtworkRecord, Gallery
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


def _check_modality(modality: str) -> None:
    if modality not in MODALITIES:
        raise InputError(f"the taste model handles {' and '.join(MODALITIES)}, not '{modality}'")


def uses_encoder(modality: str, embedder: Embedder | None) -> bool:
    """Whether the taste model of ``modality`` takes the embedder's vectors (pictures only)."""
    return embedder is not None and modality == "image"


@dataclass(frozen=True)
class Features:
    """Artworks of one modality as the taste model sees them."""

    records: list[ArtworkRecord]
    matrix: np.ndarray  # one row per record: the descriptor, then the encoder's vector
    blocks: tuple[int, ...]  # widths of the descriptor and (if used) the encoder's vector
    encoder: str | None  # the embedder's key when its vectors are used

    @property
    def encoder_vectors(self) -> np.ndarray | None:
        """The encoder's unit vectors (the last block), or None without an encoder."""
        return self.matrix[:, self.blocks[0] :] if self.encoder else None


def features(
    gallery: Gallery, records: list[ArtworkRecord], modality: str, embedder: Embedder | None
) -> Features:
    """The taste features of ``records`` (all of ``modality``); a file that cannot be read
    is an InputError naming it."""
    _check_modality(modality)
    rows = [_embedding(gallery, r.sha256, gallery.root / r.path, modality) for r in records]
    width = len(rows[0]) if rows else 0
    matrix = np.stack(rows).astype(np.float64) if rows else np.zeros((0, width))
    if not uses_encoder(modality, embedder):
        return Features(records, matrix, (width,), None)
    kept, vectors, _ = picture_vectors(gallery, embedder, records)
    by_sha = {r.sha256: v for r, v in zip(kept, vectors, strict=True)}
    lost = next((r for r in records if r.sha256 not in by_sha), None)
    if lost is not None:
        raise InputError(f"cannot read image '{gallery.root / lost.path}'")
    encoded = np.stack([by_sha[r.sha256] for r in records]) if records else np.zeros((0, 0))
    blocks = (width, encoded.shape[1]) if records else (width,)
    return Features(records, np.hstack([matrix, encoded]), blocks, embedder.key)


def rated(
    gallery: Gallery, modality: str, embedder: Embedder | None = None
) -> tuple[Features, np.ndarray]:
    """The features of every rated artwork of ``modality`` and their labels (1 liked,
    0 disliked)."""
    _check_modality(modality)
    records, labels = [], []
    for record in gallery.list(modality=modality, frames=True, limit=MAX_RATED):
        label = label_from_rating(record.stars, record.like)
        if label is not None:
            records.append(record)
            labels.append(label)
    return features(gallery, records, modality, embedder), np.asarray(labels, dtype=np.int64)


def rated_examples(
    gallery: Gallery, modality: str, embedder: Embedder | None = None
) -> list[tuple[np.ndarray, int]]:
    """(features, 1 liked / 0 disliked) for every rated artwork of ``modality``."""
    found, labels = rated(gallery, modality, embedder)
    return [(row, int(label)) for row, label in zip(found.matrix, labels, strict=True)]


def fit_taste(found: Features, labels: np.ndarray, modality: str) -> TasteModel:
    """A taste model fitted on rated ``found`` features and their labels."""
    model = TasteModel(modality, encoder=found.encoder)
    return model.fit(found.matrix, labels, blocks=found.blocks)


def train_taste(gallery: Gallery, modality: str, embedder: Embedder | None = None) -> TasteModel:
    """A taste model fitted on all of the user's ratings of one modality (with the
    embedder's picture vectors beside the descriptors when one is given)."""
    return fit_taste(*rated(gallery, modality, embedder), modality)


def evaluate_gallery_taste(
    gallery: Gallery, seed: int = 0, embedder: Embedder | None = None
) -> dict[str, Any]:
    """Held-out accuracy per modality (or why it cannot be measured yet). Where the
    embedder's vectors are used, ``encoder`` is True and ``without_encoder`` holds the
    accuracy of the descriptors alone on the same folds."""
    report: dict[str, Any] = {}
    for modality in MODALITIES:
        try:
            found, labels = rated(gallery, modality, embedder)
            examples = list(zip(found.matrix, labels.tolist(), strict=True))
            result = evaluate_taste(examples, seed=seed, modality=modality, blocks=found.blocks)
            result["encoder"] = found.encoder is not None
            if found.encoder is not None:
                alone = [(row[: found.blocks[0]], label) for row, label in examples]
                plain = evaluate_taste(alone, seed=seed, modality=modality)
                result["without_encoder"] = plain["accuracy"]
            report[modality] = result
        except InputError as err:
            report[modality] = {"modality": modality, "error": str(err)}
    return report


def artwork_embedding(art: Artwork, embedder: Embedder | None = None) -> np.ndarray:
    """The features of an artwork still in memory (fresh samples, before saving)."""
    if art.image is None:
        return embed_text(art.text or "")
    descriptor = embed_image(art.image)
    if embedder is None:
        return descriptor
    encoded = as_rows(embedder.images([art.image]), 1)[0]
    return np.concatenate([descriptor.astype(np.float64), encoded])


def rank_artworks(
    model: TasteModel, artworks: list[Artwork], embedder: Embedder | None = None
) -> list[tuple[Artwork, float]]:
    """``artworks`` with their taste scores, the most likely to be liked first; the
    embedder must be the one ``model`` was trained with (or None if it had none)."""
    key = embedder.key if uses_encoder(model.modality, embedder) else None
    if key != model.encoder:
        raise InputError(
            "the taste model was trained with other picture features than it is asked to "
            "rank with (train it again with the same encoder)"
        )
    vectors = [artwork_embedding(a, embedder if key else None) for a in artworks]
    scores = model.score(np.stack(vectors)) if vectors else np.zeros(0)
    return [(artworks[i], float(scores[i])) for i in rank(model, vectors)]
