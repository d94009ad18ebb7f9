"""The procedural stand-in for a user's folder: one sub-folder per class, drawn once."""

from PIL import Image

from museforge.bench.shape_folder import CLASSES, write_shape_folder
from museforge.image.data import load_image_dataset


def test_the_folder_has_a_sub_folder_per_class_and_loads_as_a_labelled_set(tmp_path):
    root = write_shape_folder(tmp_path / "shapes", n=12, size=16)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(CLASSES)
    first = next((root / "circle").glob("*.png"))
    assert Image.open(first).size == (16, 16)
    data = load_image_dataset(f"folder:{root}")
    assert len(data) == 12 and data.class_names == tuple(sorted(CLASSES))
    assert data.image_size == 16 and data.channels == 3


def test_the_same_settings_reuse_the_folder_and_others_redraw_it(tmp_path):
    root = write_shape_folder(tmp_path / "shapes", n=8, size=16)
    stamp = next((root / "square").glob("*.png")).stat().st_mtime_ns
    write_shape_folder(root, n=8, size=16)
    assert next((root / "square").glob("*.png")).stat().st_mtime_ns == stamp
    write_shape_folder(root, n=4, size=16)
    assert sum(1 for _ in root.rglob("*.png")) == 4
