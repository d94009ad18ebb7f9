"""emoji and clipart: captions from CLDR and from clip-art paths; pictures drawn in colour."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFont

from museforge.crossmodal import clipart, emoji
from museforge.crossmodal.captioned import cached
from museforge.errors import DataError

CLDR_EN = """<ldml><annotations>
<annotation cp="😀">face | grin</annotation>
<annotation cp="😀" type="tts">grinning face</annotation>
<annotation cp="{" type="tts">open curly bracket</annotation>
</annotations></ldml>"""
CLDR_ZH = CLDR_EN.replace("grinning face", "嘿嘿").replace("open curly bracket", "左花括号")


def fake_cldr(root: Path) -> Path:
    for folder in ("annotations", "annotationsDerived"):
        (root / folder).mkdir(parents=True)
        (root / folder / "en.xml").write_text(CLDR_EN if folder == "annotations" else "<ldml/>")
        (root / folder / "zh.xml").write_text(CLDR_ZH if folder == "annotations" else "<ldml/>")
    return root


def test_cldr_short_names_per_language(tmp_path):
    cldr = fake_cldr(tmp_path)
    assert emoji.names("en", cldr) == {"😀": "grinning face", "{": "open curly bracket"}
    assert emoji.names("zh", cldr)["😀"] == "嘿嘿"
    (cldr / "annotations" / "en.xml").write_text("<ldml")
    with pytest.raises(DataError, match="not readable XML"):
        emoji.names("en", cldr)


@pytest.mark.skipif(not emoji.FONT.exists(), reason="fonts-noto-color-emoji is not installed")
def test_emoji_are_drawn_in_colour_and_undrawable_ones_skipped(tmp_path):
    data = emoji.build(32, cldr=fake_cldr(tmp_path))
    assert data.captions == ({"en": "grinning face", "zh": "嘿嘿"},)
    assert data.skipped == ("open curly bracket: the font does not draw it",)
    rgb = (data.images[0] + 1) / 2
    assert rgb[0].mean() > rgb[2].mean() + 0.1  # a yellow face: more red than blue
    assert (
        data.alpha is not None and data.alpha[0, 0, 16, 16] > 0.9 and data.alpha[0, 0, 0, 0] < 0.1
    )
    font = ImageFont.truetype(str(emoji.FONT), emoji.BITMAP_SIZE)
    assert emoji.draw("{", font, 32) is None


def test_missing_packages_are_named(monkeypatch):
    monkeypatch.setattr(emoji, "FONT", Path("/nowhere/font.ttf"))
    with pytest.raises(DataError, match="fonts-noto-color-emoji"):
        emoji.emoji(32)
    monkeypatch.setattr(clipart, "ROOT", Path("/nowhere/png"))
    with pytest.raises(DataError, match="openclipart-png"):
        clipart.clipart(32)


def test_clipart_captions_keep_the_subject_and_drop_rare_author_names():
    assert (
        clipart.caption(Path("animals/bugs/flying_wasp_gerald_g._02.png"))
        == "flying wasp gerald (animals, bugs)"
    )
    assert clipart.caption(Path("science/double_helix_buculei_01.png")) == "double helix (science)"
    assert clipart.caption(Path("shapes/stars/star_82pt05step.png")) == "star (shapes, stars)"
    assert clipart.caption(Path("people/sm_005.png")) == "people (people)"


def test_clipart_build_pads_pictures_and_skips_broken_files(tmp_path):
    Image.new("RGBA", (60, 30), (0, 0, 255, 255)).save(tmp_path / "blue_boat_01.png")
    (tmp_path / "broken_01.png").write_bytes(b"not a png")
    data = clipart.build(16, root=tmp_path)
    assert [c["en"] for c in data.captions] == ["blue boat"]
    assert len(data.skipped) == 1 and "broken_01.png" in data.skipped[0]
    assert np.allclose((data.images[0, :, 0, 8].numpy() + 1) / 2, 1.0, atol=0.05)  # white band


def test_the_cache_gives_back_what_was_built(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return clipart.build(8, root=sample)

    sample = tmp_path / "art"
    sample.mkdir()
    Image.new("RGB", (8, 8), "red").save(sample / "red_sun_01.png")
    first = cached("test-set", build, tmp_path / "cache")
    again = cached("test-set", build, tmp_path / "cache")
    assert len(calls) == 1
    assert again.fingerprint == first.fingerprint and again.captions == first.captions
    (tmp_path / "cache" / "captioned" / "test-set.json").write_text("{")
    cached("test-set", build, tmp_path / "cache")
    assert len(calls) == 2  # a damaged entry is made again
