"""captioned-shapes: exact captions in two languages, seeded pictures, held-out pairs."""

import numpy as np
import pytest

from museforge.crossmodal.shapes import (
    BACKGROUNDS,
    COLOURS,
    HELD_OUT_PAIRS,
    caption,
    captioned_shapes,
    render,
)


def test_captions_say_exactly_what_is_drawn_in_both_languages():
    attrs = {
        "colour": "red",
        "shape": "star",
        "size": "small",
        "position": "top-left",
        "background": "blue-gradient",
    }
    assert caption(attrs) == {
        "en": "a small red star top left on a blue gradient",
        "zh": "蓝色渐变背景上左上角有一个小红色星星",
    }


def test_the_shape_is_drawn_where_and_in_the_colour_the_caption_says():
    attrs = {
        "colour": "red",
        "shape": "square",
        "size": "large",
        "position": "top-left",
        "background": "white",
    }
    pic = render(attrs, 64, seed=0, index=0)
    red = (pic[..., 0] > 0.7) & (pic[..., 1] < 0.4) & (pic[..., 2] < 0.4)
    ys, xs = np.nonzero(red)
    assert red.mean() > 0.05
    assert xs.mean() < 32 and ys.mean() < 32  # top left
    assert np.allclose(pic[60, 60], 1.0, atol=0.02)  # white ground far from it


def test_splits_keep_the_held_out_pairs_apart_and_never_clash_with_the_ground():
    train = captioned_shapes(16, n=300, seed=3)
    held = captioned_shapes(16, n=60, seed=3, split="held-out")
    pairs = lambda d: {(a["colour"], a["shape"]) for a in d.attributes}  # noqa: E731
    assert not pairs(train) & HELD_OUT_PAIRS
    assert pairs(held) <= HELD_OUT_PAIRS and len(pairs(held)) > 3
    for a in train.attributes:
        assert a["colour"] != BACKGROUNDS[a["background"]][0]
    assert {a["colour"] for a in train.attributes} == set(COLOURS)
    assert train.languages == ("en", "zh") and train.images.shape == (300, 3, 16, 16)


def test_same_seed_same_pictures_and_different_seed_different():
    a, b = captioned_shapes(16, n=8, seed=1), captioned_shapes(16, n=8, seed=1)
    assert a.fingerprint == b.fingerprint
    assert captioned_shapes(16, n=8, seed=2).fingerprint != a.fingerprint
    with pytest.raises(ValueError, match="split"):
        captioned_shapes(16, n=1, split="test")
