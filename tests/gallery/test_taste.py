import json

import numpy as np
import pytest
from PIL import Image

from museforge.errors import InputError
from museforge.gallery.taste import (
    TasteModel,
    block_weights,
    embed,
    embed_image,
    embed_text,
    evaluate_taste,
    label_from_rating,
    rank,
)


def noise_pattern(rng: np.random.Generator, reddish: bool, size: int = 48) -> Image.Image:
    """Random stripes and speckle over a red-ish or blue-ish base colour."""
    base = rng.uniform([150, 20, 20], [255, 110, 90]) if reddish else None
    if base is None:
        base = rng.uniform([20, 30, 150], [90, 120, 255])
    y, x = np.mgrid[:size, :size]
    period = rng.uniform(4, 16)
    angle = rng.uniform(0, np.pi)
    stripes = np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / period)
    img = base * (0.75 + 0.2 * stripes[..., None]) + rng.normal(0, 18, (size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


MOON = "月明夜霜光星清寒影照窗前床"
RIVER = "山水江风雨舟帆岸柳花春草绿"


def poem(rng: np.random.Generator, chars: str) -> str:
    lines = ["".join(rng.choice(list(chars), 5)) for _ in range(4)]
    return "，".join(lines[:2]) + "。\n" + "，".join(lines[2:]) + "。"


@pytest.fixture(scope="module")
def image_set():
    rng = np.random.default_rng(1)
    labels = [1, 0] * 10
    images = [noise_pattern(rng, bool(label)) for label in labels]
    return [(embed_image(img), label) for img, label in zip(images, labels, strict=True)]


@pytest.fixture(scope="module")
def text_set():
    rng = np.random.default_rng(2)
    labels = [1, 0] * 10
    return [(embed_text(poem(rng, MOON if lab else RIVER)), lab) for lab in labels]


def test_image_embedding_shape_and_determinism():
    img = noise_pattern(np.random.default_rng(0), True, size=40)
    a, b = embed_image(img), embed_image(img.copy())
    assert a.dtype == np.float32 and a.ndim == 1
    assert np.array_equal(a, b)
    # Same size whatever the picture's shape; the colour histogram sums to one.
    wide = embed_image(Image.new("RGB", (200, 30), (10, 200, 30)))
    assert wide.shape == a.shape
    assert wide[-64:].sum() == pytest.approx(1.0, abs=1e-5)
    assert np.isfinite(a).all()


def test_text_embedding_shape_norm_and_determinism():
    a = embed_text("床前明月光，疑是地上霜。")
    assert a.shape == (2**12,) and a.dtype == np.float32
    assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(a, embed_text("床前明月光，疑是地上霜。"))
    assert not np.array_equal(a, embed_text("The moon over the frost"))


def test_embed_reads_files_and_rejects_bad_ones(tmp_path):
    png = tmp_path / "a.png"
    img = Image.new("RGB", (20, 20), (200, 30, 30))
    img.save(png)
    assert np.array_equal(embed(png, "image"), embed_image(img))
    txt = tmp_path / "a.txt"
    txt.write_text("静夜思\n", encoding="utf-8")
    assert np.array_equal(embed(txt, "text"), embed_text("静夜思\n"))
    with pytest.raises(InputError, match="not 'audio'"):
        embed(txt, "audio")
    with pytest.raises(InputError, match="cannot read image"):
        embed(txt, "image")
    with pytest.raises(InputError, match="cannot read text"):
        embed(tmp_path / "missing.txt", "text")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(InputError, match="cannot read text"):
        embed(bad, "text")


@pytest.mark.parametrize(
    ("stars", "like", "label"),
    [
        (None, None, None),
        (5, None, 1),
        (4, None, 1),
        (3, None, None),
        (2, None, 0),
        (1, None, 0),
        (None, True, 1),
        (None, False, 0),
        (3, True, 1),
        (5, False, 0),
    ],
)
def test_label_from_rating(stars, like, label):
    assert label_from_rating(stars, like) == label


def test_images_of_the_liked_colour_are_learned_and_ranked_first(image_set):
    report = evaluate_taste(image_set, seed=0, modality="image")
    assert report["n"] == 20 and report["folds"] == 5
    assert report["baseline"] == 0.5
    assert report["accuracy"] >= 0.9
    X = np.stack([v for v, _ in image_set])
    model = TasteModel("image").fit(X, [lab for _, lab in image_set])
    rng = np.random.default_rng(99)
    fresh = [embed_image(noise_pattern(rng, reddish)) for reddish in (False, False, True)]
    order = rank(model, fresh)
    assert order[0] == 2 and sorted(order) == [0, 1, 2]


def test_texts_of_the_liked_vocabulary_are_learned_and_ranked_first(text_set):
    report = evaluate_taste(text_set, seed=3, folds=4, modality="text")
    assert report["folds"] == 4 and report["accuracy"] >= 0.9 > report["baseline"]
    X = np.stack([v for v, _ in text_set])
    model = TasteModel("text").fit(X, [lab for _, lab in text_set])
    rng = np.random.default_rng(7)
    fresh = [embed_text(poem(rng, RIVER)), embed_text(poem(rng, MOON))]
    assert rank(model, fresh) == [1, 0]
    scores = model.score(np.stack(fresh))
    assert scores[1] > 0.5 > scores[0]


def test_folds_shrink_to_the_smaller_class(text_set):
    liked = [e for e in text_set if e[1] == 1][:2]
    disliked = [e for e in text_set if e[1] == 0][:6]
    report = evaluate_taste(liked + disliked, folds=5)
    assert report["folds"] == 2 and report["baseline"] == 0.75
    assert 0.0 <= report["accuracy"] <= 1.0


def test_too_few_ratings_say_what_is_missing(image_set):
    X = np.stack([image_set[0][0], image_set[1][0], image_set[2][0]])
    message = r"rate at least 2 liked and 2 disliked image artworks .* \(have 2 liked, 1 disliked\)"
    with pytest.raises(InputError, match=message):
        TasteModel("image").fit(X, [1, 0, 1])
    with pytest.raises(InputError, match=r"have 1 liked, 0 disliked"):
        evaluate_taste([image_set[0]], modality="image")
    with pytest.raises(InputError, match=r"have 0 liked, 0 disliked"):
        evaluate_taste([], modality="text")


def test_save_load_round_trip_gives_identical_scores(tmp_path, image_set):
    X = np.stack([v for v, _ in image_set])
    model = TasteModel("image").fit(X, [lab for _, lab in image_set])
    path = model.save(tmp_path / "taste" / "image.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "museforge-taste" and data["counts"] == {"liked": 10, "disliked": 10}
    loaded = TasteModel.load(path)
    assert loaded.modality == "image" and loaded.encoder is None
    assert np.array_equal(loaded.score(X), model.score(X))
    with pytest.raises(InputError, match="expects"):
        loaded.score(X[:, :10])
    # The encoder's key travels with the model; files from before encoders still load.
    joined = TasteModel("image", encoder="abc123").fit(X, [lab for _, lab in image_set])
    assert TasteModel.load(joined.save(tmp_path / "joined.json")).encoder == "abc123"
    del data["encoder"]
    path.write_text(json.dumps(data), encoding="utf-8")
    assert TasteModel.load(path).encoder is None


def test_blocks_get_the_first_blocks_total_variance(image_set):
    weights = block_weights((8, 2, 32))
    assert weights.shape == (42,)
    assert (weights[:8] ** 2).sum() == pytest.approx((weights[8:10] ** 2).sum())
    assert (weights[:8] ** 2).sum() == pytest.approx((weights[10:] ** 2).sum())
    assert np.array_equal(block_weights((5,)), np.ones(5))
    with pytest.raises(ValueError, match="positive"):
        block_weights((3, 0))
    # Standardised and weighted, a block of 2 columns carries as much as the first 8.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 10)) * rng.uniform(0.1, 10.0, size=10)
    model = TasteModel("image").fit(X, [1, 0] * 10, blocks=(8, 2))
    z = model.standardise(X)
    assert (z[:, :8] ** 2).sum() == pytest.approx((z[:, 8:] ** 2).sum())
    with pytest.raises(InputError, match="do not add up"):
        TasteModel("image").fit(X, [1, 0] * 10, blocks=(8, 3))


def test_untrained_and_damaged_models_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not been trained"):
        TasteModel("text").score(np.zeros((1, 4)))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read taste model"):
        TasteModel.load(bad)
    bad.write_text(json.dumps({"format": "museforge-taste", "version": 1}), encoding="utf-8")
    with pytest.raises(InputError, match="cannot read taste model"):
        TasteModel.load(bad)
    with pytest.raises(InputError, match="cannot read taste model"):
        TasteModel.load(tmp_path / "missing.json")
