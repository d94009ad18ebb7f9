"""Palette transfer: moments and distributions carried over, identities, masks and errors."""

from __future__ import annotations

import pytest
import torch

from museforge.errors import InputError
from museforge.style import colour
from museforge.style.colour import match_palette
from museforge.style.images import load_rgb


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).reshape(-1, 3).double()


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    px = _pixels(x)
    return px.mean(0), torch.cov(px.T, correction=0)


def _correlated(seed: int, mean: list[float], mix: list[list[float]], size: int = 64):
    """Gaussian colours with the given mean and a covariance of mix·mixᵀ, well inside [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(size * size, 3, generator=g, dtype=torch.float64)
    px = noise @ torch.tensor(mix, dtype=torch.float64).T + torch.tensor(mean)
    return px.T.reshape(1, 3, size, size).float()


def _bimodal_style(size: int = 64) -> torch.Tensor:
    """Two inks on a ground: a palette whose marginals no two moments describe."""
    g = torch.Generator().manual_seed(7)
    inks = torch.tensor([[0.7, 0.3, 0.25], [0.25, 0.35, 0.7], [0.6, 0.65, 0.4]])
    which = torch.randint(0, 3, (size * size,), generator=g)
    px = inks[which] + 0.03 * torch.randn(size * size, 3, generator=g)
    return px.T.reshape(1, 3, size, size)


def _axis_w1(x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """Per style principal axis: mean |difference| of sorted projections (W1, equal sizes)."""
    axes = torch.linalg.eigh(_moments(style)[1]).eigenvectors
    a = (_pixels(x) @ axes).sort(0).values
    b = (_pixels(style) @ axes).sort(0).values
    return (a - b).abs().mean(0)


CONTENT = _correlated(
    1, [0.45, 0.5, 0.55], [[0.05, 0.02, 0.0], [0.0, 0.04, 0.01], [0.0, 0.0, 0.03]]
)
STYLE = _correlated(2, [0.6, 0.45, 0.35], [[0.02, 0.0, 0.0], [0.03, 0.04, 0.0], [0.01, 0.02, 0.05]])


def test_moments_mode_carries_mean_and_covariance() -> None:
    out = match_palette(CONTENT, STYLE, mode="moments")
    assert out.min() > 0 and out.max() < 1  # nothing clipped, so the map alone is measured
    mean, cov = _moments(out)
    mean_s, cov_s = _moments(STYLE)
    cov_c = _moments(CONTENT)[1]
    assert (mean - mean_s).abs().max() < 0.01
    assert torch.linalg.norm(cov - cov_s) / torch.linalg.norm(cov_s) < 0.1
    assert torch.linalg.norm(cov_c - cov_s) / torch.linalg.norm(cov_s) > 0.5  # it had work


def test_moments_mode_is_the_least_moving_linear_map() -> None:
    # Of all linear maps carrying one covariance onto another, Pitié & Kokaram's moves the
    # colours least, and it is symmetric positive definite; whitening then colouring with
    # Cholesky factors (another such map) is not symmetric.
    out = match_palette(CONTENT, STYLE, mode="moments")
    mean_c, mean_s = _moments(CONTENT)[0], _moments(STYLE)[0]
    centred_in, centred_out = _pixels(CONTENT) - mean_c, _pixels(out) - mean_s
    a = torch.linalg.lstsq(centred_in, centred_out).solution
    assert torch.allclose(a, a.T, atol=1e-3)
    assert torch.linalg.eigvalsh(a).min() > 0


def test_histogram_mode_matches_each_principal_axis() -> None:
    style = _bimodal_style()
    w1_histogram = _axis_w1(match_palette(CONTENT, style, mode="histogram"), style)
    w1_moments = _axis_w1(match_palette(CONTENT, style, mode="moments"), style)
    assert w1_histogram.max() < 1e-4
    assert w1_moments.max() > 0.02  # two moments alone cannot carry three inks


@pytest.mark.parametrize("mode", colour.MODES)
def test_a_picture_matched_to_itself_comes_back(mode: str) -> None:
    photo = load_rgb("astronaut", max_side=64)
    # Within 1e-5, not just 1e-3: the content covariance is floored, not shifted by EPS·I.
    assert (match_palette(photo, photo, mode=mode) - photo).abs().max() < 1e-5


@pytest.mark.parametrize("mode", colour.MODES)
def test_grey_style_gives_a_grey_result(mode: str) -> None:
    photo = load_rgb("chelsea", max_side=64)
    grey = load_rgb("brick", max_side=48)  # a grey texture: all channels equal
    out = match_palette(photo, grey, mode=mode)
    assert (out - out.mean(1, keepdim=True)).abs().max() < 1e-5
    assert out.std() > 0.5 * grey.std()  # grey, not one flat colour


def test_flat_content_takes_the_style_mean() -> None:
    flat = torch.full((1, 3, 16, 16), 0.3)
    out = match_palette(flat, STYLE, mode="moments")
    assert torch.allclose(
        out, _moments(STYLE)[0].float().view(1, 3, 1, 1).expand_as(out), atol=1e-5
    )


@pytest.mark.parametrize("mode", colour.MODES)
def test_mask_leaves_unmasked_pixels_untouched(mode: str) -> None:
    photo = load_rgb("astronaut", max_side=64)
    mask = torch.zeros(1, 1, 16, 16)  # another size than the picture's: resized to it
    mask[..., 8:] = 1.0
    out = match_palette(photo, _bimodal_style(), mode=mode, mask=mask)
    assert torch.equal(out[..., :24], photo[..., :24])
    assert (out[..., 40:] - photo[..., 40:]).abs().mean() > 0.05


def test_mask_restricts_what_is_measured() -> None:
    # Content half dark, half light: masked to the light half, the light half alone is
    # carried onto the style's mean, as if it were the whole picture.
    dark = _correlated(3, [0.2, 0.2, 0.2], [[0.02, 0, 0], [0, 0.02, 0], [0, 0, 0.02]], size=32)
    light = _correlated(4, [0.7, 0.7, 0.7], [[0.02, 0, 0], [0, 0.02, 0], [0, 0, 0.02]], size=32)
    content = torch.cat([dark, light], dim=-1)
    mask = torch.cat([torch.zeros(1, 1, 32, 32), torch.ones(1, 1, 32, 32)], dim=-1)
    out = match_palette(content, STYLE, mode="moments", mask=mask)
    alone = match_palette(light, STYLE, mode="moments")
    assert torch.allclose(out[..., 32:], alone, atol=1e-5)


def test_an_empty_mask_changes_nothing() -> None:
    photo = load_rgb("astronaut", max_side=32)
    assert torch.equal(match_palette(photo, STYLE, mask=torch.zeros(1, 1, 8, 8)), photo)


def test_shape_dtype_and_batches_are_kept() -> None:
    photos = torch.cat(
        [load_rgb("astronaut", max_side=32), load_rgb("coffee", max_side=48)[..., :32]]
    )
    before = photos.clone()
    out = match_palette(photos.double(), STYLE)
    assert torch.equal(photos, before)  # the input is left alone
    assert out.shape == photos.shape and out.dtype == torch.float64
    assert out.min() >= 0 and out.max() <= 1
    # Each picture of a batch is matched on its own: as if it came alone.
    alone = match_palette(photos[1:].double(), STYLE)
    assert torch.allclose(out[1:], alone, atol=1e-9)


def test_big_pictures_are_sampled_the_same_way_each_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(colour, "MAX_PIXELS", 500)  # stands in for a picture of millions
    style = _bimodal_style()
    first, again = match_palette(CONTENT, style), match_palette(CONTENT, style)
    assert torch.equal(first, again)
    # Statistics from a sample still map every pixel, and close to the full answer.
    monkeypatch.setattr(colour, "MAX_PIXELS", 262_144)
    full = match_palette(CONTENT, style)
    assert not torch.equal(first, full)
    assert (first - full).abs().mean() < 0.02


@pytest.mark.parametrize(
    ("content", "style", "kwargs", "words"),
    [
        (CONTENT, STYLE, {"mode": "reinhard"}, "mode"),
        (CONTENT[0], STYLE, {}, "content"),
        (CONTENT[:, :1], STYLE, {}, "content"),
        (CONTENT, (STYLE * 255).to(torch.uint8), {}, "style"),
        (CONTENT, STYLE, {"mask": torch.ones(1, 3, 8, 8)}, "mask"),
        (CONTENT, STYLE, {"mask": torch.ones(2, 1, 8, 8)}, "mask"),
    ],
)
def test_bad_inputs_raise_one_line(content, style, kwargs, words: str) -> None:
    with pytest.raises(InputError, match=words) as err:
        match_palette(content, style, **kwargs)
    assert "\n" not in str(err.value)
