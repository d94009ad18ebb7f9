"""``sprites`` and ``portraits``: Battle for Wesnoth's unit art (Debian
``wesnoth-1.16-data``) as image data sets, RGBA, labelled by faction.

Sprites are the units' still poses (animation frames, whose names carry a frame number, are
left out: they would mostly repeat their pose); portraits are the painted busts. Each
picture is centred on a transparent square and resampled to the asked side. The magenta
ranges in the sprites are Wesnoth's team colour (see :mod:`museforge.design.palette`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from museforge.core.media import UnusableFile, decode_image, to_channels
from museforge.errors import DataError
from museforge.image.data import register_picture_set

IMAGES = Path("/usr/share/games/wesnoth/1.16/data/core/images")
PACKAGE = "wesnoth-1.16-data"
LICENCE = "GPL-2.0-or-later or CC BY-SA 4.0 (Battle for Wesnoth art, wesnoth.org)"
SPRITE_SIDE, PORTRAIT_SIDE = 72, 400
_FRAME = re.compile(r"-\d+(-|$)")  # "ghost-n-3", "fighter-fly-2-upstroke": a frame


def game_art(folder: str, frames: bool = False, images: Path = IMAGES) -> list[tuple[Path, str]]:
    """(picture, faction) for every PNG under ``images/folder/<faction>/``, sorted, frames
    left out unless ``frames``; a DataError naming the package when the art is missing."""
    root = images / folder
    if not root.is_dir():
        raise DataError(f"'{root}' is missing: install the Debian package {PACKAGE} (make does)")
    found = [
        (path, path.relative_to(root).parts[0])
        for path in sorted(root.rglob("*.png"))
        if len(path.relative_to(root).parts) > 1 and (frames or not _FRAME.search(path.stem))
    ]
    if not found:
        raise DataError(f"'{root}' holds no pictures in faction folders")
    return found


def read_pictures(
    files: list[tuple[Path, str]], side: int
) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """The pictures as N×4×side×side RGBA in [-1, 1] (centred on transparency), their
    faction labels and the faction names; unreadable files are left out."""
    arrays, factions = [], []
    for path, faction in files:
        try:
            picture, _ = decode_image(path, side, pad=True, alpha=True)
        except UnusableFile:
            continue  # a packaged file Pillow cannot read: nothing the user can mend
        arrays.append(to_channels(picture, 4))
        factions.append(faction)
    if not arrays:
        raise DataError(f"none of the {len(files)} pictures of {PACKAGE} could be read")
    names = tuple(sorted(set(factions)))
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous().mul(2).sub(1)
    return x, torch.tensor([names.index(f) for f in factions]), names


register_picture_set(
    "sprites",
    read=lambda side: read_pictures(game_art("units"), side),
    native=SPRITE_SIDE,
    description="Battle for Wesnoth unit sprites, 72×72 RGBA, faction labels (Debian "
    "wesnoth-1.16-data; magenta is the team colour)",
    size="3,021 still poses of 21 factions",
    licence=LICENCE,
)
register_picture_set(
    "portraits",
    read=lambda side: read_pictures(game_art("portraits", frames=True), side),
    native=PORTRAIT_SIDE,
    description="Battle for Wesnoth painted unit portraits, RGBA, faction labels (Debian "
    "wesnoth-1.16-data)",
    size="238 portraits of 15 factions",
    licence=LICENCE,
)
