"""A game-scene mock-up: characters standing on a ground that tiles.

The ground is drawn here: a periodic noise field (random phases under a 1/f falloff,
through an inverse FFT, so the tile's edges meet exactly) mapped through a small colour ramp
of grass, sand, snow or stone, with a sprinkle of darker and lighter specks. Characters are
placed at random spots that keep them apart, the nearer ones (lower on the canvas) drawn
last, each over a soft shadow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from museforge.errors import InputError

GROUNDS = {  # dark, mid, light
    "grass": ((52, 92, 38), (86, 132, 54), (128, 166, 78)),
    "sand": ((176, 146, 96), (212, 184, 128), (236, 214, 166)),
    "snow": ((170, 184, 204), (214, 224, 236), (246, 248, 252)),
    "stone": ((78, 78, 84), (118, 116, 118), (160, 156, 150)),
}
TILE = 256
PLACEMENT_TRIES = 200


def ground_tile(kind: str, seed: int, size: int = TILE) -> Image.Image:
    """A size×size RGB ground that tiles seamlessly (its field is periodic)."""
    if kind not in GROUNDS:
        raise InputError(f"ground '{kind}' is not one of {', '.join(GROUNDS)}")
    rng = np.random.default_rng(seed)
    freq = np.fft.fftfreq(size)
    radius = np.hypot(*np.meshgrid(freq, freq, indexing="ij"))
    radius[0, 0] = 1.0
    spectrum = rng.standard_normal((size, size)) + 1j * rng.standard_normal((size, size))
    field = np.fft.ifft2(spectrum / radius**1.3).real
    field = (field - field.mean()) / (field.std() + 1e-8)
    t = np.clip(field * 0.35 + 0.5, 0, 1)[..., None]
    dark, mid, light = (np.array(c, np.float32) for c in GROUNDS[kind])
    colour = np.where(t < 0.5, dark + (mid - dark) * t * 2, mid + (light - mid) * (t - 0.5) * 2)
    specks = rng.random((size, size))
    colour[specks < 0.015] *= 0.8
    colour[specks > 0.985] = np.minimum(colour[specks > 0.985] * 1.15, 255)
    return Image.fromarray(colour.round().astype(np.uint8), "RGB")


def tiled(tile: Image.Image, width: int, height: int) -> Image.Image:
    """``tile`` repeated over a width×height canvas."""
    canvas = Image.new("RGB", (width, height))
    for y in range(0, height, tile.height):
        for x in range(0, width, tile.width):
            canvas.paste(tile, (x, y))
    return canvas


def _spots(n: int, sprite: tuple[int, int], canvas: tuple[int, int], seed: int) -> list:
    """Top-left corners of ``n`` sprites inside the canvas, kept apart where room allows."""
    rng = np.random.default_rng(seed)
    (w, h), (cw, ch) = sprite, canvas
    apart = 0.6 * min(w, h)
    spots: list[tuple[int, int]] = []
    for _ in range(n):
        best, best_gap = None, -1.0
        for _ in range(PLACEMENT_TRIES // max(1, n)):
            spot = (int(rng.integers(0, max(1, cw - w))), int(rng.integers(0, max(1, ch - h))))
            gap = min((np.hypot(spot[0] - x, spot[1] - y) for x, y in spots), default=1e9)
            if gap > best_gap:
                best, best_gap = spot, gap
            if gap >= apart:
                break
        spots.append(best)
    return sorted(spots, key=lambda s: s[1])  # farther (higher) first


def _shadow(sprite: Image.Image) -> Image.Image:
    """A soft dark ellipse under the sprite's feet, as an RGBA layer of its size."""
    w, h = sprite.size
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(layer).ellipse((w * 0.22, h * 0.82, w * 0.78, h * 0.98), fill=(0, 0, 0, 90))
    return layer.filter(ImageFilter.GaussianBlur(max(1, w // 24)))


def compose(
    sprites: list[Image.Image], ground: Image.Image, width: int, height: int, seed: int
) -> Image.Image:
    """The sprites standing on ``ground`` tiled over width×height, nearer ones in front."""
    canvas = tiled(ground, width, height).convert("RGBA")
    spots = _spots(len(sprites), sprites[0].size, (width, height), seed)
    for sprite, spot in zip(sprites, spots, strict=True):
        sprite = sprite.convert("RGBA")
        canvas.alpha_composite(_shadow(sprite), spot)
        canvas.alpha_composite(sprite, spot)
    return canvas.convert("RGB")
