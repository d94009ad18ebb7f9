"""Image data loading: built-in sets, folders, bad files, splits and fingerprints."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from museforge.core.data import datasets, get_dataset
from museforge.core.media import MAX_PIXELS
from museforge.errors import DataError, InputError
from museforge.image.data import (
    MAX_AUTO_SIZE,
    ImageDataset,
    load_image_dataset,
    load_image_file,
    native_size,
    split_dataset,
)

BUILTIN = ("mnist5k", "digits", "faces")


def _save(path: Path, img: Image.Image, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def _grey(value: int, size: tuple[int, int] = (8, 8)) -> Image.Image:
    return Image.new("L", size, value)


def _rgb(colour: tuple[int, int, int], size: tuple[int, int] = (8, 8)) -> Image.Image:
    return Image.new("RGB", size, colour)


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width×height; its pixel data is never meant to be read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _truncated_png(path: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    _save(path, Image.fromarray(noise))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _reason(dataset: ImageDataset, name: str) -> str:
    hits = [s for s in dataset.skipped if s.startswith(f"{name}: ")]
    assert len(hits) == 1, dataset.skipped
    return hits[0]


# --- built-in sets ---


def test_mnist5k_is_shuffled_grey_digits_in_range() -> None:
    ds = load_image_dataset("mnist5k")
    assert ds.images.shape == (5000, 1, 28, 28)
    assert ds.images.dtype == torch.float32
    assert ds.images.min() == -1 and ds.images.max() == 1
    assert ds.labels is not None and ds.labels.shape == (5000,)
    assert not bool((ds.labels[1:] >= ds.labels[:-1]).all()), "labels still sorted by class"
    assert set(ds.labels[:100].tolist()) == set(range(10))
    assert ds.class_names == tuple(str(i) for i in range(10))
    assert ds.source == "mnist5k" and len(ds.fingerprint) == 64
    assert load_image_dataset("mnist5k").fingerprint == ds.fingerprint


def test_digits_and_faces_shapes_labels_and_range() -> None:
    digits = load_image_dataset("digits")
    assert digits.images.shape == (1797, 1, 8, 8)
    assert digits.images.min() == -1 and digits.images.max() == 1
    assert digits.labels is not None and set(digits.labels.tolist()) == set(range(10))
    assert digits.num_classes == 10
    faces = load_image_dataset("faces")
    assert faces.images.shape == (100, 1, 25, 25)
    assert faces.labels is None and faces.class_names == ()
    assert -1 <= faces.images.min() < 0 < faces.images.max() <= 1
    names = [d.name for d in datasets("image")]
    assert names[:3] == list(BUILTIN)  # the image modality's own; game art and fonts follow
    assert {"sprites", "portraits", "glyphs"} <= set(names)


def test_builtin_sets_are_registered_with_size_and_licence() -> None:
    mnist = get_dataset("mnist5k", "image")
    assert mnist is not None and mnist.size == "5,000 images" and "CC BY-SA 3.0" in mnist.licence
    assert "CC BY 4.0" in get_dataset("digits", "image").licence
    assert all(d.description and d.size and d.licence for d in datasets("image"))
    assert [native_size(name) for name in BUILTIN] == [28, 8, 25]


def test_builtin_resize_and_rgb() -> None:
    ds = load_image_dataset("digits", image_size=32, channels=3)
    assert ds.images.shape == (1797, 3, 32, 32) and ds.image_size == 32
    assert ds.images.min() >= -1 and ds.images.max() <= 1
    assert torch.equal(ds.images[:, 0], ds.images[:, 2])
    assert ds.fingerprint != load_image_dataset("digits").fingerprint


def test_bad_options_are_input_errors() -> None:
    with pytest.raises(InputError, match="channels"):
        load_image_dataset("digits", channels=2)
    with pytest.raises(InputError, match="image size"):
        load_image_dataset("digits", image_size=0)


# --- folders ---


def test_class_subfolders_give_labels(tmp_path: Path) -> None:
    _save(tmp_path / "dogs" / "a.png", _rgb((0, 0, 255)))
    _save(tmp_path / "cats" / "b.png", _rgb((255, 0, 0)))
    _save(tmp_path / "cats" / "deeper" / "c.png", _rgb((0, 255, 0)))
    _save(tmp_path / "loose.png", _rgb((9, 9, 9)))
    ds = load_image_dataset(f"folder:{tmp_path}", image_size=8)
    assert ds.class_names == ("cats", "dogs")
    assert ds.labels is not None and ds.labels.tolist() == [0, 0, 1]
    assert ds.images.shape == (3, 3, 8, 8)
    # Sorted paths: cats/b.png (red), cats/deeper/c.png (green), dogs/a.png (blue).
    assert ds.images[:, :, 0, 0].argmax(dim=1).tolist() == [0, 1, 2]
    assert "outside" in _reason(ds, "loose.png")


def test_unlabelled_rgb_folder_takes_the_most_common_size(tmp_path: Path) -> None:
    for name, value in [("b.png", 100), ("a.jpg", 0), ("c.bmp", 255)]:
        _save(tmp_path / name, _rgb((value, value, 0), size=(30, 20)))
    (tmp_path / "notes.txt").write_text("hi")  # wrong extension: ignored, not skipped
    assert native_size(str(tmp_path)) == 20  # the shorter side: pictures are centre-cropped
    ds = load_image_dataset(str(tmp_path))  # a bare folder path works too
    assert ds.images.shape == (3, 3, 20, 20)
    assert ds.labels is None and ds.class_names == () and ds.skipped == ()
    assert ds.source == f"folder:{tmp_path.resolve()}"
    red = ds.images[:, 0].mean(dim=(1, 2))
    assert red[0] < red[1] < red[2]  # a.jpg, b.png, c.bmp in path order


def test_resize_crops_the_centre(tmp_path: Path) -> None:
    img = Image.new("L", (40, 20), 0)
    img.paste(255, (10, 0, 30, 20))  # white centre square, black sides
    _save(tmp_path / "wide.png", img)
    ds = load_image_dataset(f"folder:{tmp_path}", image_size=10)
    assert ds.images.shape == (1, 1, 10, 10)
    # Squashing the whole image would put black (-1) columns at both sides; the resampling
    # filter may only blur a little black in at the crop edges.
    assert ds.images.min() > 0.8
    assert torch.allclose(ds.images[..., 3:7], torch.ones(1, 1, 10, 4), atol=1e-2)


def test_grey_detection_and_conversion(tmp_path: Path) -> None:
    grey_dir, mixed_dir = tmp_path / "grey", tmp_path / "mixed"
    _save(grey_dir / "a.png", _grey(0))
    _save(grey_dir / "b.png", Image.new("1", (8, 8), 1))
    grey = load_image_dataset(f"folder:{grey_dir}", image_size=8)
    assert grey.channels == 1
    assert grey.images[0].max() == -1 and grey.images[1].min() == 1

    _save(mixed_dir / "a.png", _grey(255))
    _save(mixed_dir / "b.png", _rgb((255, 0, 0)))
    mixed = load_image_dataset(f"folder:{mixed_dir}", image_size=8)
    assert mixed.channels == 3
    assert torch.equal(mixed.images[0], torch.ones(3, 8, 8))  # grey repeated
    as_grey = load_image_dataset(f"folder:{mixed_dir}", image_size=8, channels=1)
    assert as_grey.channels == 1
    assert as_grey.images[1].mean().item() == pytest.approx(0.299 * 2 - 1, abs=1e-4)


def test_transparent_folders_keep_alpha_or_composite_on_white(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (8, 8), (0, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (4, 0, 8, 8))
    _save(tmp_path / "rgba" / "a.png", rgba)
    kept = load_image_dataset(f"folder:{tmp_path / 'rgba'}", image_size=8)
    assert kept.channels == 4  # most pictures show through: RGBA
    assert torch.equal(kept.images[0, 3, :, :4], -torch.ones(8, 4))  # transparent
    assert kept.images[0, :, 0, 6].tolist() == [-1.0, -1.0, 1.0, 1.0]  # opaque blue
    assert torch.equal(kept.images[0, :3, :, :4], torch.ones(3, 8, 4))  # white underneath

    ds = load_image_dataset(f"folder:{tmp_path / 'rgba'}", image_size=8, channels=3)
    assert ds.channels == 3
    assert torch.equal(ds.images[0, :, :, :4], torch.ones(3, 8, 4))  # transparent -> white
    assert ds.images[0, :, 0, 6].tolist() == [-1.0, -1.0, 1.0]  # opaque blue kept

    _save(tmp_path / "la" / "a.png", Image.new("LA", (8, 8), (0, 0)))
    la = load_image_dataset(f"folder:{tmp_path / 'la'}", image_size=8, channels=1)
    assert la.channels == 1 and la.images.min() == 1

    _save(tmp_path / "few" / "a.png", rgba)  # one of three pictures transparent: RGB
    _save(tmp_path / "few" / "b.png", _rgb((255, 0, 0)))
    _save(tmp_path / "few" / "c.png", _rgb((0, 255, 0)))
    assert load_image_dataset(f"folder:{tmp_path / 'few'}", image_size=8).channels == 3


def test_rgba_resizing_does_not_bleed_hidden_colours(tmp_path: Path) -> None:
    picture = Image.new("RGBA", (16, 16), (255, 0, 0, 0))  # red, but fully transparent
    picture.paste((0, 0, 255, 255), (0, 0, 8, 16))
    _save(tmp_path / "p" / "a.png", picture)
    ds = load_image_dataset(f"folder:{tmp_path / 'p'}", image_size=4)
    seen = ds.images[0, :, :, 1]  # the column across the edge, partly transparent
    assert seen[3].min() > -1 and seen[3].max() < 1  # a soft edge
    assert seen[0].max() < -0.9  # and no red from under the transparency


def test_cmyk_jpeg_and_16_bit_grey(tmp_path: Path) -> None:
    _save(tmp_path / "cmyk" / "a.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)), quality=95)
    cmyk = load_image_dataset(f"folder:{tmp_path / 'cmyk'}", image_size=8)
    assert cmyk.channels == 3
    r, g, b = cmyk.images[0].mean(dim=(1, 2)).tolist()
    assert r > 0.8 and g < -0.8 and b < -0.8  # cyan-free, magenta+yellow ink = red

    wide = np.array([[0, 32768], [65535, 65535]], dtype=np.uint16)
    _save(tmp_path / "deep" / "a.png", Image.fromarray(wide))
    deep = load_image_dataset(f"folder:{tmp_path / 'deep'}", image_size=2)
    assert deep.channels == 1
    assert deep.images[0, 0].flatten().tolist() == pytest.approx([-1, 0, 1, 1], abs=1e-4)


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    _save(tmp_path / "good.png", _grey(128))
    (tmp_path / "text.png").write_text("not a picture\n")
    (tmp_path / "noise.jpg").write_bytes(np.random.default_rng(1).bytes(500))
    _truncated_png(tmp_path / "cut.png")
    ds = load_image_dataset(f"folder:{tmp_path}", image_size=8)
    assert len(ds) == 1
    assert "is not a PNG, JPEG" in _reason(ds, "text.png")
    assert "is not a PNG, JPEG" in _reason(ds, "noise.jpg")
    assert "cannot be decoded" in _reason(ds, "cut.png")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize(("side", "dims_named"), [(20000, False), (7000, True)])
def test_huge_images_are_skipped_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, side: int, dims_named: bool
) -> None:
    _save(tmp_path / "small.png", _grey(0))
    (tmp_path / "huge.png").write_bytes(_png_claiming(side, side))
    assert len((tmp_path / "huge.png").read_bytes()) < 10_000
    loaded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def spy(img: ImageFile.ImageFile) -> object:
        loaded.append(img.size)
        return real_load(img)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    ds = load_image_dataset(f"folder:{tmp_path}", image_size=8)
    assert len(ds) == 1
    reason = _reason(ds, "huge.png")
    assert "too large" in reason and f"{MAX_PIXELS:,}" in reason
    assert (f"{side}×{side}" in reason) == dims_named
    assert (side, side) not in loaded


def test_folder_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as err:
        load_image_dataset(f"folder:{tmp_path / 'nope'}")
    assert str(tmp_path / "nope") in str(err.value)

    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no usable images") as err:
        load_image_dataset(f"folder:{tmp_path / 'empty'}")
    assert str(tmp_path / "empty") in str(err.value)

    _save(tmp_path / "file.png", _grey(0))
    with pytest.raises(DataError, match="not a folder"):
        load_image_dataset(f"folder:{tmp_path / 'file.png'}")

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_text("nope")
    with pytest.raises(DataError, match=r"1 skipped: x\.png: is not a PNG") as err:
        load_image_dataset(f"folder:{tmp_path / 'bad'}")
    assert "\n" not in str(err.value)


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(DataError) as err:
        load_image_dataset("mnist")
    message = str(err.value)
    assert "'mnist'" in message and "folder:PATH" in message
    assert all(name in message for name in BUILTIN)


# --- splits and fingerprints ---


def _numbered(n: int) -> ImageDataset:
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()
    labels = torch.arange(n) % 3
    return ImageDataset(images, labels, ("a", "b", "c"), "test", "f" * 64)


def test_split_is_deterministic_disjoint_and_complete() -> None:
    ds = _numbered(100)
    train, hold = split_dataset(ds, holdout=0.2, seed=3)
    assert (len(train), len(hold)) == (80, 20)
    train_ids = set(train.images[:, 0, 0, 0].long().tolist())
    hold_ids = set(hold.images[:, 0, 0, 0].long().tolist())
    assert not train_ids & hold_ids and train_ids | hold_ids == set(range(100))
    assert train.labels is not None
    assert torch.equal(train.labels, train.images[:, 0, 0, 0].long() % 3)
    again = split_dataset(ds, holdout=0.2, seed=3)[1]
    assert torch.equal(again.images, hold.images)
    assert not torch.equal(split_dataset(ds, holdout=0.2, seed=4)[1].images, hold.images)
    assert train.source == "test#train" and hold.source == "test#holdout"
    assert train.fingerprint.startswith("f" * 64 + "#train")
    assert hold.fingerprint.startswith("f" * 64 + "#holdout")
    assert train.class_names == ds.class_names


def test_split_refuses_an_empty_part() -> None:
    with pytest.raises(DataError, match="empty"):
        split_dataset(_numbered(3), holdout=0.1)
    with pytest.raises(DataError, match="holdout"):
        split_dataset(_numbered(10), holdout=1.5)


def test_fingerprint_follows_the_data_not_the_path(tmp_path: Path) -> None:
    pixels = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    for folder in ("one", "two"):
        _save(tmp_path / folder / "img.png", Image.fromarray(pixels))
    changed = pixels.copy()
    changed[3, 3, 0] ^= 1
    _save(tmp_path / "three" / "img.png", Image.fromarray(changed))
    one, two, three = (
        load_image_dataset(f"folder:{tmp_path / name}", image_size=8)
        for name in ("one", "two", "three")
    )
    assert one.source != two.source
    assert one.fingerprint == two.fingerprint
    assert one.fingerprint != three.fingerprint


# --- single files ---


def test_load_image_file_shapes(tmp_path: Path) -> None:
    rgb = _save(tmp_path / "photo.jpg", _rgb((200, 10, 10), size=(30, 20)))
    x = load_image_file(rgb)
    assert x.shape == (1, 3, 20, 30) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert load_image_file(str(rgb), image_size=16, channels=1).shape == (1, 1, 16, 16)
    grey = _save(tmp_path / "grey.png", _grey(255))
    assert torch.equal(load_image_file(grey), torch.ones(1, 1, 8, 8))
    assert load_image_file(grey, channels=3).shape == (1, 3, 8, 8)


def test_load_image_file_errors_name_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("hello")
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_claiming(20000, 20000))
    cases = {
        tmp_path / "missing.png": "does not exist",
        tmp_path: "is a folder",
        text: "is not a PNG",
        _truncated_png(tmp_path / "cut.png"): "cannot be decoded",
        huge: "too large",
    }
    for path, what in cases.items():
        with pytest.raises(InputError) as err:
            load_image_file(path)
        message = str(err.value)
        assert f"'{path}'" in message and what in message and "\n" not in message
    with pytest.raises(InputError, match="channels"):
        load_image_file(text, channels=2)


def test_a_folder_of_huge_pictures_is_read_at_most_at_the_cap(tmp_path: Path) -> None:
    big = MAX_AUTO_SIZE * 2
    _save(tmp_path / "a.png", _grey(10, size=(big, big + 10)))
    _save(tmp_path / "b.png", _grey(20, size=(big, big)))
    assert native_size(f"folder:{tmp_path}") == big
    assert load_image_dataset(f"folder:{tmp_path}").image_size == MAX_AUTO_SIZE


def test_an_image_file_is_not_an_image_data_set(tmp_path: Path) -> None:
    path = _save(tmp_path / "one.png", _grey(0))
    with pytest.raises(DataError, match=r"image data cannot come from file:PATH"):
        load_image_dataset(f"file:{path}")


def test_the_most_common_picture_side_wins(tmp_path: Path) -> None:
    _save(tmp_path / "a.png", _grey(0, size=(24, 24)))
    _save(tmp_path / "b.png", _grey(0, size=(16, 16)))
    _save(tmp_path / "c.png", _grey(0, size=(40, 16)))  # short side 16
    (tmp_path / "d.png").write_bytes(_png_claiming(20000, 20000))  # unusable: not counted
    assert native_size(f"folder:{tmp_path}") == 16
    ds = load_image_dataset(f"folder:{tmp_path}")
    assert ds.image_size == 16 and len(ds) == 3
