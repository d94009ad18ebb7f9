import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from museforge.core.artifact import load_artifact
from museforge.core.registry import call_verb
from museforge.design.glyphs import CHARACTERS, covering_fonts, draw_glyphs
from museforge.design.typeset import (
    characters_drawn,
    check_text,
    draws_letters,
    potrace_missing,
    set_text,
    specimen,
    trace_svg,
)
from museforge.errors import InputError
from museforge.gallery.store import Gallery, companions
from tests.conftest import train_tiny

needs_fonts = pytest.mark.skipif(not covering_fonts(), reason="no font with A-Z, a-z, 0-9")
needs_potrace = pytest.mark.skipif(potrace_missing() is not None, reason="potrace missing")


def _glyphs(text: str, side: int = 16) -> dict[str, np.ndarray]:
    """Blocks of ink of different widths standing in for letters."""
    out = {}
    for i, char in enumerate(sorted(set(text) - {" ", "\n"})):
        glyph = np.ones((side, side), np.float32)
        glyph[3:13, 5 : 7 + i % 5] = 0
        out[char] = glyph
    return out


def test_set_text_trims_each_glyph_to_its_ink_and_keeps_lines() -> None:
    glyphs = _glyphs("ab c")
    picture = np.asarray(set_text(glyphs, "ab c\nc"))
    assert picture.shape[0] == 32  # two lines of 16
    inked = (picture[:16] < 128).any(axis=0)
    runs = np.flatnonzero(np.diff(inked.astype(int)) == 1)
    assert len(runs) == 3  # three letters, apart
    assert picture.shape[1] < 16 * 4  # trimmed, narrower than four whole boxes
    assert (picture[16:] < 128).any() and not (picture[16:, 20:] < 128).any()


def test_check_text_says_what_the_model_cannot_draw() -> None:
    assert check_text("Ab 1", CHARACTERS) == "Ab 1"
    with pytest.raises(InputError, match=r"draws no 'é'.*A-Z, a-z, 0-9"):
        check_text("café", CHARACTERS)
    with pytest.raises(InputError, match="empty"):
        check_text("  ", CHARACTERS)
    with pytest.raises(InputError, match="at most"):
        check_text("a" * 201, CHARACTERS)
    assert specimen(CHARACTERS).split("\n") == [
        "ABCDEFGHIJKLM",
        "NOPQRSTUVWXYZ",
        "abcdefghijklm",
        "nopqrstuvwxyz",
        "0123456789",
    ]


@needs_potrace
def test_trace_svg_outlines_the_ink() -> None:
    picture = Image.new("L", (20, 10), 255)
    picture.paste(0, (5, 2, 15, 8))
    svg = trace_svg(picture)
    root = ET.fromstring(svg)
    paths = [e for e in root.iter() if e.tag.endswith("path")]
    assert paths and all(p.get("d") for p in paths)
    blank = ET.fromstring(trace_svg(Image.new("L", (8, 8), 255)))
    assert not [e for e in blank.iter() if e.tag.endswith("path")]


@needs_fonts
def test_glyphs_of_one_font_share_a_baseline() -> None:
    path = covering_fonts()[0][0]
    glyphs = draw_glyphs(path, 32, "HIxo")
    bottoms = [np.flatnonzero((g < 0.5).any(axis=1))[-1] for g in glyphs]
    assert max(bottoms) - min(bottoms) <= 1  # H, I, x, o all sit on the line
    tops = [np.flatnonzero((g < 0.5).any(axis=1))[0] for g in glyphs]
    assert tops[0] < tops[2] - 3  # capitals stand taller than x


