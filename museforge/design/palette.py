"""Palette control for pictures and sprites: quantise to N colours or to a given palette,
pixel-exact upscaling, and Wesnoth-style team-colour recolouring.

Team colour: Wesnoth paints the parts of a unit that show its side in a magenta ramp and
recolours them per side. Generated sprites no longer hold the exact ramp, so a pixel
counts as team colour by its hue (magenta, saturated enough); it is recoloured by its
brightness against the ramp's key colour: darker pixels go from the side's colour towards
its dark end, lighter ones towards its light end (the rule of Wesnoth's colour ranges).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from museforge.core.media import one_line, read_image
from museforge.errors import InputError

MAX_COLOURS = 256
MAX_PALETTE_BYTES = 1_000_000  # 256 colours with names fit in a few KB
MAX_SCALE = 16
HAZE = 16  # alpha (of 255) below which a generated pixel counts as transparent
# name: (mid, light end, dark end), as in Wesnoth's data/core/team-colors.cfg
TEAM_COLOURS = {
    "red": ("FF0000", "FFFFFF", "000000"),
    "blue": ("2E419B", "FFFFFF", "0F0F0F"),
    "green": ("62B664", "FFFFFF", "000000"),
    "purple": ("93009D", "FFFFFF", "000000"),
    "black": ("5A5A5A", "FFFFFF", "000000"),
    "brown": ("945027", "FFFFFF", "000000"),
    "orange": ("FF7E00", "FFFFFF", "0F0F0F"),
    "white": ("E1E1E1", "FFFFFF", "1E1E1E"),
    "teal": ("30CBC0", "FFFFFF", "000000"),
    "gold": ("FFF35A", "FFF8D2", "994F13"),
}
# Wesnoth's magenta ramp (its key colour first): these exact colours are team colour even
# where they are too pale for the hue test.
MAGENTA_RAMP = (
    "F49AC1",
    "3F0016",
    "55002A",
    "690039",
    "7B0045",
    "8C0051",
    "9E005D",
    "B10069",
    "C30074",
    "D6007F",
    "EC008C",
    "EE3D96",
    "EF5BA1",
    "F172AC",
    "F287B6",
    "F6ADCD",
    "F8C1D9",
    "FAD5E5",
    "FDE9F1",
)
KEY_BRIGHTNESS = (0xF4 + 0x9A + 0xC1) / 3
MAGENTA_HUES = (285 / 360, 345 / 360)
MIN_SATURATION, MIN_VALUE = 0.35, 0.12
_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_hex(text: str) -> tuple[int, int, int]:
    """``#aabbcc`` or ``aabbcc`` → (r, g, b); an InputError naming the text otherwise."""
    found = _HEX.match(text.strip())
    if not found:
        raise InputError(f"'{text}' is not a colour (write it as #rrggbb)")
    value = found.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def read_palette(spec: str) -> list[tuple[int, int, int]]:
    """A palette from ``#aa0000,#00aa00,…``, a GIMP ``.gpl`` file, a ``.hex`` file (one
    colour a line) or a picture (its distinct colours, at most 256)."""
    path = Path(spec).expanduser()
    if "," in spec or _HEX.match(spec.strip()):
        colours = [parse_hex(part) for part in spec.split(",") if part.strip()]
    elif not path.is_file():
        raise InputError(f"palette '{spec}' is neither colours (#rrggbb,…) nor a file")
    elif path.suffix.lower() in (".gpl", ".hex", ".txt"):
        colours = _palette_file(path)
    else:
        pixels = read_image(path, channels=4, what="palette picture").reshape(-1, 4)
        seen = np.unique((pixels[pixels[:, 3] > 0.5, :3] * 255).round().astype(np.uint8), axis=0)
        if len(seen) > MAX_COLOURS:
            raise InputError(
                f"palette picture '{spec}' has {len(seen):,} colours (at most {MAX_COLOURS})"
            )
        colours = [tuple(int(v) for v in c) for c in seen]
    if not colours:
        raise InputError(f"palette '{spec}' holds no colours")
    if len(colours) > MAX_COLOURS:
        raise InputError(f"palette '{spec}' has {len(colours)} colours (at most {MAX_COLOURS})")
    return colours


def _palette_file(path: Path) -> list[tuple[int, int, int]]:
    try:
        if path.stat().st_size > MAX_PALETTE_BYTES:
            raise ValueError(f"larger than {MAX_PALETTE_BYTES:,} bytes")
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise InputError(one_line(f"palette file '{path}' cannot be read ({err})")) from None
    colours: list[tuple[int, int, int]] = []
    for number, line in enumerate(lines, 1):
        if len(colours) > MAX_COLOURS:  # refused now rather than after the whole file
            raise InputError(one_line(f"palette file '{path}' has over {MAX_COLOURS} colours"))
        text = line.strip()
        if not text or (text.startswith("#") and not _HEX.match(text)) or text == "GIMP Palette":
            continue
        if text.split(":")[0] in ("Name", "Columns"):
            continue
        parts = text.split()
        try:
            if _HEX.match(parts[0]):
                colours.append(parse_hex(parts[0]))
            else:
                r, g, b = (int(v) for v in parts[:3])
                if not all(0 <= v <= 255 for v in (r, g, b)):
                    raise ValueError
                colours.append((r, g, b))
        except (ValueError, IndexError):
            shown = text if len(text) <= 60 else text[:60] + "…"
            raise InputError(
                one_line(f"palette file '{path}' line {number}: '{shown}' is not a colour")
            ) from None
    return colours


