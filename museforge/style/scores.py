"""How far a stylised picture is from its style and its content: the scores of issue #28.

Each distance is features → statistics → distance, and each picture's statistics are
computed once, so scoring a result against its style and content costs three of them:

- colour: CIELAB values → 256 quantiles per channel → the mean over channels of the 1-D
  Wasserstein-1 distance (in Lab units; 0 for equal palettes).
- texture: luminance as uint8 → uniform local binary patterns (8 points) at radii 1, 2 and 4
  → one 10-bin histogram per radius → the mean chi-square distance (in [0, 1]).

``style_scores`` reports both as ratios to the content's own distance from the style (1: no
closer than the content was), with SSIM to the content. Issue #28's targets: colour ≤ 0.6,
texture ≤ 0.8, SSIM 0.3–0.8.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from skimage.color import rgb2lab
from skimage.feature import local_binary_pattern

from museforge.errors import InputError
from museforge.style.images import check_picture, luminance, resize_long_side, resize_to
from museforge.style.metrics import ssim

QUANTILES = 256
LBP_POINTS = 8
LBP_RADII = (1, 2, 4)
LBP_BINS = LBP_POINTS + 2  # "uniform": codes 0..P for the uniform patterns, P + 1 for the rest
MIN_SIDE = 2 * max(LBP_RADII) + 1


def _lab_quantiles(x: torch.Tensor) -> np.ndarray:
    """3×QUANTILES: each CIELAB channel's values at ranks (k + ½)/QUANTILES, over all of an
    N×3×H×W picture's pixels."""
    rgb = x.detach().cpu().double().clamp(0, 1).permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    levels = (np.arange(QUANTILES) + 0.5) / QUANTILES
    return np.quantile(rgb2lab(rgb), levels, axis=0).T


def _lbp_histograms(x: torch.Tensor) -> np.ndarray:
    """len(LBP_RADII)×LBP_BINS normalised histograms of uniform LBP codes of the luminance.

    The luminance is rounded to uint8 first: LBP compares each pixel with its neighbours, and
    on flat areas float noise of 1e-7 (from resizing or a colour map) would flip those
    comparisons and turn a flat patch into a busy texture (only a level that sits on a
    rounding boundary, k + ½ of 255, can still flip). Pixels within a radius of the
    border are left out, as their circle reaches outside the picture.
    """
    if min(x.shape[-2:]) < MIN_SIDE:
        raise InputError(f"texture needs pictures at least {MIN_SIDE}×{MIN_SIDE} pixels")
    grey = luminance(x.detach().cpu().float()).clamp(0, 1).mul(255).round().to(torch.uint8)
    hists = np.zeros((len(LBP_RADII), LBP_BINS))
    for image in grey[:, 0].numpy():
        for row, radius in enumerate(LBP_RADII):
            codes = local_binary_pattern(image, LBP_POINTS, radius, method="uniform")
            inner = codes[radius:-radius, radius:-radius].astype(np.int64)
            hists[row] += np.bincount(inner.ravel(), minlength=LBP_BINS)
    return hists / hists.sum(axis=1, keepdims=True)


def _wasserstein(qa: np.ndarray, qb: np.ndarray) -> float:
    """Mean over channels of W1 between distributions given by quantiles at equal ranks."""
    return float(np.abs(qa - qb).mean())


def _chi_square(pa: np.ndarray, pb: np.ndarray) -> float:
    """Mean over rows of 0.5·Σ (p − q)²/(p + q), bins empty in both skipped."""
    total = pa + pb
    terms = np.divide((pa - pb) ** 2, total, out=np.zeros_like(total), where=total > 0)
    return float(0.5 * terms.sum(axis=1).mean())


def colour_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Distance between the colour distributions of two N×3×H×W pictures in [0, 1] (sizes
    may differ): the mean over L*, a*, b* of the Wasserstein-1 distance between their values,
    in Lab units. 0 for identical pictures, symmetric."""
    check_picture(a, "colour_distance's first picture")
    check_picture(b, "colour_distance's second picture")
    return _wasserstein(_lab_quantiles(a), _lab_quantiles(b))


def texture_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Distance between the textures of two N×3×H×W pictures in [0, 1], each at least 9×9
    (sizes may differ; the caller chooses the scale): the mean over radii 1, 2, 4 of the
    chi-square distance between histograms of uniform local binary patterns of the
    luminance. In [0, 1]; 0 for identical pictures, symmetric."""
    check_picture(a, "texture_distance's first picture")
    check_picture(b, "texture_distance's second picture")
    return _chi_square(_lbp_histograms(a), _lbp_histograms(b))


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference > 0 else math.nan


def style_scores(
    result: torch.Tensor, content: torch.Tensor, style: torch.Tensor
) -> dict[str, float]:
    """The scores of a stylised `result` against its `content` and `style` (N×3×H×W in
    [0, 1]; result and content with one batch size, results at least 11×11).

    The style is first scaled so its long side is the result's, and the content resized to
    the result's size if it differs. Returns ``colour`` and ``texture`` (the result's
    distance to the style over the content's: below 1 is closer to the style than the
    content was), ``ssim`` (result against content) and the denominators,
    ``colour_content`` and ``texture_content``. A ratio is NaN where its denominator is 0
    (content with the style's palette or texture already: no ratio means anything there).
    """
    check_picture(result, "result")
    check_picture(content, "content")
    check_picture(style, "style")
    h, w = result.shape[-2:]
    style = resize_long_side(style.detach(), max(h, w))
    if content.shape[-2:] != (h, w):
        content = resize_to(content.detach(), h, w)
    lab_style = _lab_quantiles(style)
    lbp_style = _lbp_histograms(style)
    colour_content = _wasserstein(_lab_quantiles(content), lab_style)
    texture_content = _chi_square(_lbp_histograms(content), lbp_style)
    return {
        "colour": _ratio(_wasserstein(_lab_quantiles(result), lab_style), colour_content),
        "texture": _ratio(_chi_square(_lbp_histograms(result), lbp_style), texture_content),
        "ssim": ssim(result.detach(), content),
        "colour_content": colour_content,
        "texture_content": texture_content,
    }
