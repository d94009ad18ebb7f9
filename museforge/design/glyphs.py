"""``glyphs``: the letters and digits of every font the machine has, one class per
character, for type models (a typeface is a style shared by all its glyphs); and
``glyph-fonts``: the same glyphs with one class per font.

Fonts come from fontconfig (``fc-list``), else from the usual font folders; a font is used
when its character map covers all of :data:`CHARACTERS` (fontTools reads it). Each glyph is
drawn black on white in a fixed em box, on the font's own baseline, so that letters of one
font line up when set side by side, and supersampled for smooth edges.
"""

from __future__ import annotations

import shutil
import string
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from museforge.errors import DataError
from museforge.image.data import register_picture_set

CHARACTERS = string.ascii_uppercase + string.ascii_lowercase + string.digits
GLYPH_SIDE = 32
SUPERSAMPLE = 4
FONT_SUFFIXES = (".ttf", ".otf")
FONT_FOLDERS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
LICENCE = "each font's own (Debian: mostly OFL-1.1, DejaVu/Bitstream Vera, GPL with font exception)"


def font_files() -> list[Path]:
    """Scalable font files the machine has (fontconfig's list, else the font folders)."""
    found: set[Path] = set()
    if shutil.which("fc-list"):
        listed = subprocess.run(
            ["fc-list", "--format", "%{file}\n", ":scalable=true"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
        found = {Path(line) for line in listed.splitlines() if line.strip()}
    if not found:
        found = {p for folder in FONT_FOLDERS if folder.is_dir() for p in folder.rglob("*")}
    return sorted(p for p in found if p.suffix.lower() in FONT_SUFFIXES and p.is_file())


def covering_fonts(characters: str = CHARACTERS) -> list[tuple[Path, str]]:
    """(font file, its full name) for each font whose character map has every one of
    ``characters``, sorted by name; fonts that cannot be read are passed over."""
    from fontTools.ttLib import TTFont, TTLibError

    fonts = {}
    for path in font_files():
        try:
            with TTFont(path, lazy=True) as font:
                cmap = font.getBestCmap() or {}
                name = font["name"].getDebugName(4) or path.stem
        except (TTLibError, OSError, KeyError, AssertionError, ValueError):
            continue  # a damaged or unusual font file: not one to learn from
        if all(ord(c) in cmap for c in characters):
            fonts.setdefault(name, path)  # one file per name (copies in several packages)
    return sorted(((path, name) for name, path in fonts.items()), key=lambda f: f[1])


def draw_glyphs(path: Path, side: int, characters: str = CHARACTERS) -> np.ndarray:
    """The font's ``characters`` as len × side × side floats in 0..1 (1 = paper): each
    centred across, on the baseline at the same height, the em filling the box."""
    big = side * SUPERSAMPLE
    font = ImageFont.truetype(str(path), size=big)
    ascent, descent = font.getmetrics()
    size = max(1, round(big * big / (ascent + descent) * 0.9))  # ascent+descent = 90%
    font = ImageFont.truetype(str(path), size=size)
    ascent, descent = font.getmetrics()
    baseline = (big - (ascent + descent)) / 2 + ascent
    out = np.empty((len(characters), side, side), dtype=np.float32)
    for i, char in enumerate(characters):
        canvas = Image.new("L", (big, big), 255)
        left, _, right, _ = font.getbbox(char, anchor="ls")
        x = (big - (right - left)) / 2 - left
        ImageDraw.Draw(canvas).text((x, baseline), char, font=font, fill=0, anchor="ls")
        small = canvas.resize((side, side), Image.Resampling.BOX)
        out[i] = np.asarray(small, dtype=np.float32) / 255.0
    return out


@lru_cache(maxsize=1)  # both labellings of one size are drawn once
def _drawn(side: int) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Every covering font's glyphs as N×1×side×side in [-1, 1], font by font, and the
    fonts' names."""
    fonts = covering_fonts()
    if not fonts:
        raise DataError(
            "no installed font has all of A-Z, a-z and 0-9 (install fonts-dejavu or "
            "fonts-noto-core; make does)"
        )
    pictures, names = [], []
    for path, name in fonts:
        try:
            pictures.append(draw_glyphs(path, side))
        except OSError:
            continue  # FreeType refused it after all
        names.append(name)
    return torch.from_numpy(np.concatenate(pictures)).unsqueeze(1).mul(2).sub(1), tuple(names)


def read_glyphs(side: int) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """Every covering font's glyphs as N×1×side×side in [-1, 1], labelled by character."""
    x, fonts = _drawn(side)
    return x, torch.arange(len(CHARACTERS)).repeat(len(fonts)), tuple(CHARACTERS)


def read_glyph_fonts(side: int) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """The same glyphs labelled by font (one class per typeface, named as the font names
    itself)."""
    x, fonts = _drawn(side)
    return x, torch.arange(len(fonts)).repeat_interleave(len(CHARACTERS)), fonts


register_picture_set(
    "glyphs",
    read=read_glyphs,
    native=GLYPH_SIDE,
    description="letters A-Z, a-z and digits 0-9 of every installed font that has them all, "
    "32×32 grey, one class per character",
    size="62 glyphs per font (83 fonts with make's Debian packages)",
    licence=LICENCE,
)
register_picture_set(
    "glyph-fonts",
    read=read_glyph_fonts,
    native=GLYPH_SIDE,
    description="the glyphs set labelled by font instead: one class per typeface, for models "
    "told which font to draw in",
    size="62 glyphs per font, one class per font (83 with make's Debian packages)",
    licence=LICENCE,
)
