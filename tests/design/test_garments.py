from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from museforge.design.garments import CANVAS, TEMPLATES, preview, print_tile, seamless
from museforge.errors import InputError
from museforge.gallery.provenance import read_png_provenance
from tests.test_cli import assert_one_line_error, run


def _stripes() -> Image.Image:
    pixels = np.zeros((20, 30, 3), np.uint8)
    pixels[:, :, 0] = np.linspace(0, 255, 30, dtype=np.uint8)  # red grows to the right
    pixels[:, :, 2] = np.linspace(0, 255, 20, dtype=np.uint8)[:, None]  # blue grows down
    return Image.fromarray(pixels, "RGB")


def test_a_mirrored_tile_meets_itself_at_every_edge() -> None:
    tile = np.asarray(seamless(_stripes()), dtype=int)
    assert tile.shape == (40, 60, 3)
    assert (tile[:, 0] == tile[:, -1]).all() and (tile[0] == tile[-1]).all()
    as_is = seamless(_stripes(), mirror=False)
    assert as_is.size == (30, 20)


def test_print_tile_has_the_physical_size_asked() -> None:
    tile = print_tile(seamless(_stripes()), width_cm=2.54, dpi=100)
    assert tile.size == (100, 67)  # one inch at 100 dpi, height in proportion
    with pytest.raises(InputError, match="dpi"):
        print_tile(_stripes(), 10, 5)
    with pytest.raises(InputError, match="too large"):
        print_tile(_stripes(), 300, 1200)


@pytest.mark.parametrize("garment", sorted(TEMPLATES))
def test_preview_prints_inside_the_garment_only(garment: str) -> None:
    picture = np.asarray(preview(Image.new("RGB", (8, 8), (200, 30, 30)), garment), dtype=int)
    assert picture.shape == (CANVAS[1], CANVAS[0], 3)
    assert (picture[2, 2] == 255).all()  # the corner is paper
    reddish = (picture[..., 0] > 100) & (picture[..., 1] < 60)
    assert reddish.mean() > 0.15  # the print covers the garment
    shaded = picture[reddish][:, 0]
    assert shaded.max() - shaded.min() > 20  # folds and light shade it


def test_garment_command_writes_a_preview_and_a_tile(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "print.png"
    _stripes().save(source)
    out = tmp_path / "out"
    for _ in range(2):
        args = ["--garment", "tote", "--tile-cm", "5", "--dpi", "72", "--out", out]
        code, said, _ = run(monkeypatch, capsys, "garment", source, *args)
        assert code == 0 and "5 cm at 72 dpi" in said
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == [
        "print-tote-tile.png",
        "print-tote-v2-tile.png",
        "print-tote-v2.png",
        "print-tote.png",
    ]
    tile = Image.open(out / "print-tote-tile.png")
    assert tile.width == round(5 / 2.54 * 72) and round(tile.info["dpi"][0]) == 72
    record = read_png_provenance(out / "print-tote.png")
    assert record["verb"] == "garment" and record["parents"][0]["file"] == "print.png"
    assert record["args"]["garment"] == "tote"


def test_garment_command_refuses_bad_input(tmp_path: Path, monkeypatch, capsys) -> None:
    bad = tmp_path / "bad.png"
    bad.write_text("not a picture")
    code, _, err = run(monkeypatch, capsys, "garment", bad, "--out", tmp_path)
    assert_one_line_error(code, err, "bad.png")
    code, _, err = run(monkeypatch, capsys, "garment", bad, "--garment", "hat")
    assert_one_line_error(code, err, "hat", "tshirt")
