from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from museforge.design.palette import (
    clear_haze,
    quantise,
    read_palette,
    team_colour,
    team_mask,
    upscale,
)
from museforge.errors import InputError


def _sprite() -> Image.Image:
    """A 6×4 RGBA picture: transparent left column, a magenta ramp, a green body."""
    picture = Image.new("RGBA", (6, 4), (0, 0, 0, 0))
    for x, value in enumerate((0x55002A, 0xC30074, 0xF49AC1, 0xFAD5E5), start=1):
        picture.putpixel((x, 0), (value >> 16, (value >> 8) & 255, value & 255, 255))
    for x in range(1, 6):
        for y in (1, 2, 3):
            picture.putpixel((x, y), (40, 160 + 10 * y, 60, 255))
    picture.putpixel((5, 3), (200, 200, 0, 100))  # a half-transparent edge
    return picture


def test_team_colour_recolours_magenta_only_and_keeps_its_light_ramp() -> None:
    sprite = _sprite()
    mask = team_mask(sprite)
    assert mask[0, 1:5].all() and not mask[1:].any() and not mask[0, 0]
    blue = np.asarray(team_colour(sprite, "blue"), dtype=int)
    before = np.asarray(sprite, dtype=int)
    assert (blue[1:] == before[1:]).all()  # the body is untouched, alpha too
    assert (blue[..., 3] == before[..., 3]).all()
    ramp = blue[0, 1:5, :3]
    assert (ramp[:, 2] >= ramp[:, 0]).all()  # blue, no longer magenta
    brightness = ramp.sum(axis=1)
    assert (np.diff(brightness) > 0).all()  # dark to light, as the magenta ramp was
    hexed = np.asarray(team_colour(sprite, "#00ff00"), dtype=int)[0, 3, :3]
    assert hexed[1] > hexed[0] and hexed[1] > hexed[2]
    with pytest.raises(InputError, match="team colour 'mauve'"):
        team_colour(sprite, "mauve")


def test_quantise_to_n_colours_and_to_a_palette() -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8), "RGB")
    four = quantise(noisy, colours=4)
    assert len(np.unique(np.asarray(four).reshape(-1, 3), axis=0)) <= 4
    palette = [(0, 0, 0), (255, 255, 255)]
    bw = np.asarray(quantise(noisy, palette=palette)).reshape(-1, 3)
    assert {tuple(c) for c in np.unique(bw, axis=0)} <= set(palette)
    sprite = quantise(_sprite(), colours=3)
    alpha = np.asarray(sprite)[..., 3]
    assert set(np.unique(alpha)) <= {0, 255}  # all or nothing, as pixel art
    assert alpha[3, 5] == 0 and alpha[1, 1] == 255
    with pytest.raises(InputError, match="colours must be"):
        quantise(noisy, colours=1)


def test_palettes_from_text_files_and_pictures(tmp_path: Path) -> None:
    assert read_palette("#ff0000, 00ff00") == [(255, 0, 0), (0, 255, 0)]
    gpl = tmp_path / "p.gpl"
    gpl.write_text("GIMP Palette\nName: test\nColumns: 2\n#\n255 0 0 red\n0 0 255\tblue\n")
    assert read_palette(str(gpl)) == [(255, 0, 0), (0, 0, 255)]
    hexes = tmp_path / "p.hex"
    hexes.write_text("ff0000\n\n00ff00\n")
    assert read_palette(str(hexes)) == [(255, 0, 0), (0, 255, 0)]
    picture = tmp_path / "p.png"
    _sprite().save(picture)
    colours = read_palette(str(picture))
    assert (200, 200, 0) not in colours  # the half-transparent pixel is not a colour
    assert len(colours) == 4 + 3
    bad = tmp_path / "bad.gpl"
    bad.write_text("GIMP Palette\n255 0 0\n300 1 2\n")
    with pytest.raises(InputError, match="line 3"):
        read_palette(str(bad))
    with pytest.raises(InputError, match="neither colours"):
        read_palette(str(tmp_path / "missing.gpl"))
    with pytest.raises(InputError, match="not a colour"):
        read_palette("#ff0000,#zzzzzz")


def test_upscale_is_pixel_exact() -> None:
    sprite = _sprite()
    big = upscale(sprite, 3)
    assert big.size == (18, 12)
    small = np.asarray(sprite)
    assert (np.asarray(big)[::3, ::3] == small).all()
    assert (np.asarray(big)[2::3, 2::3] == small).all()
    with pytest.raises(InputError, match="scale"):
        upscale(sprite, 0)


def test_clear_haze_drops_only_faint_alpha() -> None:
    picture = Image.new("RGBA", (3, 1))
    for x, a in enumerate((3, 15, 200)):
        picture.putpixel((x, 0), (10, 20, 30, a))
    assert np.asarray(clear_haze(picture))[0, :, 3].tolist() == [0, 0, 200]
    grey = Image.new("L", (2, 2), 7)
    assert clear_haze(grey) is grey


def test_palette_files_are_refused_early_when_too_long(tmp_path: Path) -> None:
    many = tmp_path / "many.hex"
    many.write_text("#a0a0a0\n" * 300 + "not a colour\n")  # refused before the bad line
    with pytest.raises(InputError, match=r"many.hex' has over 256 colours$"):
        read_palette(str(many))
    huge = tmp_path / "huge.gpl"
    huge.write_text("GIMP Palette\n" + "#" * 1_100_000)
    with pytest.raises(InputError, match=r"huge.gpl' cannot be read \(larger than"):
        read_palette(str(huge))
