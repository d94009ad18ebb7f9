"""The text–image encoder as the gallery's embedder: pictures prepared as the encoder saw
its training pictures, the starter found, labels from its captions, and — with the
shapes starter — a search that finds the right picture."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.artifact import save_artifact
from museforge.crossmodal import embedder as emb
from museforge.crossmodal.encoder import EncoderConfig, TextImageEncoder, build_vocab
from museforge.crossmodal.shapes import render
from museforge.errors import InputError
from museforge.gallery import meaning
from museforge.gallery.provenance import save_png
from museforge.gallery.store import Gallery
from tests.crossmodal.conftest import SMALL

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"

# The captioned set the tiny encoder "learnt" from; the red square twice (once with a
# qualifier after ": ", as CLDR names skin tones), so it is the commonest label.
CAPTIONS = {
    "red-square.png": ("a red square", (220, 40, 40)),
    "red-square-2.png": ("a red square: dark", (200, 30, 30)),
    "blue-circle.png": ("a blue circle", (40, 40, 220)),
    "green-star.png": ("a green star", (40, 200, 40)),
    "black-heart.png": ("a black heart", (10, 10, 10)),
    "white-moon.png": ("a white moon", (250, 250, 250)),
    "yellow-sun.png": ("一个黄色的太阳", (240, 210, 30)),
}


def tiny_encoder(models: Path, name: str = "shapes-encoder") -> Path:
    """An untrained encoder at 16 px whose manifest names a captioned folder it learnt from."""
    folder = models.parent / "captioned"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for file, (text, colour) in CAPTIONS.items():
        Image.new("RGB", (16, 16), colour).save(folder / file)
        rows.append(json.dumps({"file_name": file, "text": text}, ensure_ascii=False))
    (folder / "metadata.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    texts = [t for t, _ in CAPTIONS.values()]
    cfg = EncoderConfig(vocab=build_vocab(texts), image_size=16, **SMALL)
    torch.manual_seed(0)
    data = {"source": f"folder:{folder}"}
    return save_artifact(
        models / name, "text-image-encoder", cfg, TextImageEncoder(cfg).state_dict(), data=data
    )


def test_picture_tensor_puts_transparency_on_white_and_pads_to_a_square():
    clear = Image.new("RGBA", (10, 20), (0, 0, 0, 0))
    x = emb.picture_tensor(clear, 16)
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32
    assert torch.allclose(x, torch.ones_like(x))  # not black: the colour under alpha 0
    tall = emb.picture_tensor(Image.new("RGB", (8, 16), (255, 0, 0)), 16)
    assert tall[:, 8, 0].tolist() == [1.0, 1.0, 1.0]  # white beside the picture
    assert tall[:, 8, 8].tolist() == [1.0, -1.0, -1.0]  # the whole picture kept, centred
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    palette.info["transparency"] = 1
    assert torch.allclose(emb.picture_tensor(palette, 4), torch.ones(3, 4, 4))


def test_the_best_starter_is_found_and_its_absence_is_one_line(tmp_path):
    models = tmp_path / "models"
    with pytest.raises(InputError, match="no text–image encoder") as info:
        emb.default_encoder(models)
    assert "\n" not in str(info.value)
    tiny_encoder(models, "shapes-encoder")
    assert emb.default_encoder(models).name == "shapes-encoder"
    tiny_encoder(models, "emoji-encoder")
    assert emb.default_encoder(models).name == "emoji-encoder"


def test_only_a_text_image_encoder_embeds():
    with pytest.raises(InputError, match="not a text-image-encoder"):
        emb.encoder_embedder(REPO_MODELS / "mnist-vae")


def test_vectors_labels_and_the_loaded_encoder_kept(tmp_path):
    path = tiny_encoder(tmp_path / "models")
    first = emb.encoder_embedder(path)
    assert emb.encoder_embedder(path) is first  # loaded once per process
    pictures = [Image.new("RGB", (30, 30), (200, 0, 0)), Image.new("RGBA", (9, 5))]
    vecs = first.images(pictures)
    assert vecs.shape == (2, 16) and torch.allclose(vecs.norm(dim=1), torch.ones(2))
    texts = first.texts(["a red square", "a blue circle", "a ☃"])
    assert texts.shape == (3, 16) and first.texts([]).shape == (0, 16)
    assert first.unknown("a red ☃") == ["☃"]
    english = first.labels("en")
    assert english[0] == "a red square"  # the commonest first, qualifiers left out
    assert sorted(english) == sorted(
        {t.split(": ")[0] for t, _ in CAPTIONS.values() if t.isascii()}
    )
    assert first.labels("zh") == ["一个黄色的太阳"]
    with pytest.raises(InputError, match="not 'fr'"):
        first.labels("fr")
    tiny_encoder(tmp_path / "models")  # written again: other weights, other embedder
    second = emb.encoder_embedder(path)
    assert second is not first
    manifest = (path / "model.json").stat()
    tiny_encoder(tmp_path / "models")  # again, its manifest's time then set back as it was
    os.utime(path / "model.json", ns=(manifest.st_atime_ns, manifest.st_mtime_ns))
    assert emb.encoder_embedder(path) is not second  # the weights file is another one


@pytest.fixture(scope="module")
def shapes_gallery(tmp_path_factory):
    """Large centred shapes drawn at 96 px (the starter reads 32 px); the blue square's
    white ground made transparent, so only compositing on white shows it as on white."""
    root = tmp_path_factory.mktemp("g") / "gallery"
    (root / "shapes").mkdir(parents=True)
    combos = [
        ("red", "circle", "white"),
        ("blue", "square", "white"),
        ("green", "triangle", "black"),
        ("yellow", "star", "blue-gradient"),
    ]
    for k, (colour, shape, ground) in enumerate(combos):
        attrs = {"colour": colour, "shape": shape, "size": "large", "position": "centre"}
        pixels = (render({**attrs, "background": ground}, 96, 0, k) * 255).round()
        img = Image.fromarray(pixels.astype(np.uint8))
        if colour == "blue":
            alpha = np.where(pixels.min(axis=2) > 250, 0, 255).astype(np.uint8)
            rgba = np.dstack([np.where(alpha[..., None] == 0, 0, pixels), alpha])
            img = Image.fromarray(rgba.astype(np.uint8), "RGBA")
        save_png(root / "shapes" / f"{colour}-{shape}.png", img, {"verb": "test"})
    gallery = Gallery(root)
    gallery.sync()
    yield gallery
    gallery.close()


def test_the_shapes_starter_finds_the_picture_the_words_describe(shapes_gallery):
    starter = emb.encoder_embedder(REPO_MODELS / "shapes-encoder")
    for query, best in (
        ("a large red circle in the centre on white", "shapes/red-circle.png"),
        ("黑色背景上中间有一个大绿色三角形", "shapes/green-triangle.png"),
        ("a large yellow star in the centre on a blue gradient", "shapes/yellow-star.png"),
    ):
        ranking = meaning.search(shapes_gallery, starter, query)
        assert ranking.matches[0].record.path == best, (query, ranking.matches)
        assert ranking.matches[0].score > ranking.matches[1].score + 0.05


def test_the_shapes_starter_sees_a_transparent_ground_as_white(shapes_gallery):
    starter = emb.encoder_embedder(REPO_MODELS / "shapes-encoder")
    square = next(r for r in shapes_gallery.list() if r.path == "shapes/blue-square.png")
    grounds = ("white", "black", "a blue gradient", "an orange gradient")
    labels = [f"a large blue square in the centre on {g}" for g in grounds]
    tags = meaning.looks_like(shapes_gallery, starter, square, labels, top=2)
    assert tags[0][0] == labels[0], tags
