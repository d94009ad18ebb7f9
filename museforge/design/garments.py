"""Clothing prints: any picture made seamless, laid onto garment templates drawn here with
fold shading, and exported as a print-ready tile of a stated size and resolution.

Templates are outlines on a 400×480 canvas (a t-shirt, a dress, a tote bag) with fold lines;
the print is tiled across the garment (``repeat`` tiles across its width), shaded by the
folds and outlined. The print tile is made seamless by mirroring (the picture and its
reflections, 2×2) unless it already tiles (``mirror`` off), then resampled to the physical
size at the resolution asked, with the resolution written into the PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

from museforge.errors import InputError

CANVAS = (400, 480)
# name: (outline polygon, extra strokes (handles, straps) as polylines, fold lines)
TEMPLATES: dict[str, tuple[list, list, list]] = {
    "tshirt": (
        [
            (150, 40),
            (175, 58),
            (225, 58),
            (250, 40),
            (330, 70),
            (375, 150),
            (318, 178),
            (305, 150),
            (305, 440),
            (95, 440),
            (95, 150),
            (82, 178),
            (25, 150),
            (70, 70),
        ],
        [],
        [
            [(130, 200), (145, 430)],
            [(270, 190), (255, 430)],
            [(200, 250), (205, 430)],
            [(330, 90), (345, 150)],
            [(70, 90), (55, 150)],
        ],
    ),
    "dress": (
        [
            (160, 40),
            (185, 70),
            (215, 70),
            (240, 40),
            (262, 60),
            (258, 200),
            (340, 450),
            (60, 450),
            (142, 200),
            (138, 60),
        ],
        [],
        [
            [(170, 230), (120, 440)],
            [(200, 230), (200, 445)],
            [(230, 230), (280, 440)],
            [(185, 240), (160, 445)],
            [(215, 240), (240, 445)],
        ],
    ),
    "tote": (
        [(90, 170), (310, 170), (325, 450), (75, 450)],
        [[(130, 170), (135, 90), (175, 60), (225, 60), (265, 90), (270, 170)]],
        [[(150, 190), (140, 440)], [(255, 190), (265, 440)]],
    ),
}
MAX_TILE_PIXELS = 8000 * 8000
OUTLINE = (60, 60, 66)


def seamless(picture: Image.Image, mirror: bool = True) -> Image.Image:
    """A tile whose opposite edges meet: the picture with its reflections, 2×2 (or the
    picture as it is, for one that already tiles)."""
    picture = picture.convert("RGB")
    if not mirror:
        return picture
    w, h = picture.size
    tile = Image.new("RGB", (2 * w, 2 * h))
    flipped = ImageOps.mirror(picture)
    tile.paste(picture, (0, 0))
    tile.paste(flipped, (w, 0))
    tile.paste(ImageOps.flip(picture), (0, h))
    tile.paste(ImageOps.flip(flipped), (w, h))
    return tile


def print_tile(tile: Image.Image, width_cm: float, dpi: int) -> Image.Image:
    """``tile`` resampled to ``width_cm`` wide at ``dpi`` (height in proportion)."""
    if not 0.5 <= width_cm <= 300:
        raise InputError(f"tile width must be 0.5 to 300 cm (got {width_cm})")
    if not 30 <= dpi <= 1200:
        raise InputError(f"dpi must be 30 to 1200 (got {dpi})")
    width = round(width_cm / 2.54 * dpi)
    height = max(1, round(width * tile.height / tile.width))
    if width * height > MAX_TILE_PIXELS:
        raise InputError(f"a {width}×{height} px tile is too large; lower the size or dpi")
    resample = Image.Resampling.LANCZOS if width < tile.width else Image.Resampling.BICUBIC
    return tile.resize((width, height), resample)


def _mask(name: str) -> Image.Image:
    outline, _, _ = TEMPLATES[name]
    mask = Image.new("L", CANVAS, 0)
    ImageDraw.Draw(mask).polygon(outline, fill=255)
    return mask


def _shading(name: str, mask: Image.Image) -> Image.Image:
    """Soft dark folds and a gentle fall of light from the top, as an L picture (255 =
    unshaded) to multiply the print by."""
    _, _, folds = TEMPLATES[name]
    dark = Image.new("L", CANVAS, 0)
    draw = ImageDraw.Draw(dark)
    for line in folds:
        draw.line(line, fill=70, width=10)
    dark = dark.filter(ImageFilter.GaussianBlur(9))
    fall = np.linspace(0, 30, CANVAS[1], dtype=np.float32)[:, None]
    shade = 255 - np.asarray(dark, np.float32) - fall
    shade = np.where(np.asarray(mask) > 0, shade, 255)
    return Image.fromarray(shade.clip(0, 255).astype(np.uint8), "L")


def preview(tile: Image.Image, garment: str, repeat: float = 3.0) -> Image.Image:
    """The garment on white, printed with ``tile`` (``repeat`` tiles across its width),
    shaded by its folds and outlined."""
    if garment not in TEMPLATES:
        raise InputError(f"garment '{garment}' is not one of {', '.join(TEMPLATES)}")
    if not 0.25 <= repeat <= 40:
        raise InputError(f"repeat must be 0.25 to 40 tiles across (got {repeat})")
    outline, strokes, _ = TEMPLATES[garment]
    mask = _mask(garment)
    left, top, right, _ = mask.getbbox()
    side = max(1, round((right - left) / repeat))
    small = tile.convert("RGB").resize(
        (side, max(1, round(side * tile.height / tile.width))), Image.Resampling.LANCZOS
    )
    cloth = Image.new("RGB", CANVAS)
    for y in range(top % small.height - small.height, CANVAS[1], small.height):
        for x in range(left % small.width - small.width, CANVAS[0], small.width):
            cloth.paste(small, (x, y))
    shade = _shading(garment, mask).convert("RGB")
    cloth = ImageChops.multiply(cloth, shade)
    picture = Image.new("RGB", CANVAS, "white")
    picture.paste(cloth, (0, 0), mask)
    draw = ImageDraw.Draw(picture)
    draw.polygon(outline, outline=OUTLINE, width=3)
    for line in strokes:
        draw.line(line, fill=OUTLINE, width=9, joint="curve")
    return picture


def make_garment(
    picture: Path,
    folder: Path,
    garment: str = "tshirt",
    repeat: float = 3.0,
    width_cm: float = 20.0,
    dpi: int = 300,
    mirror: bool = True,
) -> tuple[Path, Path, Image.Image]:
    """Write the preview of ``picture`` printed on ``garment`` and its print tile (PNG with
    its dpi) into ``folder``, never over an earlier pair, each recording the picture as
    its parent; (preview path, tile path, tile picture)."""
    from museforge.core.media import MAX_PIXELS, read_image
    from museforge.gallery.provenance import parent_record, save_png

    if garment not in TEMPLATES:
        raise InputError(f"garment '{garment}' is not one of {', '.join(TEMPLATES)}")
    pixels = read_image(picture, channels=3, what="print picture")
    source = Image.fromarray((pixels * 255).round().astype(np.uint8), "RGB")
    if source.width * source.height * 4 > MAX_PIXELS:
        raise InputError(f"print picture '{picture}' is too large to mirror into a tile")
    tile = seamless(source, mirror)
    printed = print_tile(tile, width_cm, dpi)
    shown = preview(tile, garment, repeat)
    settings = {"garment": garment, "repeat": repeat, "tile_cm": width_cm, "dpi": dpi}
    base = {
        "verb": "garment",
        "parents": [parent_record(picture)],
        "args": {**settings, "mirror": mirror},
    }
    stem = name = f"{Path(picture).stem}-{garment}"
    for k in range(2, 10_000):  # never overwrite an earlier print
        if not (folder / f"{stem}.png").exists() and not (folder / f"{stem}-tile.png").exists():
            break
        stem = f"{name}-v{k}"
    shown_path = save_png(folder / f"{stem}.png", shown, base)
    tile_path = save_png(folder / f"{stem}-tile.png", printed, {**base, "part": "print tile"}, dpi)
    return shown_path, tile_path, printed
