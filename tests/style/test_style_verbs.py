"""Train a tiny style network through a recipe, load it and stylise pictures with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.core.recipe import Recipe, train_from_recipe
from museforge.core.registry import call_verb, get_verb
from museforge.errors import InputError
from museforge.gallery.artwork import write_result
from museforge.style.images import fingerprint, load_rgb, rgb_to_yiq, to_pil

TRAINING = {"style": "pattern-voronoi", "style_size": 48, "crop": 32, "content_size": 64}


@pytest.fixture(scope="module")
def style_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("style-net")
    content = root / "astronaut.png"
    to_pil(load_rgb("astronaut", max_side=64)).save(content)
    recipe = Recipe(
        kind="style-net",
        data=str(content),
        model={"width": 4, "res_blocks": 1, "edge_kernel": 3},
        training=TRAINING,
        run={"steps": 10, "preview_every": 0},
    )
    result = train_from_recipe(recipe, out=root / "model", progress=False)
    assert result.step == 10
    return load_artifact(root / "model")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "street scene.png"
    pixels = np.random.default_rng(3).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def stylise(model, image: str, **settings):
    """The verb as the front ends call it: settings checked, the call recorded."""
    return call_verb(model, "stylise", image=image, **settings)


def test_the_verb_is_offered_as_style_fast() -> None:
    spec = get_verb("style-net", "stylise")
    assert spec.command == "style-fast"
    image = spec.setting("image")
    assert image is not None and image.param.positional and image.param.input == "image"


def test_the_artifact_records_content_and_style(style_model) -> None:
    data = style_model.manifest["data"]
    assert style_model.kind == "style-net"
    assert data["source"].endswith("astronaut.png") and data["n_images"] == 1
    assert data["style"]["fingerprint"] == fingerprint(load_rgb("pattern-voronoi"))
    assert style_model.manifest["recipe"]["training"]["style"] == "pattern-voronoi"
    assert style_model.manifest["recipe"]["settings"]["batch_size"] == 4  # the kind's default


def test_stylise_makes_the_requested_size_with_lineage(style_model, photo, tmp_path) -> None:
    result = stylise(style_model, str(photo), size=60)
    art = result.artworks[0]
    assert art.name == "stylise-street scene" and art.image.size == (60, 40)
    prov = art.provenance
    assert prov["verb"] == "stylise" and prov["model"]["sha256"] == style_model.sha256
    assert prov["lineage"]["content"] == {
        "source": str(photo),
        "fingerprint": fingerprint(load_rgb(str(photo))),
    }
    assert prov["lineage"]["style"] == style_model.manifest["data"]["style"]
    assert prov["args"] == {
        "image": str(photo),
        "size": 60,
        "preserve_colour": False,
        "strength": 1.0,
    }
    assert "settings" not in prov
    paths = write_result(result, tmp_path)
    again = write_result(stylise(style_model, str(photo), size=60), tmp_path / "again")
    assert paths[0].read_bytes() == again[0].read_bytes()


def test_default_size_is_the_picture_own(style_model, photo) -> None:
    art = stylise(style_model, str(photo)).artworks[0]
    assert art.image.size == (45, 30)
    assert stylise(style_model, "chelsea").artworks[0].name == "stylise-chelsea"


def test_strength_and_colour_preservation(style_model, photo) -> None:
    original = np.asarray(Image.open(photo).convert("RGB"), dtype=np.int16)
    unstyled = np.asarray(stylise(style_model, str(photo), strength=0.0).artworks[0].image)
    assert np.abs(unstyled - original).max() <= 1

    def chroma(image: Image.Image):
        pixels = np.asarray(image, dtype=np.float32) / 255
        return rgb_to_yiq(torch.from_numpy(pixels).permute(2, 0, 1)[None])[:, 1:]

    kept = stylise(style_model, str(photo), preserve_colour=True).artworks[0].image
    styled = stylise(style_model, str(photo)).artworks[0].image
    source = chroma(Image.open(photo).convert("RGB"))
    assert (chroma(kept) - source).abs().mean() < (chroma(styled) - source).abs().mean()
    assert (chroma(kept) - source).abs().mean() < 0.03


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"strength": 1.5}, r"^strength must be 0\.\.1 \(got 1\.5\)"),
        ({"strength": -0.1}, r"^strength must be 0\.\.1"),
        ({"size": 8}, r"^size must be 16\.\.2048 \(got 8\)"),
        ({"size": 5000}, r"^size must be 16\.\.2048"),
        ({"size": 20.5}, r"^size must be a whole number"),
    ],
)
def test_bad_settings_are_refused(style_model, photo, settings, message) -> None:
    with pytest.raises(InputError, match=message):
        stylise(style_model, str(photo), **settings)


def test_unknown_pictures_and_missing_styles_are_refused(style_model, tmp_path) -> None:
    with pytest.raises(InputError, match="neither an image file nor a built-in"):
        stylise(style_model, str(tmp_path / "nope.png"))
    recipe = Recipe(kind="style-net", data="photos", run={"steps": 1})
    with pytest.raises(InputError, match="needs a style picture"):
        train_from_recipe(recipe, out=tmp_path / "run", progress=False)
