"""Palette transfer: recolour a picture so its colours are distributed as a style's are.

Style losses carry colour only as a side effect; ``match_palette`` does it on purpose (before
stylising, to start from the style's palette, or after, to finish on it). Both modes work in
the style's principal colour axes, the eigenvectors of its pixels' 3×3 covariance, where its
colours are decorrelated:

- ``moments``: the linear Monge–Kantorovich map of Pitié & Kokaram (2007, "The linear
  Monge-Kantorovitch linear colour mapping for example-based colour transfer"), which carries
  the content's mean and covariance onto the style's while moving colours the least. It
  matches the correlations between channels that Reinhard et al.'s (2001) per-channel
  transfer of means and spreads in lαβ leaves alone.
- ``histogram``: that map, then the distribution along each principal axis matched exactly
  by quantile mapping, so skewed or many-peaked palettes (a few inks on a ground) come
  through, which two moments cannot describe.
"""

from __future__ import annotations

import torch

from museforge.core.seeding import stream
from museforge.errors import InputError
from museforge.nn.linalg import psd_power
from museforge.style.images import check_picture, resize_to

MODES = ("moments", "histogram")
# Statistics come from at most this many pixels (a seeded sample, so the same pictures
# always give the same result); the map they define is applied to every pixel.
MAX_PIXELS = 262_144
# The floor on the content covariance's eigenvalues, so its inverse root exists for flat or
# grey content. Flooring rather than adding EPS·I leaves A = I exactly when content and style
# are one picture; the style's covariance is left exact, so a grey style's map has rank 1
# and its result is grey.
EPS = 1e-5
SEED = 0


def _mask_weights(mask: object, content: torch.Tensor) -> torch.Tensor | None:
    """The mask as N×1×H×W weights in [0, 1] at the content's size, or None."""
    if mask is None:
        return None
    n, _, h, w = content.shape
    if (
        not isinstance(mask, torch.Tensor)
        or mask.ndim != 4
        or mask.shape[1] != 1
        or mask.shape[0] not in (1, n)
        or not mask.is_floating_point()
        or mask.numel() == 0
    ):
        got = (
            f"{mask.dtype} {tuple(mask.shape)}"
            if isinstance(mask, torch.Tensor)
            else type(mask).__name__
        )
        raise InputError(f"palette mask must be a float 1×1×h×w (or {n}×1×h×w), got {got}")
    weights = resize_to(mask.detach().to(content.device, torch.float32), h, w).clamp(0, 1)
    return weights.expand(n, -1, -1, -1)


def _sample(count: int, *labels: object) -> torch.Tensor:
    """Indices of at most MAX_PIXELS of `count` pixels, seeded by the labels (all if fewer)."""
    if count <= MAX_PIXELS:
        return torch.arange(count)
    return torch.randperm(count, generator=stream(SEED, "palette", *labels))[:MAX_PIXELS]


