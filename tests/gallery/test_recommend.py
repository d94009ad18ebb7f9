"""The taste model over a gallery, with and without an encoder's picture vectors."""

from __future__ import annotations

import numpy as np
import pytest

from museforge.core.artwork import Artwork
from museforge.errors import InputError
from museforge.gallery.recommend import (
    evaluate_gallery_taste,
    rank_artworks,
    rated,
    train_taste,
)
from tests.gallery.layout import LayoutEmbedder, layout_gallery, square_picture


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    g = layout_gallery(tmp_path_factory.mktemp("taste") / "gallery", n=20)
    yield g
    g.close()


def test_the_encoder_sees_what_the_descriptors_miss(gallery):
    report = evaluate_gallery_taste(gallery, seed=0, embedder=LayoutEmbedder())
    image = report["image"]
    assert image["encoder"] is True and image["n"] == 20 and image["baseline"] == 0.5
    # The same folds: position is the whole of this user's taste, and colour statistics
    # barely see it.
    assert image["accuracy"] >= 0.9
    assert image["without_encoder"] <= 0.75
    plain = evaluate_gallery_taste(gallery, seed=0)["image"]
    assert plain["encoder"] is False and "without_encoder" not in plain
    assert plain["accuracy"] == image["without_encoder"]
    assert "rate at least" in report["text"]["error"]


def test_features_join_descriptor_and_encoder_vector_from_the_cache(gallery):
    first = LayoutEmbedder()
    found, labels = rated(gallery, "image", first)
    assert found.encoder == "layout-v1" and labels.tolist().count(1) == 10
    width = found.blocks[0]
    assert found.blocks == (width, 16) and found.matrix.shape == (20, width + 16)
    assert np.allclose(np.linalg.norm(found.encoder_vectors, axis=1), 1.0, atol=1e-5)
    plain, _ = rated(gallery, "image")
    assert plain.encoder is None and plain.encoder_vectors is None
    assert np.array_equal(plain.matrix, found.matrix[:, :width])
    again = LayoutEmbedder()
    rated(gallery, "image", again)
    assert again.pictures == 0  # the meaning cache holds the vectors


def test_fresh_pictures_like_the_liked_ones_are_ranked_first(gallery):
    embedder = LayoutEmbedder()
    model = train_taste(gallery, "image", embedder)
    assert model.encoder == embedder.key
    rng = np.random.default_rng(42)
    tops = [True, False, False, True, False, True, False, False]
    fresh = [Artwork(str(k), square_picture(rng, top)) for k, top in enumerate(tops)]
    ranked = rank_artworks(model, fresh, embedder)
    order = [int(art.name) for art, _ in ranked]
    assert {order[0], order[1], order[2]} == {0, 3, 5}
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True) and scores[2] > 0.5 > scores[3]


def test_a_model_is_only_used_with_the_features_it_learnt(gallery):
    with_encoder = train_taste(gallery, "image", LayoutEmbedder())
    plain = train_taste(gallery, "image")
    art = [Artwork("fresh", square_picture(np.random.default_rng(1), True))]
    for model, embedder in (
        (with_encoder, None),
        (with_encoder, LayoutEmbedder("layout-v2")),
        (plain, LayoutEmbedder()),
    ):
        with pytest.raises(InputError, match="other picture features"):
            rank_artworks(model, art, embedder)
    assert len(rank_artworks(plain, art)) == 1
