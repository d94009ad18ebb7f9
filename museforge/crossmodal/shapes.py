"""``captioned-shapes``: procedural pictures whose captions say exactly what is drawn.

Each picture is one shape (colour × shape × size × position) on a background, captioned in
English and Chinese ("a small red star top left on a blue gradient" /
"蓝色渐变背景上左上角有一个小红色星星"). Because the words are exact, a model can be judged
on whether they steer the picture — and on colour–shape pairs kept out of training
(:data:`HELD_OUT_PAIRS`), whether it composes words it never saw together.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from museforge.core.seeding import derive_seed
from museforge.crossmodal.captioned import CaptionedImages, cached, captioned

# name: (RGB, English, Chinese)
COLOURS = {
    "red": ((220, 40, 40), "red", "红色"),
    "orange": ((245, 140, 20), "orange", "橙色"),
    "yellow": ((240, 210, 30), "yellow", "黄色"),
    "green": ((40, 160, 60), "green", "绿色"),
    "blue": ((40, 90, 220), "blue", "蓝色"),
    "purple": ((140, 50, 180), "purple", "紫色"),
    "white": ((255, 255, 255), "white", "白色"),
    "black": ((20, 20, 20), "black", "黑色"),
}
SHAPES = {
    "circle": ("circle", "圆"),
    "square": ("square", "正方形"),
    "triangle": ("triangle", "三角形"),
    "star": ("star", "星星"),
    "heart": ("heart", "爱心"),
    "diamond": ("diamond", "菱形"),
}
SIZES = {"small": (0.13, "small", "小"), "large": (0.24, "large", "大")}
POSITIONS = {
    "centre": ((0.5, 0.5), "in the centre", "中间"),
    "top-left": ((0.28, 0.28), "top left", "左上角"),
    "top-right": ((0.72, 0.28), "top right", "右上角"),
    "bottom-left": ((0.28, 0.72), "bottom left", "左下角"),
    "bottom-right": ((0.72, 0.72), "bottom right", "右下角"),
}
# name: (colour name of the ground, gradient?, English, Chinese)
BACKGROUNDS = {
    "white": ("white", False, "white", "白色背景"),
    "black": ("black", False, "black", "黑色背景"),
    "blue-gradient": ("blue", True, "a blue gradient", "蓝色渐变背景"),
    "green-gradient": ("green", True, "a green gradient", "绿色渐变背景"),
    "purple-gradient": ("purple", True, "a purple gradient", "紫色渐变背景"),
    "orange-gradient": ("orange", True, "an orange gradient", "橙色渐变背景"),
}
# Each colour and each shape once: kept out of the training split, to test composition.
HELD_OUT_PAIRS = frozenset(
    {
        ("red", "star"),
        ("blue", "heart"),
        ("yellow", "triangle"),
        ("green", "circle"),
        ("purple", "square"),
        ("orange", "diamond"),
    }
)
SPLITS = ("train", "held-out", "all")
CHOICES = tuple(
    (key, tuple(table))
    for key, table in (
        ("colour", COLOURS),
        ("shape", SHAPES),
        ("size", SIZES),
        ("position", POSITIONS),
        ("background", BACKGROUNDS),
    )
)
SUPERSAMPLE = 4  # drawn this many times larger, then reduced: smooth edges
CACHE_FROM = 500
RECIPE = 1  # bump when the drawing or the captions change


def caption(attrs: dict[str, str]) -> dict[str, str]:
    """The English and Chinese captions of a picture's attributes."""
    _, colour_en, colour_zh = COLOURS[attrs["colour"]]
    shape_en, shape_zh = SHAPES[attrs["shape"]]
    _, size_en, size_zh = SIZES[attrs["size"]]
    _, pos_en, pos_zh = POSITIONS[attrs["position"]]
    *_, ground_en, ground_zh = BACKGROUNDS[attrs["background"]]
    return {
        "en": f"a {size_en} {colour_en} {shape_en} {pos_en} on {ground_en}",
        "zh": f"{ground_zh}上{pos_zh}有一个{size_zh}{colour_zh}{shape_zh}",
    }


def draw_attributes(seed: int, index: int, split: str = "train") -> dict[str, str]:
    """The attributes of picture ``index`` of ``seed``'s stream in ``split``: uniform over
    the combinations the split allows (a shape never takes its ground's colour)."""
    rng = np.random.default_rng(derive_seed(seed, "captioned-shapes", split, index))
    while True:
        pick = {key: str(rng.choice(options)) for key, options in CHOICES}
        held = (pick["colour"], pick["shape"]) in HELD_OUT_PAIRS
        clash = pick["colour"] == BACKGROUNDS[pick["background"]][0]
        if not clash and (split == "all" or held == (split == "held-out")):
            return pick


