"""A stand-in for a user's own folder: coloured shapes in one sub-folder per class.

Users train on their folders first, so ``bench image`` measures that too. The pictures are
drawn by the captioned-shapes code (any colour, size, place and ground; the class is the
shape) and written as PNG files, so the run goes through the same folder loading as a
user's pictures. The folder is drawn once per (count, size, seed) and kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from museforge.core.atomic import atomic_write_text
from museforge.crossmodal.shapes import draw_attributes, render

CLASSES = ("circle", "square", "triangle", "star")
DONE = "shape-folder.json"


def write_shape_folder(root: Path, n: int = 2000, size: int = 32, seed: int = 0) -> Path:
    """``n`` pictures of ``size`` px under ``root/<class>/`` (classes in turn); returns the
    folder. An existing complete folder of the same settings is reused."""
    root = Path(root)
    settings = {"n": n, "size": size, "seed": seed, "classes": list(CLASSES)}
    marker = root / DONE
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return root
    shutil.rmtree(root, ignore_errors=True)
    for name in CLASSES:
        (root / name).mkdir(parents=True)
    for i in range(n):
        attrs = {**draw_attributes(seed, i, "all"), "shape": CLASSES[i % len(CLASSES)]}
        pixels = (render(attrs, size, seed, i) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(root / attrs["shape"] / f"{i:05d}.png")
    atomic_write_text(marker, json.dumps(settings))
    return root