def _split(picture: Image.Image) -> tuple[Image.Image, np.ndarray | None]:
    """(RGB picture, alpha as 0..255 uint8 or None)."""
    if picture.mode == "RGBA":
        return picture.convert("RGB"), np.asarray(picture.getchannel("A"))
    return picture.convert("RGB"), None


def _join(rgb: Image.Image, alpha: np.ndarray | None) -> Image.Image:
    if alpha is None:
        return rgb
    out = rgb.convert("RGBA")
    out.putalpha(Image.fromarray(alpha))
    return out


def quantise(
    picture: Image.Image,
    colours: int | None = None,
    palette: list[tuple[int, int, int]] | None = None,
) -> Image.Image:
    """The picture in at most ``colours`` colours (chosen by median cut from its visible
    pixels) or in the colours of ``palette`` (nearest in RGB), without dithering; alpha
    becomes all or nothing, as pixel art has it."""
    if (colours is None) == (palette is None):
        raise ValueError("give colours or a palette")
    if colours is not None and not 2 <= colours <= MAX_COLOURS:
        raise InputError(f"colours must be 2..{MAX_COLOURS} (got {colours})")
    rgb, alpha = _split(picture)
    visible = np.asarray(rgb).reshape(-1, 3)
    if alpha is not None:
        alpha = np.where(alpha >= 128, 255, 0).astype(np.uint8)
        shown = visible[alpha.reshape(-1) > 0]
        visible = shown if len(shown) else visible
    if palette is None:
        strip = Image.fromarray(visible[None])
        chosen = strip.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=0)
        palette = [tuple(c) for c in np.array(chosen.getpalette()[: 3 * colours]).reshape(-1, 3)]
    table = Image.new("P", (1, 1))
    flat = [v for c in palette for v in c]
    table.putpalette(flat + flat[:3] * (256 - len(palette)))  # padding repeats a colour
    mapped = rgb.quantize(palette=table, dither=Image.Dither.NONE).convert("RGB")
    return _join(mapped, alpha)


def clear_haze(picture: Image.Image, floor: int = HAZE) -> Image.Image:
    """An RGBA picture with alpha below ``floor`` (of 255) made fully transparent: a model
    rarely draws exact transparency, and the faint rest shows as a box around a sprite."""
    if picture.mode != "RGBA":
        return picture
    rgb, alpha = _split(picture)
    return _join(rgb, np.where(alpha < floor, 0, alpha).astype(np.uint8))


def upscale(picture: Image.Image, factor: int) -> Image.Image:
    """Every pixel as a ``factor``×``factor`` block (nearest neighbour: pixel-exact)."""
    if not 1 <= factor <= MAX_SCALE:
        raise InputError(f"scale must be 1..{MAX_SCALE} (got {factor})")
    if factor == 1:
        return picture
    size = (picture.width * factor, picture.height * factor)
    return picture.resize(size, Image.Resampling.NEAREST)


def team_mask(picture: Image.Image) -> np.ndarray:
    """Where the picture shows team colour: visible pixels of a saturated magenta hue, or
    of the exact magenta ramp."""
    rgb, alpha = _split(picture)
    hsv = np.asarray(rgb.convert("HSV"), dtype=np.float32) / 255.0
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    mask = (hue >= MAGENTA_HUES[0]) & (hue <= MAGENTA_HUES[1])
    mask &= (sat >= MIN_SATURATION) & (val >= MIN_VALUE)
    packed = np.asarray(rgb, dtype=np.int64) @ np.array([1 << 16, 1 << 8, 1])
    mask |= np.isin(packed, [int(c, 16) for c in MAGENTA_RAMP])
    if alpha is not None:
        mask &= alpha > 0
    return mask


def team_colour(picture: Image.Image, colour: str) -> Image.Image:
    """The picture with its team colour recoloured to ``colour`` (a name of
    :data:`TEAM_COLOURS` or ``#rrggbb``, whose dark and light ends are black and white)."""
    name = colour.strip().lower()
    if name in TEAM_COLOURS:
        mid, light, dark = (np.array(parse_hex(c), np.float32) for c in TEAM_COLOURS[name])
    elif _HEX.match(name):
        mid, light, dark = np.array(parse_hex(name), np.float32), np.full(3, 255.0), np.zeros(3)
    else:
        names = ", ".join(TEAM_COLOURS)
        raise InputError(f"team colour '{colour}' is not one of {names} nor #rrggbb")
    rgb, alpha = _split(picture)
    pixels = np.asarray(rgb, dtype=np.float32).copy()
    mask = team_mask(picture)
    bright = pixels[mask].mean(axis=1, keepdims=True)
    darker = bright <= KEY_BRIGHTNESS
    low = bright / KEY_BRIGHTNESS  # share of the way from the dark end to the mid colour
    high = (255 - bright) / (255 - KEY_BRIGHTNESS)  # share from the light end to the mid
    pixels[mask] = np.where(darker, low * mid + (1 - low) * dark, high * mid + (1 - high) * light)
    out = Image.fromarray(pixels.clip(0, 255).round().astype(np.uint8), "RGB")
    return _join(out, alpha)