def _ground(name: str, side: int, rng: np.random.Generator) -> Image.Image:
    colour, gradient, *_ = BACKGROUNDS[name]
    rgb = np.array(COLOURS[colour][0], dtype=np.float32)
    if not gradient:
        return Image.new("RGB", (side, side), tuple(int(c) for c in rgb))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:side, 0:side] / (side - 1) - 0.5
    t = (xx * math.cos(angle) + yy * math.sin(angle)) / math.sqrt(0.5) * 0.5 + 0.5
    light = rgb + (255 - rgb) * 0.75  # from a pale tint to the full colour
    arr = light[None, None] * (1 - t[..., None]) + rgb[None, None] * t[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _outline(shape: str, cx: float, cy: float, r: float, turn: float) -> list[tuple[float, float]]:
    def ring(points: int, radii: tuple[float, ...], start: float) -> list[tuple[float, float]]:
        out = []
        for i in range(points * len(radii)):
            a = start + turn + i * 2 * math.pi / (points * len(radii))
            rr = r * radii[i % len(radii)]
            out.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return out

    if shape == "square":
        return ring(4, (1.0,), math.pi / 4)
    if shape == "triangle":
        return ring(3, (1.0,), -math.pi / 2)
    if shape == "star":
        return ring(5, (1.0, 0.42), -math.pi / 2)
    if shape == "diamond":  # a rhombus, taller than wide
        corners = ((0.0, -1.0), (0.62, 0.0), (0.0, 1.0), (-0.62, 0.0))
        c, s = math.cos(turn), math.sin(turn)
        return [(cx + r * (x * c - y * s), cy + r * (x * s + y * c)) for x, y in corners]
    if shape == "heart":
        out = []
        for i in range(64):
            t = 2 * math.pi * i / 64
            x = 16 * math.sin(t) ** 3
            y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
            out.append((cx + r * x / 16, cy - r * (y + 2) / 16))
        return out
    raise ValueError(f"no outline for {shape!r}")


def render(attrs: dict[str, str], size: int, seed: int, index: int) -> np.ndarray:
    """One picture of ``attrs`` as H×W×3 floats in 0..1; small jitter in place, size and
    turn comes from (seed, index), so the same picture is always drawn the same."""
    rng = np.random.default_rng(derive_seed(seed, "captioned-shapes-jitter", index))
    side = size * SUPERSAMPLE
    img = _ground(attrs["background"], side, rng)
    draw = ImageDraw.Draw(img)
    (px, py), *_ = POSITIONS[attrs["position"]]
    radius, *_ = SIZES[attrs["size"]]
    cx = (px + rng.uniform(-0.04, 0.04)) * side
    cy = (py + rng.uniform(-0.04, 0.04)) * side
    r = radius * rng.uniform(0.9, 1.1) * side
    fill = COLOURS[attrs["colour"]][0]
    if attrs["shape"] == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        turn = rng.uniform(-0.2, 0.2)
        draw.polygon(_outline(attrs["shape"], cx, cy, r, turn), fill=fill)
    small = img.resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.float32) / 255.0


def captioned_shapes(
    image_size: int = 64, n: int = 6000, seed: int = 0, split: str = "train"
) -> CaptionedImages:
    """``n`` pictures of ``split`` (train: without the held-out colour–shape pairs;
    held-out: only those; all) at ``image_size`` px, with exact captions and attributes."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (got {split!r})")
    if n > CACHE_FROM:  # thousands take seconds to draw: keep them
        key = f"captioned-shapes-{image_size}-{n}-{seed}-{split}-r{RECIPE}"
        return cached(key, lambda: _draw_set(image_size, n, seed, split))
    return _draw_set(image_size, n, seed, split)


def _draw_set(image_size: int, n: int, seed: int, split: str) -> CaptionedImages:
    attrs = [draw_attributes(seed, i, split) for i in range(n)]
    pictures = [render(a, image_size, seed, i) for i, a in enumerate(attrs)]
    source = f"captioned-shapes:{split}:n={n}:seed={seed}"
    licence = "MIT (drawn by museforge's own code)"
    return captioned(pictures, [caption(a) for a in attrs], source, licence, attributes=attrs)
