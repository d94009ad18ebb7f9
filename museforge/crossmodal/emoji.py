"""``emoji``: Noto Color Emoji drawn in colour, captioned in English and Chinese by CLDR.

Pillow draws each emoji at the font's bitmap size (109 px) with its embedded colour; the
picture is cropped to what was drawn, centred on a square, reduced to the set's size and
kept twice: on white (RGB) and its alpha. Captions are the CLDR short names (``type="tts"``)
from ``annotations/{en,zh}.xml`` and, for skin tones, flags and other sequences,
``annotationsDerived/``. Emoji the font cannot draw (empty) and those without both names
are skipped and counted.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from museforge.crossmodal.captioned import CaptionedImages, cached, captioned
from museforge.errors import DataError

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
CLDR = Path("/usr/share/unicode/cldr/common")
BITMAP_SIZE = 109  # the size of the font's colour bitmaps; other sizes are refused by FreeType
LANGUAGES = ("en", "zh")
LICENCE = "OFL-1.1 (Noto Color Emoji); captions Unicode licence (CLDR)"
RECIPE = 1  # bump when the drawing or the captions change


def _needs(path: Path, package: str) -> Path:
    if not path.exists():
        raise DataError(
            f"emoji needs '{path}' from the Debian package {package} (make installs it)"
        )
    return path


def names(language: str, cldr: Path = CLDR) -> dict[str, str]:
    """Emoji (one character or a sequence) → its CLDR short name in ``language``."""
    out: dict[str, str] = {}
    for folder in ("annotations", "annotationsDerived"):
        path = _needs(cldr / folder / f"{language}.xml", "unicode-cldr-core")
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as err:
            raise DataError(f"'{path}' is not readable XML ({err})") from None
        for node in root.iter("annotation"):
            if node.get("type") == "tts" and node.get("cp") and node.text:
                out.setdefault(node.get("cp"), node.text.strip())
    return out


def draw(
    emoji: str, font: ImageFont.FreeTypeFont, size: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The emoji as (H×W×3 on white, H×W alpha), floats in 0..1, or None if nothing is drawn.

    Width is left for sequences the font does not join, so that they can be recognised:
    a picture wider than it is tall by half is several glyphs, not one emoji."""
    canvas = Image.new("RGBA", (BITMAP_SIZE * 3, BITMAP_SIZE * 2), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((0, 0), emoji, font=font, embedded_color=True)
    box = canvas.getbbox()
    if box is None:
        return None
    left, top, right, bottom = box
    if right - left > 1.5 * max(bottom - top, BITMAP_SIZE * 0.5):
        return None
    glyph = canvas.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    small = square.resize((size, size), Image.Resampling.LANCZOS)
    white = Image.alpha_composite(Image.new("RGBA", small.size, (255, 255, 255, 255)), small)
    rgb = np.asarray(white.convert("RGB"), dtype=np.float32) / 255.0
    alpha = np.asarray(small.getchannel("A"), dtype=np.float32) / 255.0
    return rgb, alpha


def build(image_size: int, font_path: Path = FONT, cldr: Path = CLDR) -> CaptionedImages:
    """Every emoji with an English and a Chinese name that the font draws, at ``image_size``."""
    font = ImageFont.truetype(str(_needs(font_path, "fonts-noto-color-emoji")), BITMAP_SIZE)
    by_language = {lang: names(lang, cldr) for lang in LANGUAGES}
    pictures, alphas, captions, skipped = [], [], [], []
    for emoji, english in by_language["en"].items():
        chinese = by_language["zh"].get(emoji)
        if chinese is None:
            skipped.append(f"{english}: no Chinese name")
            continue
        drawn = draw(emoji, font, image_size)
        if drawn is None:
            skipped.append(f"{english}: the font does not draw it")
            continue
        pictures.append(drawn[0])
        alphas.append(drawn[1])
        captions.append({"en": english, "zh": chinese})
    if not pictures:
        raise DataError(f"emoji: '{font_path}' drew none of {len(by_language['en'])} emoji")
    source = f"emoji:{image_size}"
    return captioned(pictures, captions, source, LICENCE, skipped, alphas=alphas)


def emoji(image_size: int = 64, cache_dir: Path | None = None) -> CaptionedImages:
    """The ``emoji`` set at ``image_size`` px, from the cache when font and CLDR are the same."""
    parts = [_needs(FONT, "fonts-noto-color-emoji"), _needs(CLDR, "unicode-cldr-core")]
    stamp = "-".join(str(int(p.stat().st_mtime)) for p in parts)
    key = f"emoji-{image_size}-r{RECIPE}-{stamp}"
    return cached(key, lambda: build(image_size), cache_dir)
