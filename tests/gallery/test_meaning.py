"""Search by meaning over the gallery with a stand-in embedder whose space is colour: a
picture's vector is its mean colour, a word's is the colour it names."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from museforge.errors import InputError
from museforge.gallery import meaning
from museforge.gallery.provenance import save_png, save_sidecar, save_text
from museforge.gallery.store import Gallery

WORDS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "purple": (255, 0, 255)}


class ColourEmbedder:
    """Counts what it is asked to encode, so a test can see the cache at work."""

    def __init__(self, key: str = "colour-v1") -> None:
        self.key = key
        self.pictures = 0
        self.texts_asked: list[str] = []

    def images(self, pictures: list[Image.Image]) -> torch.Tensor:
        self.pictures += len(pictures)
        rows = [np.asarray(p.convert("RGB"), np.float32).reshape(-1, 3).mean(0) for p in pictures]
        return F.normalize(torch.tensor(np.stack(rows)), dim=-1)

    def texts(self, texts: list[str]) -> torch.Tensor:
        self.texts_asked += texts
        rows = [np.sum([WORDS.get(w, (0.0, 0.0, 0.0)) for w in t.split()], axis=0) for t in texts]
        return F.normalize(torch.tensor(np.stack(rows), dtype=torch.float32) + 1e-6, dim=-1)

    def unknown(self, text: str) -> list[str]:
        return list(dict.fromkeys(c for c in text if not c.isascii()))


def picture(root, name: str, colour: str, created: float) -> None:
    img = Image.new("RGB", (12, 12), COLOURS[colour])
    save_png(root / "pics" / f"{name}.png", img, {"verb": "sample", "created": created})


@pytest.fixture
def gallery(tmp_path):
    """Four pictures (newest first: blue, green, purple, red), a poem and a piece of music."""
    root = tmp_path / "gallery"
    for k, colour in enumerate(("red", "purple", "green", "blue")):
        picture(root, colour, colour, created=100.0 + k)
    save_text(root / "poems" / "red.txt", "red red red", {"verb": "poem", "created": 200.0})
    tune = root / "music" / "red.mid"
    tune.parent.mkdir(parents=True)
    tune.write_bytes(b"MThd not really")  # music is never opened as a picture
    save_sidecar(tune, {"verb": "tune", "created": 300.0})
    g = Gallery(root)
    g.sync()
    yield g
    g.close()


def names(ranking: meaning.Ranking) -> list[str]:
    return [m.record.path for m in ranking.matches]


def test_ranks_pictures_by_cosine_and_skips_texts_and_music(gallery):
    ranking = meaning.search(gallery, ColourEmbedder(), "red")
    # Ties (green and blue, both at 0) keep the listing's order: newest first.
    assert names(ranking) == ["pics/red.png", "pics/purple.png", "pics/blue.png", "pics/green.png"]
    scores = [m.score for m in ranking.matches]
    assert scores == pytest.approx([1.0, 1 / math.sqrt(2), 0.0, 0.0], abs=1e-5)
    assert ranking.unknown == [] and ranking.unreadable == 0 and ranking.note is None
    mixed = meaning.search(gallery, ColourEmbedder(), "blue  red")
    assert names(mixed)[0] == "pics/purple.png"
    assert mixed.matches[0].score == pytest.approx(1.0, abs=1e-5)


def test_rank_keeps_to_the_records_it_is_given(gallery):
    few = [r for r in gallery.list() if r.path in ("pics/green.png", "poems/red.txt")]
    ranking = meaning.rank(gallery, ColourEmbedder(), "red", few)
    assert names(ranking) == ["pics/green.png"]


def test_a_second_search_reads_the_cache_and_encodes_only_new_pictures(gallery):
    first = ColourEmbedder()
    before = meaning.search(gallery, first, "green")
    assert first.pictures == 4
    again = ColourEmbedder()
    after = meaning.search(gallery, again, "green")
    assert again.pictures == 0
    assert [(m.record.id, m.score) for m in after.matches] == [
        (m.record.id, pytest.approx(m.score)) for m in before.matches
    ]
    picture(gallery.root, "lime", "green", created=500.0)
    gallery.sync()
    newcomer = ColourEmbedder()
    assert names(meaning.search(gallery, newcomer, "green"))[:2] == [
        "pics/lime.png",
        "pics/green.png",
    ]
    assert newcomer.pictures == 1
    # Other weights, other vectors: nothing is shared between embedder keys.
    other = ColourEmbedder(key="colour-v2")
    meaning.search(gallery, other, "green")
    assert other.pictures == 5


def test_the_cache_is_rebuilt_when_deleted(gallery):
    meaning.search(gallery, ColourEmbedder(), "red")
    cache = gallery.root / ".museforge" / meaning.CACHE_FILE
    assert cache.is_file()
    for path in cache.parent.glob(meaning.CACHE_FILE + "*"):
        path.unlink()
    fresh = ColourEmbedder()
    assert names(meaning.search(gallery, fresh, "red"))[0] == "pics/red.png"
    assert fresh.pictures == 4


def test_an_animation_is_ranked_by_its_first_frame(gallery):
    frames = [Image.new("RGB", (8, 8), COLOURS[c]) for c in ("blue", "red")]
    gif = gallery.root / "anim" / "walk.gif"
    gif.parent.mkdir()
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100)
    save_sidecar(gif, {"verb": "interpolate", "created": 50.0})
    gallery.sync()
    ranking = meaning.search(gallery, ColourEmbedder(), "blue")
    walk = next(m for m in ranking.matches if m.record.path == "anim/walk.gif")
    # Blue (the first frame), not the blue-and-red mean of the frames (0.71).
    assert walk.record.modality == "animation" and walk.score == pytest.approx(1.0, abs=1e-5)


def test_an_unreadable_picture_is_left_out_and_said(gallery):
    (gallery.root / "pics" / "green.png").write_bytes(b"not a png any more")
    ranking = meaning.rank(gallery, ColourEmbedder(), "green", gallery.list())  # index as was
    assert "pics/green.png" not in names(ranking) and len(ranking.matches) == 3
    assert ranking.unreadable == 1 and "1 pictures could not be read" in ranking.note


def test_empty_query_is_refused_and_unseen_characters_are_named(gallery):
    for blank in ("", "   \n"):
        with pytest.raises(InputError, match="query is empty"):
            meaning.search(gallery, ColourEmbedder(), blank)
    ranking = meaning.search(gallery, ColourEmbedder(), "red 红")
    assert ranking.unknown == ["红"] and "'红'" in ranking.note
    assert names(ranking)[0] == "pics/red.png"  # ranked anyway


def test_looks_like_names_the_closest_labels_and_caches_their_vectors(gallery):
    labels = ["green", "red", "blue", "red blue"]
    purple = next(r for r in gallery.list() if r.path == "pics/purple.png")
    first = ColourEmbedder()
    tags = meaning.looks_like(gallery, first, purple, labels, top=3)
    assert [t for t, _ in tags] == ["red blue", "red", "blue"]
    assert [s for _, s in tags] == pytest.approx([1.0, 1 / math.sqrt(2), 1 / math.sqrt(2)])
    assert sorted(first.texts_asked) == sorted(labels)
    again = ColourEmbedder()
    assert meaning.looks_like(gallery, again, purple, labels, top=3) == tags
    assert again.texts_asked == [] and again.pictures == 0
    poem = next(r for r in gallery.list() if r.modality == "text")
    with pytest.raises(InputError, match="not a picture"):
        meaning.looks_like(gallery, again, poem, labels)
