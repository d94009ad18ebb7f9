"""Sprite sheets: pictures laid out on one transparent canvas, with an atlas that game
engines import.

The atlas is the JSON-hash layout TexturePacker made common (Phaser, PixiJS, Godot and
Unity importers read it): ``frames`` maps each sprite's name to its rectangle on the sheet,
``meta`` names the sheet file, its size, and here also the licence of the training art.
"""

from __future__ import annotations

import math
from typing import Any

from PIL import Image

GAP = 2  # transparent pixels between sprites, so that filtering never bleeds neighbours


def lay_out(
    pictures: list[Image.Image], names: list[str], columns: int = 0
) -> tuple[Image.Image, dict[str, dict[str, int]]]:
    """One RGBA sheet of equally sized ``pictures``, ``columns`` a row (0: square-ish),
    and each name's rectangle on it (x, y, w, h)."""
    if not pictures:
        raise ValueError("a sheet needs at least one picture")
    w, h = pictures[0].size
    columns = columns or math.ceil(math.sqrt(len(pictures)))
    columns = min(columns, len(pictures))
    rows = math.ceil(len(pictures) / columns)
    sheet = Image.new("RGBA", (columns * (w + GAP) + GAP, rows * (h + GAP) + GAP), (0, 0, 0, 0))
    boxes = {}
    for i, (picture, name) in enumerate(zip(pictures, names, strict=True)):
        row, col = divmod(i, columns)
        x, y = GAP + col * (w + GAP), GAP + row * (h + GAP)
        sheet.paste(picture.convert("RGBA"), (x, y))
        boxes[name] = {"x": x, "y": y, "w": w, "h": h}
    return sheet, boxes


def atlas(
    boxes: dict[str, dict[str, int]], image: str, size: tuple[int, int], meta: dict[str, Any]
) -> dict[str, Any]:
    """The JSON-hash atlas of a sheet file ``image`` of ``size`` (w, h)."""
    frames = {
        name: {
            "frame": box,
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": box["w"], "h": box["h"]},
            "sourceSize": {"w": box["w"], "h": box["h"]},
        }
        for name, box in boxes.items()
    }
    head = {"image": image, "format": "RGBA8888", "size": {"w": size[0], "h": size[1]}}
    return {"frames": frames, "meta": {"app": "museforge", **head, "scale": "1", **meta}}
