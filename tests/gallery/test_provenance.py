import pytest
import torch
from PIL import Image

from museforge.core.latent import encode_latent
from museforge.errors import InputError
from museforge.gallery.provenance import read_png_provenance, save_png


def test_png_carries_provenance(tmp_path):
    prov = {"verb": "sample", "seed": 7, "latent": encode_latent(torch.ones(3))}
    path = save_png(tmp_path / "a.png", Image.new("L", (8, 8), 200), prov)
    assert read_png_provenance(path) == prov
    with Image.open(path) as img:
        assert img.size == (8, 8) and img.getpixel((0, 0)) == 200


def test_files_without_provenance_are_named(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("L", (4, 4)).save(plain)
    with pytest.raises(InputError, match=r"plain.png.*no museforge provenance"):
        read_png_provenance(plain)
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    with pytest.raises(InputError, match=r"fake.png.*not a readable image"):
        read_png_provenance(fake)
    jpeg = tmp_path / "photo.png"
    Image.new("RGB", (4, 4)).save(jpeg, format="JPEG")
    with pytest.raises(InputError, match="not a PNG"):
        read_png_provenance(jpeg)