def _moments(px: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean (3) and covariance (3×3) of M×3 float64 pixels."""
    weights = weights / weights.sum()
    mean = weights @ px
    centred = px - mean
    return mean, (centred * weights[:, None]).T @ centred


def _monge_kantorovich(cov_c: torch.Tensor, cov_s: torch.Tensor) -> torch.Tensor:
    """A = Σc^-½ (Σc^½ Σs Σc^½)^½ Σc^-½, the symmetric map with A Σc A = Σs (Pitié & Kokaram)."""
    half, inv_half = psd_power(cov_c, 0.5, EPS), psd_power(cov_c, -0.5, EPS)
    return inv_half @ psd_power(half @ cov_s @ half, 0.5) @ inv_half


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation of (xp, fp) at x, xp strictly increasing, constant
    beyond its ends (numpy's interp)."""
    if xp.numel() == 1:
        return fp.expand(x.shape).clone()
    i = torch.searchsorted(xp, x).clamp(1, xp.numel() - 1)
    x0, x1 = xp[i - 1], xp[i]
    t = ((x - x0) / (x1 - x0)).clamp(0, 1)
    return torch.lerp(fp[i - 1], fp[i], t.to(fp.dtype))


def _ranks(values: torch.Tensor, sample: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Each value's rank in (0, 1) among the weighted sample: the mid-point of its run in the
    sample's cumulative weight, interpolated between sample values. Equal values get equal
    ranks, so flat areas stay flat."""
    order = sample.argsort()
    distinct, inverse = torch.unique_consecutive(sample[order], return_inverse=True)
    mass = torch.zeros(distinct.numel(), dtype=torch.float64, device=sample.device)
    mass.index_add_(0, inverse, weights[order].to(torch.float64))
    cumulative = mass.cumsum(0)
    return _interp(values, distinct, (cumulative - mass / 2) / cumulative[-1])


def _quantile(sorted_values: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """The sorted sample's quantile function at ranks in [0, 1]: rank (k + ½)/m is its k-th
    value, so a picture matched to itself comes back unchanged."""
    m = sorted_values.numel()
    pos = (ranks * m - 0.5).clamp(0, m - 1)
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=m - 1)
    return torch.lerp(sorted_values[lo], sorted_values[hi], pos - lo)


def _recolour(
    image: torch.Tensor,
    weights: torch.Tensor | None,
    style: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    mode: str,
    index: int,
) -> torch.Tensor:
    """One 3×H×W picture recoloured to the style's (mean, covariance, axes, sorted axis
    values); pixels of weight 0 are neither measured nor changed."""
    mean_s, cov_s, axes, sorted_s = style
    work = torch.promote_types(image.dtype, torch.float32)
    px = image.to(work).reshape(3, -1).T
    w = (
        torch.ones(px.shape[0], device=px.device)
        if weights is None
        else weights.reshape(-1).to(px.device)
    )
    chosen = torch.nonzero(w > 0).squeeze(1)
    if chosen.numel() == 0:
        return image.clone()
    chosen = chosen[_sample(chosen.numel(), "content", index).to(chosen.device)]
    sample_w = w[chosen].double().cpu()
    mean_c, cov_c = _moments(px[chosen].double().cpu(), sample_w)
    a = _monge_kantorovich(cov_c, cov_s)
    # (x − μc)·A + μs, with the constant folded in so the big product happens once.
    shift = mean_s - mean_c @ a
    new = px @ a.to(px.device, work) + shift.to(px.device, work)
    if mode == "histogram":
        along = new @ axes.to(px.device, work)
        matched = torch.empty_like(along)
        for k in range(3):
            ranks = _ranks(along[:, k].contiguous(), along[chosen, k], sample_w.to(px.device))
            matched[:, k] = _quantile(sorted_s[:, k].to(px.device), ranks).to(work)
        new = matched @ axes.T.to(px.device, work)
    new = new.clamp(0, 1)
    if weights is not None:
        new = torch.lerp(px, new, w[:, None].to(work))
    return new.T.reshape(image.shape).to(image.dtype)


def match_palette(
    content: torch.Tensor,
    style: torch.Tensor,
    mode: str = "histogram",
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """`content` (N×3×H×W in [0, 1]) recoloured so its colours are distributed as `style`'s.

    mode: ``moments`` (match mean and covariance) or ``histogram`` (then each principal
    axis's distribution exactly). Each content picture is matched on its own; a style batch
    counts as one palette. mask: 1×1×h×w (or N×1×h×w) in [0, 1] at any size, 1 = recolour;
    the result is m·new + (1 − m)·old and only masked pixels are measured (a mask of zeros
    changes nothing). Returns a new tensor of the content's shape and dtype, clamped to
    [0, 1] where recoloured. Raises InputError for an unknown mode or wrong shapes.
    """
    check_picture(content, "content")
    check_picture(style, "style")
    if mode not in MODES:
        raise InputError(f"palette mode must be one of {', '.join(MODES)}, got {mode!r}")
    device = content.device
    # The rank and quantile tables are float64, which MPS lacks.
    if device.type == "mps":
        content, style = content.cpu(), style.cpu()
        mask = mask.cpu() if isinstance(mask, torch.Tensor) else mask
    weights = _mask_weights(mask, content)
    content = content.detach()
    style_px = style.detach().permute(1, 0, 2, 3).reshape(3, -1).T
    style_px = style_px[_sample(style_px.shape[0], "style").to(style_px.device)].double().cpu()
    mean_s, cov_s = _moments(style_px, torch.ones(style_px.shape[0], dtype=torch.float64))
    axes = torch.linalg.eigh(cov_s).eigenvectors
    sorted_s = (style_px @ axes).sort(dim=0).values
    stats = (mean_s, cov_s, axes, sorted_s)
    out = [
        _recolour(content[i], None if weights is None else weights[i], stats, mode, i)
        for i in range(content.shape[0])
    ]
    return torch.stack(out).to(device)
