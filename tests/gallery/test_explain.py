"""Why this recommendation: the nearest liked artworks and the words of the taste."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from museforge.errors import InputError
from museforge.gallery import explain as why
from museforge.gallery.provenance import save_png, save_text
from tests.gallery.layout import HALVES, LayoutEmbedder, layout_gallery

WORDS = list(HALVES)  # top, bottom, left, right, square


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """Twelve rated pictures (the user likes a square on top) and one unrated: liked
    picture 04 with a little noise added."""
    root = tmp_path_factory.mktemp("why") / "gallery"
    g = layout_gallery(root, n=12, seed=3)
    pixels = np.asarray(Image.open(root / "pics" / "04.png").convert("RGB"), np.float32)
    noisy = pixels + np.random.default_rng(0).normal(0, 4, pixels.shape)
    fresh = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    save_png(root / "new" / "fresh.png", fresh, {"verb": "sample", "created": 99.0})
    g.sync()
    yield g
    g.close()


def record(gallery, path: str):
    return next(r for r in gallery.list(frames=True, limit=100) if r.path == path)


def test_nearest_liked_and_the_words_of_the_taste(gallery):
    fresh = record(gallery, "new/fresh.png")
    found = why.explain(gallery, fresh, LayoutEmbedder(), WORDS)
    assert found.encoder and found.note is None
    assert found.score > 0.5
    paths = [r.path for r, _ in found.nearest]
    assert len(paths) == why.NEAREST and paths[0] == "pics/04.png"
    assert all(r.like is True for r, _ in found.nearest)
    cosines = [c for _, c in found.nearest]
    assert cosines == sorted(cosines, reverse=True) and cosines[0] > 0.9
    # Liked squares sit on top, disliked ones below: the direction points up.
    named = [w for w, _ in found.words]
    assert len(named) == 5 and named[0] == "top" and named[-1] == "bottom"
    top, *_, bottom = (c for _, c in found.words)
    assert top > 0.5 and bottom < -0.5


def test_a_rated_picture_is_not_its_own_nearest(gallery):
    liked = record(gallery, "pics/04.png")
    found = why.explain(gallery, liked, LayoutEmbedder(), WORDS, nearest=2, words=1)
    assert "pics/04.png" not in [r.path for r, _ in found.nearest]
    assert len(found.nearest) == 2 and [w for w, _ in found.words] == ["top"]


def test_without_an_encoder_the_descriptors_speak_and_a_note_says_why_no_words(gallery):
    fresh = record(gallery, "new/fresh.png")
    found = why.explain(gallery, fresh)
    assert not found.encoder and found.words == [] and found.note == why.NO_ENCODER
    # The copy's colours are the original's, so the descriptors find it too.
    assert found.nearest[0][0].path == "pics/04.png"
    no_labels = why.explain(gallery, fresh, LayoutEmbedder(), [])
    assert no_labels.words == [] and no_labels.note == why.NO_LABELS


def test_direction_and_closest_words_are_plain_maths():
    vectors = np.array([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0], [0.2, 0.8]])
    direction = why.taste_direction(vectors, np.array([1, 1, 0, 0]))
    assert direction == pytest.approx([0.8, -0.8])
    words = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    ranked = why.closest_words(direction, ["b", "a", "ab"], words, top=3)
    assert [w for w, _ in ranked] == ["a", "ab", "b"]
    assert [c for _, c in ranked] == pytest.approx([2**-0.5, 0.0, -(2**-0.5)])


def test_poems_are_explained_by_their_neighbours_only(tmp_path):
    from museforge.gallery.store import Gallery

    root = tmp_path / "gallery"
    poems = {"moon1": "明月光", "moon2": "月明夜", "river1": "江水流", "river2": "山水江"}
    for name, text in poems.items():
        save_text(root / f"{name}.txt", text, {"verb": "poem", "created": 1.0})
    save_text(root / "new.txt", "月光明", {"verb": "poem", "created": 2.0})
    g = Gallery(root)
    g.sync()
    for r in g.list():
        if r.path != "new.txt":
            g.rate(r.id, like=r.path.startswith("moon"))
    fresh = record(g, "new.txt")
    found = why.explain(g, fresh, LayoutEmbedder(), WORDS)
    assert found.score > 0.5 and not found.encoder
    assert {r.path for r, _ in found.nearest} == {"moon1.txt", "moon2.txt"}
    assert found.words == [] and found.note == why.PICTURES_ONLY
    g.rate(record(g, "moon1.txt").id, like=False)
    with pytest.raises(InputError, match="rate at least 2 liked"):
        why.explain(g, fresh)
    g.close()
