"""Style images: built-ins and files in [0, 1], resizing, masks, YIQ, content sets, fingerprints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.data import datasets
from museforge.errors import DataError, InputError
from museforge.style.images import (
    PHOTO_SET,
    content_images,
    fingerprint,
    load_mask,
    load_rgb,
    luminance,
    resize_long_side,
    resize_to,
    rgb_to_yiq,
    to_pil,
    yiq_to_rgb,
)
from museforge.style.patterns import PATTERNS


def _noise_png(path: Path, height: int, width: int, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


BUILTIN_IMAGES = [d.name for d in datasets("style", role="style")]


def test_builtin_names_cover_photos_textures_and_patterns() -> None:
    assert set(PHOTO_SET) == {
        "astronaut", "coffee", "chelsea", "rocket", "motorcycle", "hubble", "cells", "retina"
    }  # fmt: skip
    assert {"brick", "grass", "gravel"} <= set(BUILTIN_IMAGES)
    assert {f"pattern-{name}" for name in PATTERNS} <= set(BUILTIN_IMAGES)
    assert set(PHOTO_SET) <= set(BUILTIN_IMAGES)
    assert [d.name for d in datasets("style", role="content")] == ["photos"]
    for ds in datasets("style"):
        assert ds.description and ds.size and ds.licence, ds.name


def test_every_builtin_loads_offline_as_rgb_in_unit_range() -> None:
    for name in BUILTIN_IMAGES:
        x = load_rgb(name, max_side=48)
        assert x.dtype == torch.float32 and x.shape[:2] == (1, 3), name
        assert max(x.shape[-2:]) == 48, name  # every built-in is larger than 48
        assert x.min() >= 0 and x.max() <= 1, name


def test_builtin_keeps_its_size_and_aspect() -> None:
    x = load_rgb("chelsea")
    assert x.shape == (1, 3, 300, 451)
    assert x.max() > 0.9 and x.min() < 0.1
    small = load_rgb("chelsea", max_side=100)
    assert small.shape == (1, 3, 67, 100)  # 300 * 100 / 451 = 66.5 -> 67


def test_grey_texture_becomes_three_equal_channels() -> None:
    x = load_rgb("gravel")
    assert x.shape == (1, 3, 512, 512)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert x.std() > 0.05


def test_callers_cannot_spoil_the_builtin_cache() -> None:
    first = load_rgb("coffee")
    first.zero_()
    assert load_rgb("coffee").max() > 0.5


def test_max_side_never_enlarges() -> None:
    assert load_rgb("chelsea", max_side=2000).shape == (1, 3, 300, 451)


def test_a_file_wins_over_a_builtin_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _noise_png(tmp_path / "astronaut", 10, 14)
    monkeypatch.chdir(tmp_path)
    assert load_rgb("astronaut").shape == (1, 3, 10, 14)


def test_file_loads_match_the_stored_pixels(tmp_path: Path) -> None:
    path = _noise_png(tmp_path / "n.png", 12, 9)
    x = load_rgb(str(path))
    expected = torch.from_numpy(np.array(Image.open(path))).permute(2, 0, 1) / 255
    torch.testing.assert_close(x[0], expected, atol=1e-6, rtol=0)


def test_unknown_source_is_a_one_line_error_listing_builtins() -> None:
    with pytest.raises(InputError) as info:
        load_rgb("no-such-picture")
    message = str(info.value)
    assert message.startswith(
        "'no-such-picture' is neither an image file nor a built-in image (built-ins: astronaut,"
    )
    assert "pattern-voronoi" in message and "\n" not in message


def test_unusable_file_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not really a jpeg")
    with pytest.raises(InputError, match=r"broken\.jpg"):
        load_rgb(str(bad))


@pytest.mark.parametrize("max_side", [0, -3, 2.5, True])
def test_bad_max_side_is_refused(max_side: object) -> None:
    with pytest.raises(InputError, match="max side"):
        load_rgb("chelsea", max_side=max_side)  # type: ignore[arg-type]


def test_resize_long_side_is_exact_both_ways() -> None:
    x = torch.rand(2, 3, 30, 50)
    assert resize_long_side(x, 100).shape == (2, 3, 60, 100)
    assert resize_long_side(x, 10).shape == (2, 3, 6, 10)
    assert resize_long_side(x.transpose(2, 3), 25).shape == (2, 3, 25, 15)
    assert resize_long_side(torch.rand(1, 3, 1, 100), 10).shape == (1, 3, 1, 10)  # at least 1
    assert resize_to(x, 7, 13).shape == (2, 3, 7, 13)


def test_same_size_resize_is_a_copy() -> None:
    x = torch.rand(1, 3, 8, 8)
    y = resize_to(x, 8, 8)
    assert torch.equal(x, y) and y.data_ptr() != x.data_ptr()


def test_shrinking_is_antialiased() -> None:
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2).float()
    small = resize_to(checker.expand(1, 3, 64, 64), 16, 16)
    # Without antialiasing a 4× shrink samples the checkerboard and keeps 0s and 1s.
    torch.testing.assert_close(small, torch.full_like(small, 0.5), atol=0.02, rtol=0)


def test_enlarging_stays_in_unit_range() -> None:
    checker = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2).float()
    big = resize_to(checker.expand(1, 3, 8, 8), 40, 40)
    assert big.min() >= 0 and big.max() <= 1
    assert big.max() == 1 and big.min() == 0  # bicubic overshoots, and was clamped


def _save(path: Path, img: Image.Image) -> str:
    img.save(path)
    return str(path)


def test_mask_uses_alpha_when_the_image_has_transparency(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)  # black everywhere
    rgba[:, :4, 3] = 255  # opaque left half: styled; transparent right half: not
    mask = load_mask(_save(tmp_path / "a.png", Image.fromarray(rgba, "RGBA")), 16, 16)
    assert mask.shape == (1, 1, 16, 16)
    assert mask[..., :6].min() > 0.99 and mask[..., 10:].max() < 0.01


def test_mask_uses_luminance_without_alpha(tmp_path: Path) -> None:
    grey = np.zeros((8, 8), dtype=np.uint8)
    grey[:4] = 255  # white top half: styled
    mask = load_mask(_save(tmp_path / "g.png", Image.fromarray(grey, "L")), 8, 8)
    assert mask.shape == (1, 1, 8, 8)
    assert torch.equal(mask[..., :4, :], torch.ones(1, 1, 4, 8))
    assert torch.equal(mask[..., 4:, :], torch.zeros(1, 1, 4, 8))


def test_fully_opaque_rgba_mask_uses_its_grey_levels(tmp_path: Path) -> None:
    rgba = np.full((8, 8, 4), 255, dtype=np.uint8)
    rgba[:, 4:, :3] = 0  # black right half, alpha all opaque
    mask = load_mask(_save(tmp_path / "o.png", Image.fromarray(rgba, "RGBA")), 8, 8)
    assert mask[..., :4].min() == 1 and mask[..., 4:].max() == 0


def test_all_black_mask_is_refused(tmp_path: Path) -> None:
    path = _save(tmp_path / "m.png", Image.new("L", (8, 8), 0))
    with pytest.raises(InputError, match=r"mask '.*m\.png' selects no pixels"):
        load_mask(path, 8, 8)


def test_fully_transparent_mask_is_refused(tmp_path: Path) -> None:
    path = _save(tmp_path / "clear.png", Image.new("RGBA", (8, 8), (255, 255, 255, 0)))
    with pytest.raises(InputError, match="selects no pixels"):
        load_mask(path, 8, 8)


def test_unreadable_mask_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "garbled-mask.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError, match=r"garbled-mask\.png"):
        load_mask(str(bad), 8, 8)
    with pytest.raises(InputError, match=r"missing\.png"):
        load_mask(str(tmp_path / "missing.png"), 8, 8)


def test_to_pil_round_trips_quantised_pixels(tmp_path: Path) -> None:
    x = load_rgb(str(_noise_png(tmp_path / "n.png", 5, 7)))
    img = to_pil(x)
    assert img.mode == "RGB" and img.size == (7, 5)
    back = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None] / 255
    torch.testing.assert_close(back, x, atol=1e-6, rtol=0)
    assert to_pil(x[0]).size == (7, 5)


def test_to_pil_clamps_and_checks_shape() -> None:
    img = to_pil(torch.tensor([-1.0, 0.5, 2.0]).view(3, 1, 1))
    assert img.getpixel((0, 0)) == (0, 128, 255)
    with pytest.raises(ValueError, match="3×H×W"):
        to_pil(torch.rand(1, 1, 4, 4))


def test_yiq_round_trip_and_known_values() -> None:
    x = torch.rand(2, 3, 9, 11)
    torch.testing.assert_close(yiq_to_rgb(rgb_to_yiq(x)), x, atol=1e-5, rtol=0)
    grey = rgb_to_yiq(torch.full((1, 3, 2, 2), 0.6))
    torch.testing.assert_close(grey[:, 0], torch.full((1, 2, 2), 0.6))
    torch.testing.assert_close(grey[:, 1:], torch.zeros(1, 2, 2, 2), atol=1e-6, rtol=0)
    y = luminance(x)
    assert y.shape == (2, 1, 9, 11)
    torch.testing.assert_close(y, rgb_to_yiq(x)[:, :1])
    expected = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    torch.testing.assert_close(y[:, 0], expected)


def test_content_folder_keeps_good_images_and_reports_bad_ones(tmp_path: Path) -> None:
    _noise_png(tmp_path / "good.png", 20, 40)
    _noise_png(tmp_path / "sub" / "deep.png", 30, 10, seed=1)
    (tmp_path / "bad.png").write_bytes(b"garbage, not a picture")
    (tmp_path / "notes.txt").write_text("not an image and not listed")
    images, skipped = content_images(f"folder:{tmp_path}", max_side=16)
    assert [tuple(x.shape) for x in images] == [(1, 3, 8, 16), (1, 3, 16, 5)]
    assert skipped == ["bad.png: is not a PNG, JPEG, GIF, BMP, WebP or TIFF image"]


def test_content_from_one_file_and_from_photos(tmp_path: Path) -> None:
    path = _noise_png(tmp_path / "one.png", 10, 12)
    images, skipped = content_images(str(path))
    assert len(images) == 1 and images[0].shape == (1, 3, 10, 12) and skipped == []
    [same], _ = content_images(f"file:{path}")
    assert torch.equal(same, images[0]) and torch.equal(load_rgb(f"file:{path}"), same)
    with pytest.raises(DataError, match="is a file, not a folder"):
        content_images(f"folder:{path}")
    photos, skipped = content_images("photos", max_side=32)
    assert len(photos) == len(PHOTO_SET) and skipped == []
    assert all(max(x.shape[-2:]) == 32 and x.shape[1] == 3 for x in photos)


def test_content_without_usable_images_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=f"'folder:{tmp_path}' has no usable images"):
        content_images(f"folder:{tmp_path}")
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"1 skipped: bad\.jpg: is not a PNG"):
        content_images(f"folder:{tmp_path}")
    with pytest.raises(DataError, match="does not exist"):
        content_images(f"folder:{tmp_path / 'absent'}")
    with pytest.raises(DataError, match="unknown style data set 'pictures'"):
        content_images("pictures")


def test_fingerprint_is_stable_and_sees_pixels_and_shape() -> None:
    x = load_rgb("chelsea", max_side=64)
    fp = fingerprint(x)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert fingerprint(load_rgb("chelsea", max_side=64)) == fp
    changed = x.clone()
    changed[0, 1, 5, 5] = (changed[0, 1, 5, 5] + 2 / 255) % 1
    assert fingerprint(changed) != fp
    exact = x.mul(255).round().div(255)
    assert fingerprint(exact + 1e-4) == fp  # below half a uint8 step: the same image
    assert fingerprint(x.reshape(1, 3, x.shape[3], x.shape[2])) != fp
