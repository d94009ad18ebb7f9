import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.design.scene import ground_tile, tiled
from museforge.design.sheets import lay_out
from museforge.errors import InputError
from museforge.gallery.store import Gallery, companions
from museforge.image.data import load_image_dataset
from tests.conftest import train_tiny


def _rgba_folder(root: Path) -> Path:
    """Red and blue discs on transparency, in two class folders."""
    for label, colour in (("red", (220, 30, 30, 255)), ("blue", (30, 30, 220, 255))):
        (root / label).mkdir(parents=True)
        for i in range(12):
            picture = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
            r = 3 + i % 4
            for y in range(16):
                for x in range(16):
                    if (x - 8) ** 2 + (y - 8) ** 2 <= r * r:
                        picture.putpixel((x, y), colour)
            picture.save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def rgba_gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _rgba_folder(tmp_path_factory.mktemp("discs"))
    return train_tiny("image-gan", folder, tmp_path_factory.mktemp("m") / "gan", steps=10)


def test_lay_out_puts_each_sprite_where_its_box_says() -> None:
    pictures = [Image.new("RGBA", (5, 3), (i * 40, 0, 0, 255)) for i in range(5)]
    sheet, boxes = lay_out(pictures, [f"s{i}" for i in range(5)], columns=2)
    assert sheet.mode == "RGBA" and len(boxes) == 5
    pixels = np.asarray(sheet)
    for i in range(5):
        b = boxes[f"s{i}"]
        assert (pixels[b["y"] : b["y"] + b["h"], b["x"] : b["x"] + b["w"], 0] == i * 40).all()
    assert pixels[0, 0, 3] == 0  # the gaps are transparent
    assert boxes["s2"]["y"] > boxes["s0"]["y"] and boxes["s1"]["x"] > boxes["s0"]["x"]


def test_an_rgba_folder_trains_an_rgba_conditional_gan(rgba_gan: Path) -> None:
    loaded = load_artifact(rgba_gan)
    assert loaded.manifest["config"]["channels"] == 4
    assert loaded.model.num_classes == 2
    result = call_verb(loaded, "sample", n=2, seed=1)
    assert result.artworks[0].image.mode == "RGBA"


def test_sheet_writes_a_sheet_and_an_atlas_that_match(rgba_gan: Path, tmp_path: Path) -> None:
    loaded = load_artifact(rgba_gan)
    args = {"n": 5, "seed": 3, "columns": 3, "scale": 2, "colours": 4, "team": "blue"}
    gallery = Gallery(tmp_path / "g")
    ids = gallery.save(call_verb(loaded, "sheet", **args), "sheets")
    again = gallery.save(call_verb(loaded, "sheet", **args), "sheets")  # renamed, not overwritten
    assert len(ids) == 1 and len(again) == 1 and ids != again
    for art_id in ids + again:
        record = gallery.get(art_id)
        sheet_path = gallery.root / record.path
        atlas_file = companions(sheet_path)["atlas"]
        layout = json.loads(atlas_file.read_text())
        assert layout["meta"]["image"] == sheet_path.name
        sheet = Image.open(sheet_path)
        assert sheet.mode == "RGBA"
        assert (layout["meta"]["size"]["w"], layout["meta"]["size"]["h"]) == sheet.size
        assert len(layout["frames"]) == 5
        assert record.provenance["args"]["team"] == "blue"
        for frame in layout["frames"].values():
            box = frame["frame"]
            assert box["w"] == box["h"] == 32  # 16 px enlarged twice
            crop = np.asarray(sheet.crop((box["x"], box["y"], box["x"] + 32, box["y"] + 32)))
            assert (crop[::2, ::2] == crop[1::2, 1::2]).all()  # pixel-exact blocks
            assert len(np.unique(crop[..., :3].reshape(-1, 3), axis=0)) <= 4
    first = Image.open(gallery.root / gallery.get(ids[0]).path)
    second = Image.open(gallery.root / gallery.get(again[0]).path)
    assert np.array_equal(np.asarray(first), np.asarray(second))  # reproducible


def test_a_walk_sheet_and_bad_settings(rgba_gan: Path) -> None:
    loaded = load_artifact(rgba_gan)
    walk = call_verb(loaded, "sheet", n=4, seed=1, walk_to=2, label=1)
    layout = json.loads(walk.files[".atlas.json"]("walk.png"))
    assert sorted(layout["frames"]) == [f"frame-{i:03d}" for i in range(4)]
    assert layout["meta"]["image"] == "walk.png"
    with pytest.raises(InputError, match="colours or a palette"):
        call_verb(loaded, "sheet", n=2, colours=4, palette="#000000,#ffffff")
    with pytest.raises(InputError, match="label"):
        call_verb(loaded, "sheet", n=2, label=7)


def test_rgba_data_is_composited_for_grey_or_rgb_models(tmp_path: Path) -> None:
    folder = _rgba_folder(tmp_path / "d")
    rgba = load_image_dataset(f"folder:{folder}")
    rgb = load_image_dataset(f"folder:{folder}", channels=3)
    assert rgba.channels == 4 and rgb.channels == 3
    alpha = (rgba.images[:, 3:] + 1) / 2
    expected = rgba.images[:, :3] * alpha + (1 - alpha)
    assert torch.allclose(rgb.images, expected, atol=1 / 127)


def test_scene_stands_characters_on_a_ground_that_tiles(rgba_gan: Path) -> None:
    loaded = load_artifact(rgba_gan)
    result = call_verb(loaded, "scene", n=3, seed=2, ground="sand", width=96, height=64)
    picture, tile = (art.image for art in result.artworks)
    assert picture.size == (96, 64) and picture.mode == "RGB"
    assert result.artworks[1].provenance["part"] == "tileable ground"
    ground = np.asarray(tiled(tile, 96, 64), dtype=int)
    assert (np.abs(np.asarray(picture, dtype=int) - ground).sum(axis=2) > 30).any()  # drawn on
    t = np.asarray(tile, dtype=float)
    across_seam = np.abs(t[:, 0] - t[:, -1]).mean()  # the edges meet as neighbours do
    apart = np.abs(t[:, 0] - t[:, t.shape[1] // 2]).mean()
    assert across_seam < apart / 2
    big = call_verb(loaded, "scene", n=1, width=64, height=64, scale=4).artworks[1].image
    assert big.size == (4 * tile.width, 4 * tile.height)  # the ground enlarged with them
    with pytest.raises(InputError, match="ground"):
        ground_tile("lava", 0)
