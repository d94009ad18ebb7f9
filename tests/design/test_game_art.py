"""The installed Battle for Wesnoth art (Debian wesnoth-1.16-data, which `make` installs)
read as the ``sprites`` and ``portraits`` sets: what ships is what the sets say they hold."""

from types import ModuleType

import pytest
import torch

from museforge.core.data import get_dataset
from museforge.core.grid import to_pil
from museforge.core.registry import load_all
from museforge.design.palette import team_mask
from museforge.image.data import load_image_dataset


@pytest.fixture(scope="module")
def art() -> ModuleType:
    """museforge.design.sprites, imported after every modality has registered its sets (so
    that the data sets keep the order the docs list them in)."""
    load_all()
    from museforge.design import sprites

    if not sprites.IMAGES.is_dir():
        pytest.skip("Battle for Wesnoth's art is not installed (make installs it)")
    return sprites


def test_the_sprites_are_the_still_poses_of_every_faction(art: ModuleType) -> None:
    stills = art.game_art("units")
    every = art.game_art("units", frames=True)
    assert 1000 < len(stills) < len(every)  # the animation frames are left out
    assert not any(art._FRAME.search(path.stem) for path, _ in stills)
    factions = {faction for _, faction in stills}
    assert {"elves-wood", "drakes", "undead", "orcs"} <= factions and len(factions) >= 15


def test_the_sprite_set_is_rgba_on_transparency_with_team_colour(art: ModuleType) -> None:
    data = load_image_dataset("sprites", image_size=24)
    assert data.images.shape[1:] == (4, 24, 24) and len(data) >= 0.99 * len(art.game_art("units"))
    alpha = data.images[:, 3]
    assert bool((alpha <= -0.99).any()) and bool((alpha >= 0.99).any())
    corners = alpha[:, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert float((corners <= -0.99).float().mean()) > 0.9  # centred on a clear square
    assert data.class_names[int(data.labels[0])] == art.game_art("units")[0][1]
    # The magenta team colour is in many sprites: what recolouring works on.
    with_team = sum(int(team_mask(to_pil(picture)).any()) for picture in data.images[::20])
    assert with_team >= len(data.images[::20]) // 4
    assert "GPL-2.0-or-later" in get_dataset("sprites", "image").licence


def test_the_painted_portraits_are_read_at_any_size(art: ModuleType) -> None:
    portraits = art.game_art("portraits", frames=True)
    assert len(portraits) >= 200
    data = load_image_dataset("portraits", image_size=32, channels=3)
    assert data.images.shape == (len(portraits), 3, 32, 32)
    assert len(data.class_names) >= 10 and data.labels.max() < len(data.class_names)
    assert float(data.images.std()) > 0.2 and torch.isfinite(data.images).all()
