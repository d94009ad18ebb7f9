"""Setting type: glyph pictures side by side as words and lines, and tracing the result
into an SVG outline with potrace (Debian ``potrace``)."""

from __future__ import annotations

import io
import shutil
import string
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from museforge.errors import InputError

INK = 0.5  # below this (0 = black) a pixel is ink
TRACE_SCALE = 4  # traced from a smoothly enlarged bitmap: rounder curves
MAX_CHARACTERS = 200
LAYOUTS = ("text", "monogram", "logo")


def _ink_columns(glyph: np.ndarray) -> tuple[int, int] | None:
    """First and last column holding ink, or None for an empty glyph."""
    cols = np.flatnonzero((glyph < INK).any(axis=0))
    return (int(cols[0]), int(cols[-1])) if len(cols) else None


def set_text(glyphs: dict[str, np.ndarray], text: str, tracking: float = 0.08) -> Image.Image:
    """``text`` (lines split at newlines) set from ``glyphs`` (character → side×side, 0..1
    with 1 = paper): each glyph trimmed to its ink plus ``tracking`` of the side on either
    hand, a space a third of the side, lines one side apart. A grey picture."""
    side = next(iter(glyphs.values())).shape[0]
    gap = max(1, round(tracking * side))
    lines = []
    for line in text.split("\n"):
        pieces = []
        for char in line:
            if char == " ":
                pieces.append(np.ones((side, side // 3), np.float32))
                continue
            glyph = glyphs[char]
            span = _ink_columns(glyph)
            left, right = span if span else (side // 3, 2 * side // 3)
            pieces.append(glyph[:, max(0, left - gap) : right + gap + 1])
        lines.append(np.concatenate(pieces, axis=1) if pieces else np.ones((side, 1), np.float32))
    width = max(line.shape[1] for line in lines)
    page = np.ones((side * len(lines), width), np.float32)
    for i, line in enumerate(lines):
        page[i * side : (i + 1) * side, : line.shape[1]] = line
    return Image.fromarray((page.clip(0, 1) * 255).round().astype(np.uint8), "L")


def _ring(diameter: int, width: int) -> Image.Image:
    """A black ring on white, drawn 4× larger and reduced for a smooth edge."""
    big = Image.new("L", (diameter * 4, diameter * 4), 255)
    ImageDraw.Draw(big).ellipse(
        (0, 0, diameter * 4 - 1, diameter * 4 - 1), outline=0, width=width * 4
    )
    return big.resize((diameter, diameter), Image.Resampling.BOX)


def monogram(initials: Image.Image, word: Image.Image) -> Image.Image:
    """A monogram: ``initials`` (set large) inside a ring, ``word`` centred beneath."""
    side = word.height
    letters = initials.resize((initials.width * 2, initials.height * 2), Image.Resampling.BICUBIC)
    diameter = round(max(letters.size) * 1.25)
    badge = _ring(diameter, max(2, side // 10))
    mask = ImageOps.invert(letters)  # ink where the letters are dark
    badge.paste(0, ((diameter - letters.width) // 2, (diameter - letters.height) // 2), mask)
    width = max(diameter, word.width) + side
    page = Image.new("L", (width, diameter + word.height + side), 255)
    page.paste(badge, ((width - diameter) // 2, side // 2))
    page.paste(word, ((width - word.width) // 2, diameter + side // 2))
    return page


def logo(mark: Image.Image, word: Image.Image) -> Image.Image:
    """A logo: ``mark`` (any picture, its transparency on white) two lines tall on the
    left, ``word`` beside it, centred on it. An RGB picture."""
    side = word.height
    height = max(2 * side, word.height)
    mark = mark.convert("RGBA")
    mark = mark.resize(
        (max(1, round(mark.width * height / mark.height)), height), Image.Resampling.LANCZOS
    )
    page = Image.new("RGB", (mark.width + word.width + side, height + side // 2), "white")
    page.paste(mark, (side // 4, side // 4), mark)
    page.paste(
        word.convert("RGB"), (mark.width + side // 2, side // 4 + (height - word.height) // 2)
    )
    return page


def characters_drawn(manifest: dict) -> str:
    """The characters a model draws when its classes (its manifest's
    ``data.class_names``) are single characters ('' otherwise): it can set them."""
    names = manifest.get("data", {}).get("class_names") or []
    single = bool(names) and all(isinstance(n, str) and len(n) == 1 for n in names)
    return "".join(names) if single else ""


def draws_letters(manifest: dict) -> bool:
    """Whether a model is a type model: its classes are single characters, letters among
    them (a digits model such as mnist draws numbers, not type)."""
    return any(c.isalpha() for c in characters_drawn(manifest))


def check_text(text: str, characters: str) -> str:
    """The text to set, or an InputError naming the characters the model cannot draw."""
    if not text.strip():
        raise InputError("the text to set is empty")
    if len(text) > MAX_CHARACTERS:
        raise InputError(f"the text to set has {len(text)} characters (at most {MAX_CHARACTERS})")
    missing = sorted({c for c in text if c not in characters and c not in " \n"})
    if missing:
        shown = " ".join(repr(c) for c in missing[:10])
        raise InputError(f"this model draws no {shown} (it draws {_ranges(characters)})")
    return text


RUNS = {string.ascii_uppercase: "A-Z", string.ascii_lowercase: "a-z", string.digits: "0-9"}


def _ranges(characters: str) -> str:
    """``A-Z, a-z, 0-9`` and any other characters, for messages."""
    parts = [name for run, name in RUNS.items() if all(c in characters for c in run)]
    rest = "".join(c for c in characters if not any(c in run for run in RUNS))
    return ", ".join(parts + ([rest] if rest else []))


def specimen(characters: str) -> str:
    """A type specimen of ``characters``: capitals, small letters, digits, the rest, one
    line each (lines of at most 13)."""
    runs = [[c for c in characters if c in run] for run in RUNS] + [
        [c for c in characters if not any(c in run for run in RUNS)]
    ]
    lines = ["".join(run[i : i + 13]) for run in runs for i in range(0, len(run), 13)]
    return "\n".join(line for line in lines if line)


def potrace_missing() -> str | None:
    """Why SVG tracing is not possible here, or None when potrace is installed."""
    if shutil.which("potrace") is None:
        return "potrace is not installed (Debian package potrace; make installs it): no SVG"
    return None


def trace_svg(picture: Image.Image) -> str:
    """The dark shapes of a grey picture as an SVG of filled outlines (potrace), checked
    to parse as XML (traced from the picture enlarged TRACE_SCALE times: rounder curves)."""
    why = potrace_missing()
    if why:
        raise InputError(why)
    big = picture.convert("L").resize(
        (picture.width * TRACE_SCALE, picture.height * TRACE_SCALE), Image.Resampling.BICUBIC
    )
    bitmap = big.point(lambda v: 255 if v >= 128 else 0).convert("1")
    pbm = io.BytesIO()
    bitmap.save(pbm, format="PPM")  # a bilevel picture is written as PBM
    done = subprocess.run(
        ["potrace", "--svg", "--output", "-", "-"],
        input=pbm.getvalue(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise InputError(f"potrace could not trace the picture ({done.stderr.decode()[:200]})")
    svg = done.stdout.decode("utf-8")
    try:
        ET.fromstring(svg.encode("utf-8"))
    except ET.ParseError as err:
        raise InputError(f"potrace wrote an SVG that does not parse ({err})") from None
    return svg
