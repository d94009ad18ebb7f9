"""Colour and texture distances against closed forms and their properties; style_scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from museforge.errors import InputError
from museforge.style.colour import match_palette
from museforge.style.images import load_rgb, resize_long_side, resize_to
from museforge.style.scores import colour_distance, style_scores, texture_distance


def _noise(seed: int, h: int = 64, w: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 1, h, w, generator=g).expand(-1, 3, -1, -1)


def _ramp(h: int = 64, w: int = 64) -> torch.Tensor:
    return torch.linspace(0, 1, w).expand(1, 3, h, w)


@pytest.mark.parametrize("distance", [colour_distance, texture_distance])
def test_distances_are_zero_for_one_picture_and_symmetric(distance) -> None:
    photo, other = load_rgb("astronaut", max_side=64), load_rgb("coffee", max_side=80)
    assert distance(photo, photo.clone()) == 0
    assert distance(photo, other) > 0
    assert distance(photo, other) == pytest.approx(distance(other, photo), rel=1e-12)


def test_colour_distance_of_flat_pictures_is_their_lab_difference() -> None:
    a, b = [0.8, 0.3, 0.2], [0.1, 0.5, 0.6]
    flat_a = torch.tensor(a).view(1, 3, 1, 1).expand(1, 3, 20, 30)
    flat_b = torch.tensor(b).view(1, 3, 1, 1).expand(1, 3, 40, 10)  # sizes may differ
    lab_a = rgb2lab(np.array([a], dtype=np.float32).astype(np.float64))
    lab_b = rgb2lab(np.array([b], dtype=np.float32).astype(np.float64))
    expected = np.abs(lab_a - lab_b).mean()
    assert colour_distance(flat_a, flat_b) == pytest.approx(expected, rel=1e-9)


def test_colour_distance_of_two_halves_is_the_area_between_distributions() -> None:
    # Half black and half white against all white: W1 is half the L*, a*, b* gap.
    white = torch.ones(1, 3, 16, 16)
    half = white.clone()
    half[..., :8] = 0
    lab_white = rgb2lab(np.ones((1, 3)))[0]
    expected = 0.5 * np.abs(lab_white - rgb2lab(np.zeros((1, 3)))[0]).mean()
    assert colour_distance(half, white) == pytest.approx(expected, rel=1e-9)


def test_colour_distance_grows_with_the_shift() -> None:
    photo = load_rgb("coffee", max_side=64) * 0.6 + 0.2  # room to shift without clipping
    brighter = [colour_distance(photo, photo + d) for d in (0.02, 0.05, 0.1, 0.2)]
    assert brighter == sorted(brighter) and brighter[0] > 0
    rotated = photo[:, [1, 2, 0]]  # red to green, green to blue, blue to red: a hue turn
    hue = [colour_distance(photo, torch.lerp(photo, rotated, t)) for t in (0.1, 0.3, 0.6, 1.0)]
    assert hue == sorted(hue) and hue[0] > 0


def test_texture_distance_tells_noise_from_a_smooth_ramp() -> None:
    noise_vs_noise = texture_distance(_noise(1), _noise(2))
    noise_vs_ramp = texture_distance(_noise(1), _ramp())
    assert noise_vs_ramp > 10 * noise_vs_noise
    assert noise_vs_ramp <= 1  # chi-square with the ½: at most 1
    assert texture_distance(_noise(1), _noise(2, 48, 96)) < 0.05  # sizes may differ


def test_texture_ignores_brightness_but_colour_does_not() -> None:
    # LBP compares neighbours only, so adding whole grey levels (no clipping) changes no code.
    grey = torch.round(_noise(3) * 200) / 255
    brighter = grey + 40 / 255
    assert texture_distance(grey, brighter) == 0
    assert colour_distance(grey, brighter) > 5


def test_float_noise_on_flat_areas_is_not_texture() -> None:
    # Why the luminance is rounded to uint8 first: 1e-6 of noise on a flat picture (what a
    # resize or a colour map leaves) would otherwise flip neighbour comparisons everywhere.
    flat = torch.full((1, 3, 32, 32), 0.4)  # grey level 102 (127.5 would round either way)
    g = torch.Generator().manual_seed(0)
    jittered = flat + 1e-6 * torch.randn(flat.shape, generator=g)
    assert texture_distance(flat, jittered) == 0
    assert texture_distance(flat, _noise(4, 32, 32)) > 0.5


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: texture_distance(torch.rand(1, 3, 8, 40), _noise(1)), "9×9"),
        (lambda: colour_distance(torch.rand(3, 16, 16), _noise(1)), "first picture"),
        (lambda: texture_distance(_noise(1), torch.rand(1, 1, 16, 16)), "second picture"),
        (
            lambda: style_scores(_noise(1), _noise(2), torch.zeros(1, 3, 9, 9, dtype=torch.uint8)),
            "style",
        ),
    ],
)
def test_bad_pictures_raise_input_error(call, words: str) -> None:
    with pytest.raises(InputError, match=words):
        call()


def test_style_scores_of_the_content_itself_are_one() -> None:
    content = load_rgb("astronaut", max_side=64)
    style = load_rgb("pattern-voronoi", max_side=128)  # scaled down to the result's size
    scores = style_scores(content, content, style)
    assert set(scores) == {"colour", "texture", "ssim", "colour_content", "texture_content"}
    assert scores["colour"] == 1 and scores["texture"] == 1
    assert scores["ssim"] == pytest.approx(1)
    assert scores["colour_content"] == pytest.approx(
        colour_distance(content, resize_long_side(style, 64)), rel=1e-12
    )


def test_style_scores_see_a_palette_transfer() -> None:
    content = load_rgb("astronaut", max_side=64)
    style = load_rgb("pattern-voronoi", max_side=128)
    recoloured = match_palette(content, style)
    scores = style_scores(recoloured, content, style)
    assert scores["colour"] < 0.6  # issue #28's target, met by recolouring alone
    assert 0 < scores["ssim"] < 1
    # A result of another size: the content is brought to it.
    smaller = style_scores(resize_to(recoloured, 48, 40), content, style)
    assert smaller["colour"] < 0.6 and 0 < smaller["ssim"] < 1


def test_style_scores_ratio_is_nan_without_a_distance_to_compare() -> None:
    picture = load_rgb("coffee", max_side=48)
    scores = style_scores(picture, picture, picture)
    assert scores["colour_content"] == 0 and math.isnan(scores["colour"])
    assert scores["texture_content"] == 0 and math.isnan(scores["texture"])