@pytest.fixture(scope="module")
def letters_vae(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny conditional VAE on a folder with one sub-folder per letter."""
    root = tmp_path_factory.mktemp("letters")
    for i, char in enumerate("ABo"):
        (root / char).mkdir()
        for k in range(8):
            glyph = np.full((16, 16), 255, np.uint8)
            glyph[3 + k % 3 : 13, 3 + 3 * i : 6 + 3 * i + k % 2] = 0
            Image.fromarray(glyph).save(root / char / f"{k}.png")
    return train_tiny("image-vae", root, tmp_path_factory.mktemp("m") / "vae", steps=10)


@needs_potrace
def test_typeset_writes_a_word_and_its_svg(letters_vae: Path, tmp_path: Path) -> None:
    loaded = load_artifact(letters_vae)
    gallery = Gallery(tmp_path / "g")
    (art_id,) = gallery.save(call_verb(loaded, "typeset", text="BoA AB", seed=2), "type")
    record = gallery.get(art_id)
    path = gallery.root / record.path
    assert record.provenance["text"] == "BoA AB" and record.provenance["args"]["seed"] == 2
    ET.parse(companions(path)["svg"])  # a well-formed SVG beside the picture
    assert Image.open(path).height == 16
    again = call_verb(loaded, "typeset", text="BoA AB", seed=2).artworks[0].image
    assert np.array_equal(np.asarray(again), np.asarray(Image.open(path)))  # reproducible


def test_typeset_morph_specimen_and_refusals(letters_vae: Path, gan_model: Path) -> None:
    loaded = load_artifact(letters_vae)
    morph = call_verb(loaded, "typeset", text="AB", seed=1, walk_to=2, frames=3)
    assert len(morph.artworks) == 3 and len(morph.frames) == 4  # there and back
    whole = call_verb(loaded, "typeset", seed=1, svg=False)
    assert whole.artworks[0].provenance["text"] == "AB\no"  # capitals, then the rest
    with pytest.raises(InputError, match="draws no 'Z'"):
        call_verb(loaded, "typeset", text="AZ")
    with pytest.raises(InputError, match="does not draw letters"):
        call_verb(load_artifact(gan_model), "typeset", text="A")


def test_monogram_and_logo_layouts(letters_vae: Path, tmp_path: Path) -> None:
    loaded = load_artifact(letters_vae)
    word = call_verb(loaded, "typeset", text="Bo AB", seed=1, svg=False).artworks[0].image
    ring = call_verb(loaded, "typeset", text="Bo AB", seed=1, layout="monogram", svg=False)
    badge = np.asarray(ring.artworks[0].image)
    assert badge.shape[0] > 2 * word.height and badge.shape[1] >= word.width
    assert (badge[badge.shape[0] // 2 :] < 128).any()  # ring and letters drawn
    mark = tmp_path / "mark.png"
    Image.new("RGBA", (10, 20), (0, 120, 0, 255)).save(mark)
    made = call_verb(loaded, "typeset", text="AB", layout="logo", mark=mark, svg=False)
    picture = made.artworks[0].image
    assert picture.mode == "RGB" and picture.height >= 2 * word.height
    pixels = np.asarray(picture).astype(int)
    green = (pixels[..., 1] > 100) & (pixels[..., 0] < 60)
    assert green[:, : picture.width // 3].any()  # the mark on the left
    assert not green[:, picture.width // 2 :].any()  # and the word beside it
    assert made.artworks[0].provenance["parents"][0]["file"] == "mark.png"
    with pytest.raises(InputError, match="needs a mark"):
        call_verb(loaded, "typeset", text="AB", layout="logo")
    with pytest.raises(InputError, match="needs a mark"):
        call_verb(loaded, "typeset", text="AB", mark=mark)


def test_a_logo_mark_drawn_by_a_picture_model(
    letters_vae: Path, cgan_model: Path, tmp_path: Path
) -> None:
    loaded = load_artifact(letters_vae)

    def logo_of(seed: int) -> tuple[np.ndarray, dict]:
        made = call_verb(
            loaded, "typeset", text="AB", layout="logo", mark=cgan_model, seed=seed, svg=False
        )
        return np.asarray(made.artworks[0].image), made.artworks[0].provenance

    first, provenance = logo_of(1)
    assert np.array_equal(first, logo_of(1)[0])  # the seed draws the mark too
    assert not np.array_equal(first, logo_of(2)[0])
    sha = load_artifact(cgan_model).manifest["weights"]["sha256"]
    assert provenance["mark"] == {"model": str(cgan_model), "model_sha256": sha, "seed": 1}
    assert "parents" not in provenance
    not_a_model = tmp_path / "empty-folder"
    not_a_model.mkdir()
    with pytest.raises(InputError, match="is a folder, not a picture"):
        call_verb(loaded, "typeset", text="AB", layout="logo", mark=not_a_model)


def test_type_models_are_told_by_their_classes() -> None:
    digits = {"data": {"class_names": list("0123456789")}}
    assert characters_drawn(digits) == "0123456789"  # can set numbers
    assert not draws_letters(digits)  # but is no type model (the demo, the Design page)
    assert draws_letters({"data": {"class_names": ["A", "b", "1"]}})
    assert characters_drawn({"data": {"class_names": ["horizontal", "vertical"]}}) == ""
    assert not draws_letters({"data": {}})


@needs_fonts
def test_every_glyph_is_labelled_by_its_character_and_by_its_font() -> None:
    from museforge.image.data import load_image_dataset

    fonts = covering_fonts()
    by_char = load_image_dataset("glyphs", image_size=8)
    by_font = load_image_dataset("glyph-fonts", image_size=8)
    assert torch.equal(by_char.images, by_font.images)  # the same pictures, two labellings
    assert by_char.class_names == tuple(CHARACTERS)
    assert len(by_font.class_names) == len(by_char) // len(CHARACTERS) <= len(fonts)
    first = [i for i in range(len(by_font)) if int(by_font.labels[i]) == 0]
    assert [int(by_char.labels[i]) for i in first] == list(range(len(CHARACTERS)))
    assert by_font.class_names[0] == fonts[0][1]
