"""Image training tasks: the size a folder trains at when none is given."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from museforge.core.recipe import Recipe, train_from_recipe
from museforge.image.kinds import _default_size

TINY = {"z_dim": 8, "g_width": 8, "d_width": 8}


def _pictures(folder: Path, n: int, size: int, seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:02d}.png")


def _train_on_folder(tmp_path: Path, model: dict, steps: int = 1) -> dict:
    """Train a tiny GAN on ``tmp_path/data``; its manifest."""
    recipe = Recipe(
        "image-gan",
        f"folder:{tmp_path / 'data'}",
        model=model,
        run={"steps": steps, "batch_size": 4, "preview_every": 0},
    )
    train_from_recipe(recipe, out=tmp_path / "model", progress=False)
    return json.loads((tmp_path / "model" / "model.json").read_text())


@pytest.mark.parametrize(
    ("native", "size"),
    [(28, 28), (32, 32), (8, 32), (25, 32), (33, 40), (63, 64), (100, 100), (300, 128)],
)
def test_default_size_keeps_what_the_networks_can_use(native: int, size: int) -> None:
    assert _default_size(native) == size


def test_a_folder_of_32_pixel_pictures_trains_at_32(tmp_path: Path) -> None:
    _pictures(tmp_path / "data", 10, 32)
    _pictures(tmp_path / "data", 1, 48, seed=1)  # overwrites 00.png: one odd size out
    manifest = _train_on_folder(tmp_path, TINY, steps=5)
    assert manifest["config"]["image_size"] == 32
    [notice] = manifest["data"]["notices"]
    assert notice.startswith("chose from the data: 32×32 px (the pictures' most common size")
    assert "augmentation translation and cutout (9 training pictures)" in notice


def test_a_given_image_size_wins(tmp_path: Path) -> None:
    _pictures(tmp_path / "data", 10, 32)
    manifest = _train_on_folder(tmp_path, {**TINY, "image_size": 16})
    assert manifest["config"]["image_size"] == 16
    assert "px" not in " ".join(manifest["data"].get("notices", []))


@pytest.mark.parametrize("asked", [None, False])
def test_a_folder_with_class_sub_folders_trains_conditional_unless_told(
    tmp_path: Path, asked: bool | None
) -> None:
    for i, name in enumerate(("cats", "dogs")):
        _pictures(tmp_path / "data" / name, 6, 16, seed=i)
    model = {**TINY} if asked is None else {**TINY, "conditional": asked}
    manifest = _train_on_folder(tmp_path, model)
    said = " ".join(manifest["data"].get("notices", []))
    if asked is None:
        assert manifest["config"]["num_classes"] == 2
        assert "conditional on 2 classes from the sub-folders (cats, dogs;" in said
    else:
        assert manifest["config"]["num_classes"] == 0 and "conditional" not in said
